package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
	"github.com/hokusai-protocol/registry-gateway/infra/stack"
)

// deployedModel synthesizes env's stack exactly as `cdk deploy` would and reads it with the same
// parser the harness uses.
func deployedModel(t *testing.T, env string) *template.Model {
	t.Helper()
	path := synthTemplate(t, env, nil)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := template.Parse(raw, filepath.Dir(path), template.Options{StackName: stack.StackName(env), EndpointURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("parse the %s template: %v", env, err)
	}
	return m
}

// shape reduces a model to what must be identical between environments: names of resources carry
// the environment and values differ, but routes, authorizers, gateway responses, the functions'
// variables, tables, rules, schedules and queues may not.
func shape(m *template.Model) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	fnName := func(id string) string {
		if f := m.Functions[id]; f != nil {
			return f.Name
		}
		return id
	}
	for _, r := range m.API.Routes {
		az := ""
		if r.Authorizer != nil {
			az = fmt.Sprintf("%s/%s/%v", r.Authorizer.Type, fnName(r.Authorizer.Function), r.Authorizer.IdentitySources)
		}
		add("route %s %s auth=%s %s integration=%s fn=%s stream=%v timeout=%s mock=%v",
			r.Method, r.Path, r.AuthorizationType, az, r.Integration.Type, fnName(r.Integration.Function),
			r.Integration.Stream, r.Integration.Timeout, r.Integration.Mock)
	}
	for typ, gr := range m.API.GatewayResponses {
		add("gateway response %s %d %v %v", typ, gr.Status, gr.Headers, gr.Templates)
	}
	add("binary media types %v", m.API.BinaryMediaTypes)
	for _, f := range m.Functions {
		var vars []string
		for k := range f.Env {
			vars = append(vars, k)
		}
		sort.Strings(vars)
		add("function %s timeout=%s memory=%d env=%v", f.Name, f.Timeout, f.MemoryMB, vars)
	}
	for _, tb := range m.Tables {
		add("table %s keys=%v attrs=%v gsis=%v ttl=%s", tb.LogicalID, tb.KeySchema, tb.AttributeDefinitions, tb.GlobalSecondaryIndexes, tb.TTLAttribute)
	}
	for _, r := range m.Rules {
		pattern, _ := json.Marshal(r.EventPattern)
		var targets []string
		for _, tg := range r.Targets {
			targets = append(targets, fmt.Sprintf("%s:%s:%s", tg.ID, fnName(tg.Function), tg.Queue))
		}
		add("rule %s schedule=%q pattern=%s enabled=%v targets=%v", r.LogicalID, r.Schedule, pattern, r.Enabled, targets)
	}
	for _, q := range m.Queues {
		add("queue %s fifo=%v visibility=%s dlq=%s max=%d", q.LogicalID, q.FIFO, q.VisibilityTimeout, q.DeadLetterQueue, q.MaxReceiveCount)
	}
	for _, e := range m.EventSourceMappings {
		add("esm %s → %s batch=%d partial=%v", e.Queue, fnName(e.Function), e.BatchSize, e.ReportBatchItemFailures)
	}
	add("buses %d secrets %d", len(m.Buses), len(m.Secrets))
	sort.Strings(out)
	return out
}

// The harness runs what the deployed stack defines: the model it serves equals, in every way
// that matters, the model of the template `cdk deploy -c env=dev` would deploy.
func TestLocalMatchesDeployed(t *testing.T) {
	local, deployed := shape(h.Model), shape(deployedModel(t, "dev"))
	if !slices.Equal(local, deployed) {
		for _, l := range local {
			if !slices.Contains(deployed, l) {
				t.Errorf("only local:    %s", l)
			}
		}
		for _, d := range deployed {
			if !slices.Contains(local, d) {
				t.Errorf("only deployed: %s", d)
			}
		}
	}
	if len(h.Model.API.Routes) == 0 || len(h.Model.Functions) == 0 || len(h.Model.Tables) == 0 {
		t.Fatalf("the harness model is empty: %d routes, %d functions, %d tables",
			len(h.Model.API.Routes), len(h.Model.Functions), len(h.Model.Tables))
	}
}

// Every route of the template is served: none falls through to the unknown-route 404.
func TestEveryTemplateRouteIsServed(t *testing.T) {
	for _, r := range h.Model.API.Routes {
		method := r.Method
		if method == "ANY" {
			method = http.MethodGet
		}
		path := r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				path = strings.Replace(path, seg, "x", 1)
			}
		}
		res, b := call(t, method, path, nil, nil)
		if res.StatusCode == 404 && strings.Contains(string(b), `"error":"NOT_FOUND"`) && strings.Contains(string(b), `"request_id"`) {
			t.Errorf("%s %s (route %s %s) is not served: %s", method, path, r.Method, r.Path, b)
		}
	}
}

// Tables exist in moto exactly as the template declares them.
func TestTablesProvisioned(t *testing.T) {
	for _, tb := range h.Model.Tables {
		if !slices.Contains(listTables(t), tb.Name) {
			t.Errorf("table %s (%s) not in moto", tb.Name, tb.LogicalID)
		}
	}
}
