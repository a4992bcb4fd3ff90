package mlflowproxy_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// perms is an in-memory permission store: owners and grants by resource, with its reads counted.
type perms struct {
	mu     sync.Mutex
	owner  map[permissions.Resource]string
	grants map[permissions.Resource][]permissions.Grant
	facts  int
	err    error
}

func newPerms() *perms {
	return &perms{owner: map[permissions.Resource]string{}, grants: map[permissions.Resource][]permissions.Grant{}}
}

func (p *perms) Facts(_ context.Context, r permissions.Resource) (permissions.Facts, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.facts++
	return permissions.Facts{Owner: p.owner[r], Grants: p.grants[r]}, p.err
}

func (p *perms) ClaimExperimentOwner(_ context.Context, id, userID string, _ time.Time) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := permissions.Resource{Kind: permissions.Experiment, ID: id}
	if p.owner[r] == "" {
		p.owner[r] = userID
	}
	return p.owner[r], nil
}

func (p *perms) SetGrant(_ context.Context, r permissions.Resource, userID string, l permissions.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grants[r] = append(p.grants[r], permissions.Grant{Kind: r.Kind, Target: r.ID, UserID: userID, Level: l})
	return nil
}

func (p *perms) Forget(permissions.Resource) {}

func (p *perms) grant(r permissions.Resource, userID string, l permissions.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grants[r] = []permissions.Grant{{Kind: r.Kind, Target: r.ID, UserID: userID, Level: l}}
}

func (p *perms) reads() int { p.mu.Lock(); defer p.mu.Unlock(); return p.facts }

// countedLookups counts the MLflow reads the resolver makes.
type countedLookups struct {
	mlflowproxy.Lookups
	mu sync.Mutex
	n  int
}

func (c *countedLookups) count() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *countedLookups) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
func (c *countedLookups) GetRun(ctx context.Context, id string) (*mlflow.Run, error) {
	c.count()
	return c.Lookups.GetRun(ctx, id)
}
func (c *countedLookups) GetTraceInfo(ctx context.Context, id string) (*mlflow.TraceInfo, error) {
	c.count()
	return c.Lookups.GetTraceInfo(ctx, id)
}
func (c *countedLookups) GetLoggedModel(ctx context.Context, id string) (*mlflow.LoggedModel, error) {
	c.count()
	return c.Lookups.GetLoggedModel(ctx, id)
}

var other = principal.Principal{UserID: "u-other", KeyID: "k-other", Scopes: []string{"mlflow:write"}}

// enforcedProxy is the proxy for a real MLflow at base with permissions on, default READ.
// permissionsSource is what a test proxy reads permissions from: the fake, or a cache over it.
type permissionsSource = mlflowproxy.Permissions

func enforcedProxy(t testing.TB, base string, p permissionsSource) (http.Handler, *countedLookups) {
	t.Helper()
	return enforcedProxyWith(t, base, p, permissions.Policy{Default: permissions.Read})
}

