package mlflowproxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// uiGetRun is the query MLflow 3.17.2's run page sends (its bundle's GetRun, with the __typename
// Apollo Client adds), as TestUIQueriesAreAdmitted finds it.
func uiGetRun(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../mlflowgraphql/testdata/ui-getrun.graphql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGraphQLAgainstMLflow: with NO_PERMISSIONS by default, the UI's run query through the proxy
// returns the run to a caller with READ on its experiment, and is refused in MLflow's
// PERMISSION_DENIED to one without; the run's model versions are listed only where the caller
// may read their registered model; a mutation and an unknown field are 400 INVALID_PARAMETER_VALUE.
func TestGraphQLAgainstMLflow(t *testing.T) {
	p := newPerms()
	h, _ := enforcedProxyWith(t, realMLflow(t), p, permissions.Policy{Default: permissions.NoPermissions})
	js := http.Header{"Content-Type": {"application/json"}}
	rest := func(method, endpoint string, body any) string {
		t.Helper()
		code, _, out := do(t, h, method, api+endpoint, jsonBody(body), writer, js)
		if code != 200 {
			t.Fatalf("%s: %d %s", endpoint, code, out)
		}
		return strings.ReplaceAll(string(out), " ", "")
	}
	n := time.Now().UnixNano()
	expID := between(rest("POST", "experiments/create", map[string]string{"name": fmt.Sprintf("gql-%d", n)}), `"experiment_id":"`, `"`)
	out := rest("POST", "runs/create", map[string]any{"experiment_id": expID})
	runID := between(out, `"run_id":"`, `"`)
	artifacts := between(out, `"artifact_uri":"`, `"`)
	rest("POST", "runs/log-parameter", map[string]any{"run_id": runID, "key": "alpha", "value": "0.5"})
	model := fmt.Sprintf("gql-model-%d", n)
	rest("POST", "registered-models/create", map[string]any{"name": model})
	p.grant(permissions.Resource{Kind: permissions.RegisteredModel, ID: model}, writer.UserID, permissions.Edit) // the test's owner store is not this one
	rest("POST", "model-versions/create", map[string]any{"name": model, "source": artifacts + "/model", "run_id": runID})

	query := func(t *testing.T, path string, body map[string]any) (int, map[string]any, string) {
		t.Helper()
		code, _, out := do(t, h, "POST", path, jsonBody(body), other, js)
		var v map[string]any
		_ = json.Unmarshal(out, &v)
		return code, v, string(out)
	}
	getRun := map[string]any{"query": uiGetRun(t), "operationName": "GetRun", "variables": map[string]any{"data": map[string]any{"runId": runID}}}

	code, _, out2 := query(t, "/api/mlflow/graphql", getRun)
	if code != 403 || !strings.Contains(out2, `"PERMISSION_DENIED"`) || !strings.Contains(out2, "experiment '"+expID+"'") {
		t.Errorf("without READ: %d %s", code, out2)
	}
	p.grant(permissions.Resource{Kind: permissions.Experiment, ID: expID}, other.UserID, permissions.Read)
	for _, path := range []string{"/api/mlflow/graphql", "/mlflow/graphql", "/graphql"} {
		code, v, out := query(t, path, getRun)
		run, _ := dig(v, "data", "mlflowGetRun", "run").(map[string]any)
		if code != 200 || dig(run, "info", "runUuid") != runID || !strings.Contains(out, `"alpha"`) {
			t.Fatalf("%s with READ: %d %s", path, code, out)
		}
		if mv, _ := run["modelVersions"].([]any); len(mv) != 0 {
			t.Errorf("%s: the run's versions of a model the caller may not read are listed: %v", path, mv)
		}
	}
	p.grant(permissions.Resource{Kind: permissions.RegisteredModel, ID: model}, other.UserID, permissions.Read)
	_, v, out3 := query(t, "/api/mlflow/graphql", getRun)
	if mv, _ := dig(v, "data", "mlflowGetRun", "run", "modelVersions").([]any); len(mv) != 1 {
		t.Errorf("with READ on the model, its version is listed: %s", out3)
	}
	for name, body := range map[string]map[string]any{
		"mutation":      {"query": fmt.Sprintf(`mutation { mlflowSearchRuns(input: {experimentIds: [%q]}) { runs { info { runId } } } }`, expID)},
		"unknown field": {"query": fmt.Sprintf(`{ mlflowGetRun(input: {runId: %q}) { run { secret } } }`, runID)},
		"introspection": {"query": `{ __schema { types { name } } }`},
	} {
		if code, v, out := query(t, "/api/mlflow/graphql", body); code != 400 || v["error_code"] != "INVALID_PARAMETER_VALUE" {
			t.Errorf("%s: %d %s", name, code, out)
		}
	}
	if code, _, out := do(t, h, "GET", "/api/mlflow/graphql?query=%7B__typename%7D", nil, other, nil); code != 405 {
		t.Errorf("GET: %d %s", code, out)
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}