func enforcedProxyWith(t testing.TB, base string, p permissionsSource, policy permissions.Policy) (http.Handler, *countedLookups) {
	t.Helper()
	cfg := testConfig(t, base, nil)
	creds, err := upstream.LoadCredentials(context.Background(), cfg.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	looks := &countedLookups{Lookups: mlflow.New(cfg.MLflowURL, 10*time.Second, nil)}
	h := mlflowproxy.New(cfg, creds, &owners{}, nil, quietLog()).
		WithPermissions(p, policy, looks)
	return creds.Caller(h), looks
}

const api = "/api/mlflow/api/2.0/mlflow/"

// TestPermissionsAgainstMLflow is the two-user rule on a real MLflow: the creator of an
// experiment owns it; another write key reads it by the default and is refused every write, in
// MLflow's PERMISSION_DENIED naming the level, until granted; EDIT does not delete.
func TestPermissionsAgainstMLflow(t *testing.T) {
	p := newPerms()
	h, _ := enforcedProxy(t, realMLflow(t), p)
	js := http.Header{"Content-Type": {"application/json"}}
	call := func(who principal.Principal, method, endpoint string, body any) (int, string) {
		var b []byte
		if body != nil {
			b = jsonBody(body)
		}
		code, _, out := do(t, h, method, api+endpoint, b, who, js)
		return code, string(out)
	}
	code, out := call(writer, "POST", "experiments/create", map[string]string{"name": fmt.Sprintf("perm-%d", time.Now().UnixNano())})
	if code != 200 {
		t.Fatalf("create experiment: %d %s", code, out)
	}
	expID := between(out, `"experiment_id": "`, `"`)
	if expID == "" {
		expID = between(out, `"experiment_id":"`, `"`)
	}
	exp := permissions.Resource{Kind: permissions.Experiment, ID: expID}
	if p.owner[exp] != writer.UserID {
		t.Fatalf("experiment %s owner %q, want the creator", expID, p.owner[exp])
	}
	code, out = call(writer, "POST", "runs/create", map[string]any{"experiment_id": expID})
	if code != 200 {
		t.Fatalf("owner creates a run: %d %s", code, out)
	}
	runID := between(strings.ReplaceAll(out, " ", ""), `"run_id":"`, `"`)

	refused := func(t *testing.T, code int, out, level string) {
		t.Helper()
		if code != 403 || !strings.Contains(out, `"PERMISSION_DENIED"`) || !strings.Contains(out, "needs "+level+" on experiment '"+expID+"'") {
			t.Errorf("want PERMISSION_DENIED needing %s: %d %s", level, code, out)
		}
	}
	for _, tc := range []struct{ method, endpoint string }{
		{"GET", "experiments/get?experiment_id=" + expID},
		{"GET", "runs/get?run_id=" + runID},
		{"GET", "runs/get?run_uuid=" + runID},
	} {
		if code, out := call(other, tc.method, tc.endpoint, nil); code != 200 {
			t.Errorf("another user reads %s by the default: %d %s", tc.endpoint, code, out)
		}
	}
	writes := []struct {
		endpoint string
		body     map[string]any
		level    string
	}{
		{"runs/set-tag", map[string]any{"run_id": runID, "key": "k", "value": "v"}, "EDIT"},
		{"runs/log-metric", map[string]any{"run_id": runID, "key": "m", "value": 1, "timestamp": 1}, "EDIT"},
		{"experiments/set-experiment-tag", map[string]any{"experiment_id": expID, "key": "k", "value": "v"}, "EDIT"},
		{"runs/create", map[string]any{"experiment_id": expID}, "EDIT"},
		{"runs/delete", map[string]any{"run_id": runID}, "MANAGE"},
		{"experiments/delete", map[string]any{"experiment_id": expID}, "MANAGE"},
	}
	for _, w := range writes {
		code, out := call(other, "POST", w.endpoint, w.body)
		refused(t, code, out, w.level)
	}
	// The JSON name ParseDict accepts names the run too.
	code, out = call(other, "POST", "runs/set-tag", map[string]any{"runId": runID, "key": "k", "value": "v"})
	refused(t, code, out, "EDIT")
	p.grant(exp, other.UserID, permissions.Edit)
	for _, w := range writes {
		code, out := call(other, "POST", w.endpoint, w.body)
		if w.level == "EDIT" && code != 200 {
			t.Errorf("%s after an EDIT grant: %d %s", w.endpoint, code, out)
		}
		if w.level == "MANAGE" {
			refused(t, code, out, "MANAGE")
		}
	}
	p.grant(exp, other.UserID, permissions.NoPermissions)
	if code, out := call(other, "POST", "runs/set-tag", map[string]any{"run_id": runID, "key": "k", "value": "v"}); code != 403 {
		t.Errorf("after the grant is removed: %d %s", code, out)
	}
	// An id MLflow does not know is MLflow's to answer.
	if code, out := call(other, "POST", "runs/set-tag", map[string]any{"run_id": "0123456789abcdef0123456789abcdef", "key": "k", "value": "v"}); code != 404 {
		t.Errorf("unknown run: %d %s", code, out)
	}
	// Both spellings of one field: MLflow refuses them, and so does the proxy, before MLflow.
	if code, out := call(other, "POST", "runs/set-tag", map[string]any{"run_id": runID, "runId": "x", "key": "k", "value": "v"}); code != 400 {
		t.Errorf("both spellings: %d %s", code, out)
	}
	// The admin manages everything.
	if code, out := call(admin, "POST", "runs/delete", map[string]any{"run_id": runID}); code != 200 {
		t.Errorf("admin deletes: %d %s", code, out)
	}
}

// TestRegisteredModelPermissions: versions and aliases are their registered model's.
func TestRegisteredModelPermissions(t *testing.T) {
	p := newPerms()
	h, _ := enforcedProxy(t, realMLflow(t), p)
	js := http.Header{"Content-Type": {"application/json"}}
	name := fmt.Sprintf("PermModel-%d", time.Now().UnixNano())
	model := permissions.Resource{Kind: permissions.RegisteredModel, ID: name}
	p.owner[model] = writer.UserID // regstore's OWNER# item, claimed on create (owners.go)
	post := func(who principal.Principal, endpoint string, body any) (int, string) {
		code, _, out := do(t, h, "POST", api+endpoint, jsonBody(body), who, js)
		return code, string(out)
	}
	if code, out := post(writer, "registered-models/create", map[string]string{"name": name}); code != 200 {
		t.Fatalf("create: %d %s", code, out)
	}
	if code, out := post(writer, "model-versions/create", map[string]string{"name": name, "source": "s3://b/m"}); code != 200 {
		t.Fatalf("owner's version: %d %s", code, out)
	}
	for _, w := range []struct {
		endpoint string
		body     map[string]string
	}{
		{"model-versions/create", map[string]string{"name": name, "source": "s3://b/other"}},
		{"registered-models/alias", map[string]string{"name": name, "alias": "prod", "version": "1"}},
		{"model-versions/set-tag", map[string]string{"name": name, "version": "1", "key": "hokusai.status", "value": "x"}},
		{"registered-models/set-tag", map[string]string{"name": name, "key": "k", "value": "v"}},
	} {
		code, out := post(other, w.endpoint, w.body)
		if code != 403 || !strings.Contains(out, "needs EDIT on registered model '"+name+"'") {
			t.Errorf("%s by another user: %d %s", w.endpoint, code, out)
		}
	}
	code, _, out := do(t, h, "GET", api+"registered-models/get?name="+name, nil, other, nil)
	if code != 200 {
		t.Errorf("read by the default: %d %s", code, out)
	}
	p.grant(model, other.UserID, permissions.Edit)
	if code, out := post(other, "registered-models/alias", map[string]string{"name": name, "alias": "prod", "version": "1"}); code != 200 {
		t.Errorf("alias after EDIT: %d %s", code, out)
	}
}

// TestPermissionCheckCost: an uncached check costs one store read and one MLflow read; the next
// one on the same run costs the store read (cached by permstore) and no MLflow read.
func TestPermissionCheckCost(t *testing.T) {
	p := newPerms()
	h, looks := enforcedProxy(t, realMLflow(t), p)
	js := http.Header{"Content-Type": {"application/json"}}
	code, _, out := do(t, h, "POST", api+"experiments/create", jsonBody(map[string]string{"name": fmt.Sprintf("cost-%d", time.Now().UnixNano())}), writer, js)
	if code != 200 {
		t.Fatal(code, string(out))
	}
	expID := between(strings.ReplaceAll(string(out), " ", ""), `"experiment_id":"`, `"`)
	code, _, out = do(t, h, "POST", api+"runs/create", jsonBody(map[string]string{"experiment_id": expID}), writer, js)
	if code != 200 {
		t.Fatal(code, string(out))
	}
	runID := between(strings.ReplaceAll(string(out), " ", ""), `"run_id":"`, `"`)
	f0, l0 := p.reads(), looks.calls()
	for i := range 3 {
		code, _, out := do(t, h, "GET", api+"runs/get?run_id="+runID, nil, other, nil)
		if code != 200 {
			t.Fatal(code, string(out))
		}
		if f, l := p.reads()-f0, looks.calls()-l0; f != i+1 || l != 1 {
			t.Errorf("after %d checks: %d store reads, %d MLflow reads; want %d and 1", i+1, f, l, i+1)
		}
	}
}

// TestPermissionStoreFailureRefuses: no permission answer, no call.
func TestPermissionStoreFailureRefuses(t *testing.T) {
	p := newPerms()
	p.err = fmt.Errorf("table unreachable")
	h, _ := enforcedProxy(t, realMLflow(t), p)
	code, _, out := do(t, h, "GET", api+"experiments/get?experiment_id=0", nil, other, nil)
	if code != 503 || !strings.Contains(string(out), "TEMPORARILY_UNAVAILABLE") || strings.Contains(string(out), "unreachable") {
		t.Errorf("%d %s", code, out)
	}
}

func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}

// A registered model whose name differs from an existing one only in case is the same model to
// the gateway (owner and grant items fold names), though MLflow on a case-sensitive database keeps
// both: creating it would claim the existing model's owner item. It is refused, and MLflow holds
// no second model.
func TestCreatingACaseVariantOfAModelIsRefused(t *testing.T) {
	base := realMLflow(t)
	h, _ := enforcedProxy(t, base, newPerms())
	name := fmt.Sprintf("CaseModel-%d", time.Now().UnixNano())
	js := http.Header{"Content-Type": {"application/json"}}
	// The model predates the registry: made directly in MLflow, nobody owns it.
	if code, _, out := (client{base}).call(t, "POST", "/api/2.0/mlflow/registered-models/create", jsonBody(map[string]string{"name": name}), js); code != 200 {
		t.Fatalf("create in MLflow: %d %s", code, out)
	}
	variant := strings.ToLower(name)
	code, _, out := do(t, h, "POST", api+"registered-models/create", jsonBody(map[string]string{"name": variant}), writer, js)
	if code != 400 || !strings.Contains(string(out), "RESOURCE_ALREADY_EXISTS") {
		t.Errorf("create %q beside %q: %d %s", variant, name, code, out)
	}
	if code, _, _ := (client{base}).call(t, "GET", "/api/2.0/mlflow/registered-models/get?name="+variant, nil, nil); code != 404 {
		t.Errorf("MLflow holds %q: %d", variant, code)
	}
	// The exact name is MLflow's to refuse, as it does (RESOURCE_ALREADY_EXISTS), and a new name passes.
	if code, _, out := do(t, h, "POST", api+"registered-models/create", jsonBody(map[string]string{"name": name + "-new"}), writer, js); code != 200 {
		t.Errorf("a new name: %d %s", code, out)
	}
}
