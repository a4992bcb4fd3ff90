package permissionsapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/permissionsapi"
)

// memStore is the permission store in memory: owners by resource, grants by (user, kind, target).
type memStore struct {
	mu     sync.Mutex
	owners map[permissions.Resource]string
	grants []permissions.Grant
	fail   error
	writes int
}

func (s *memStore) Facts(_ context.Context, r permissions.Resource) (permissions.Facts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return permissions.Facts{}, s.fail
	}
	f := permissions.Facts{Owner: s.owners[permissions.Resource{Kind: r.Kind, ID: permissions.FoldName(r.ID)}]}
	for _, g := range s.grants {
		if g.Kind == r.Kind && (g.Pattern || permissions.FoldName(g.Target) == permissions.FoldName(r.ID)) {
			f.Grants = append(f.Grants, g)
		}
	}
	return f, nil
}

func (s *memStore) SetGrant(ctx context.Context, r permissions.Resource, user string, l permissions.Level) error {
	return s.set(permissions.Grant{Kind: r.Kind, Target: r.ID, UserID: user, Level: l})
}

func (s *memStore) SetPatternGrant(ctx context.Context, p permissions.Pattern, user string, l permissions.Level) error {
	return s.set(permissions.Grant{Kind: p.Kind, Target: p.Glob, Pattern: true, UserID: user, Level: l})
}

func (s *memStore) DeleteGrant(ctx context.Context, r permissions.Resource, user string) error {
	return s.del(permissions.Grant{Kind: r.Kind, Target: r.ID, UserID: user})
}

func (s *memStore) DeletePatternGrant(ctx context.Context, p permissions.Pattern, user string) error {
	return s.del(permissions.Grant{Kind: p.Kind, Target: p.Glob, Pattern: true, UserID: user})
}

func (s *memStore) set(g permissions.Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	s.grants = slices.DeleteFunc(s.grants, func(h permissions.Grant) bool { return same(g, h) })
	s.grants = append(s.grants, g)
	return nil
}

func (s *memStore) del(g permissions.Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	n := len(s.grants)
	s.grants = slices.DeleteFunc(s.grants, func(h permissions.Grant) bool { return same(g, h) })
	if len(s.grants) == n {
		return permstore.ErrNotFound
	}
	return nil
}

func (s *memStore) GrantsOfUser(_ context.Context, user string) ([]permissions.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []permissions.Grant
	for _, g := range s.grants {
		if g.UserID == user {
			out = append(out, g)
		}
	}
	return out, nil
}

func same(a, b permissions.Grant) bool {
	return a.UserID == b.UserID && a.Kind == b.Kind && a.Pattern == b.Pattern && permissions.FoldName(a.Target) == permissions.FoldName(b.Target)
}

func (s *memStore) level(user string, kind permissions.Kind, target string) (permissions.Level, bool) {
	for _, g := range s.grants {
		if g.UserID == user && g.Kind == kind && g.Target == target {
			return g.Level, true
		}
	}
	return 0, false
}

// The cast: alice owns experiment 1 and model "fraud"; bob holds MANAGE on experiment 2 (unowned)
// and EDIT on "fraud"; carol holds nothing; root is an admin.
var (
	alice = principal.Principal{UserID: "alice", KeyID: "k-a", Scopes: []string{"model:write"}}
	bob   = principal.Principal{UserID: "bob", KeyID: "k-b", Scopes: []string{"model:write"}}
	carol = principal.Principal{UserID: "carol", KeyID: "k-c", Scopes: []string{"model:read"}}
	root  = principal.Principal{UserID: "root", KeyID: "k-r", Scopes: []string{"admin"}}
	boss  = principal.Principal{UserID: "boss", KeyID: "k-boss", Email: "Boss@Hokus.ai", Scopes: []string{"model:read"}}
	// Keys narrowed to the models named ci-* (POST /api/keys with resource_patterns).
	ciOnly  = []permissions.Pattern{{Kind: permissions.RegisteredModel, Glob: "ci-*"}}
	rootCI  = principal.Principal{UserID: "root", KeyID: "k-rci", Scopes: []string{"admin"}, Patterns: ciOnly}
	aliceCI = principal.Principal{UserID: "alice", KeyID: "k-aci", Scopes: []string{"model:write"}, Patterns: ciOnly}
)

func newStore() *memStore {
	return &memStore{
		owners: map[permissions.Resource]string{
			{Kind: permissions.Experiment, ID: "1"}:                                "alice",
			{Kind: permissions.RegisteredModel, ID: permissions.FoldName("fraud")}: "alice",
		},
		grants: []permissions.Grant{
			{Kind: permissions.Experiment, Target: "2", UserID: "bob", Level: permissions.Manage},
			{Kind: permissions.RegisteredModel, Target: "fraud", UserID: "bob", Level: permissions.Edit},
		},
	}
}

// The store the proxy wires in satisfies the handler's interface.
var _ permissionsapi.Store = (*permstore.Store)(nil)

func newHandler(s *memStore) *permissionsapi.Handler {
	return permissionsapi.New(s, permissions.Policy{Default: permissions.Read}, []string{"boss@hokus.ai"})
}

// call serves one request of the named operation as the Lambda adapter builds it: query parsed by
// API Gateway, the body as sent, the caller in the authorizer context.
func call(t *testing.T, h *permissionsapi.Handler, op string, p *principal.Principal, method, query string, body string) (int, map[string]any) {
	t.Helper()
	r := requestAs(t, p, method, query, body)
	hnd, ok := h.Operation(op)
	if !ok {
		t.Fatalf("no operation %s", op)
	}
	rec := httptest.NewRecorder()
	hnd.ServeHTTP(rec, r)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", op, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: %v: %s", op, err, rec.Body.Bytes())
	}
	return rec.Code, out
}

// requestAs is the request the Lambda adapter builds for a call by p.
func requestAs(t testing.TB, p *principal.Principal, method, query, body string) *http.Request {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayProxyRequest{HTTPMethod: method, Path: "/api/mlflow/x", MultiValueQueryStringParameters: q,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-7"}}
	if p != nil {
		ev.RequestContext.Authorizer = p.Context()
	}
	if body != "" {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(body)), true
	}
	r, err := apigw.NewRequest(context.Background(), ev, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func js(kv ...string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestGrantAndRevoke(t *testing.T) {
	exp, model := string(permissions.Experiment), string(permissions.RegisteredModel)
	for _, tc := range []struct {
		name   string
		caller principal.Principal
		op     string
		body   string
		status int
		code   string // error_code, "" for success
		check  func(t *testing.T, s *memStore)
	}{
		{name: "owner grants on her experiment", caller: alice, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "1", "permission", "EDIT"), status: 200,
			check: wantLevel("carol", permissions.Experiment, "1", permissions.Edit)},
		{name: "owner grants on her model, name folded", caller: alice, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", model, "resource_id", "FRAUD", "permission", "READ"), status: 200,
			check: wantLevel("carol", permissions.RegisteredModel, "FRAUD", permissions.Read)},
		{name: "a MANAGE grant manages", caller: bob, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "2", "permission", "USE"), status: 200,
			check: wantLevel("carol", permissions.Experiment, "2", permissions.Use)},
		{name: "an EDIT grant does not manage", caller: bob, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", model, "resource_id", "fraud", "permission", "EDIT"), status: 403, code: "PERMISSION_DENIED"},
		{name: "the default READ does not manage", caller: carol, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "1", "permission", "MANAGE"), status: 403, code: "PERMISSION_DENIED"},
		{name: "an unowned resource is the admins'", caller: alice, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "99", "permission", "READ"), status: 403, code: "PERMISSION_DENIED"},
		{name: "an admin grants on anything", caller: root, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "99", "permission", "NO_PERMISSIONS"), status: 200,
			check: wantLevel("carol", permissions.Experiment, "99", permissions.NoPermissions)},
		{name: "an ADMIN_EMAILS address is an admin", caller: boss, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "99", "permission", "READ"), status: 200},
		{name: "a pattern grant needs an admin, even from the owner", caller: alice, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", model, "resource_id", "fraud*", "permission", "READ"), status: 403, code: "PERMISSION_DENIED"},
		{name: "an admin grants on a pattern", caller: root, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", model, "resource_id", "hokusai-XRAY*", "permission", "EDIT"), status: 200,
			check: func(t *testing.T, s *memStore) {
				i := slices.IndexFunc(s.grants, func(g permissions.Grant) bool { return g.Target == "hokusai-XRAY*" })
				if i < 0 || !s.grants[i].Pattern || s.grants[i].Level != permissions.Edit {
					t.Errorf("pattern grant not stored as one: %+v", s.grants)
				}
			}},
		{name: "an admin's narrowed key grants on no pattern", caller: rootCI, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", model, "resource_id", "ci-*", "permission", "EDIT"), status: 403, code: "PERMISSION_DENIED"},
		{name: "an admin's narrowed key manages nothing outside its patterns", caller: rootCI, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "99", "permission", "READ"), status: 403, code: "PERMISSION_DENIED"},
		{name: "an admin's narrowed key manages what its patterns name", caller: rootCI, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", model, "resource_id", "CI-build", "permission", "EDIT"), status: 200,
			check: wantLevel("carol", permissions.RegisteredModel, "CI-build", permissions.Edit)},
		{name: "an owner's narrowed key does not manage her model outside its patterns", caller: aliceCI, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", model, "resource_id", "fraud", "permission", "READ"), status: 403, code: "PERMISSION_DENIED"},
		{name: "nor revoke on it", caller: aliceCI, op: "RevokeUserPermission",
			body: js("username", "bob", "resource_type", model, "resource_id", "fraud"), status: 403, code: "PERMISSION_DENIED",
			check: wantLevel("bob", permissions.RegisteredModel, "fraud", permissions.Edit)},
		{name: "a second grant is MLflow's RESOURCE_ALREADY_EXISTS", caller: alice, op: "GrantUserPermission",
			body: js("username", "bob", "resource_type", model, "resource_id", "fraud", "permission", "MANAGE"), status: 400, code: "RESOURCE_ALREADY_EXISTS",
			check: wantLevel("bob", permissions.RegisteredModel, "fraud", permissions.Edit)},
		{name: "owner revokes", caller: alice, op: "RevokeUserPermission",
			body: js("username", "bob", "resource_type", model, "resource_id", "Fraud"), status: 200,
			check: wantNone("bob", permissions.RegisteredModel, "fraud")},
		{name: "revoking nothing is RESOURCE_DOES_NOT_EXIST", caller: alice, op: "RevokeUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "1"), status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
		{name: "a non-manager may not revoke", caller: carol, op: "RevokeUserPermission",
			body: js("username", "bob", "resource_type", exp, "resource_id", "2"), status: 403, code: "PERMISSION_DENIED",
			check: wantLevel("bob", permissions.Experiment, "2", permissions.Manage)},
		{name: "a level that is not MLflow's", caller: alice, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "1", "permission", "ADMIN"), status: 400, code: "INVALID_PARAMETER_VALUE"},
		{name: "MLflow's names exactly", caller: alice, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "1", "permission", "edit"), status: 400, code: "INVALID_PARAMETER_VALUE"},
		{name: "DENY is MLflow 3's, not the gateway's", caller: alice, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "1", "permission", "DENY"), status: 400, code: "INVALID_PARAMETER_VALUE"},
		{name: "a resource type the gateway does not keep", caller: root, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", "prompt", "resource_id", "p", "permission", "READ"), status: 400, code: "INVALID_PARAMETER_VALUE"},
		{name: "an experiment id is digits", caller: root, op: "GrantUserPermission",
			body: js("username", "carol", "resource_type", exp, "resource_id", "abc", "permission", "READ"), status: 400, code: "INVALID_PARAMETER_VALUE"},

		// MLflow 2's API.
		{name: "legacy create", caller: alice, op: "CreateExperimentPermission",
			body: js("experiment_id", "1", "username", "carol", "permission", "READ"), status: 200,
			check: wantLevel("carol", permissions.Experiment, "1", permissions.Read)},
		{name: "legacy create twice", caller: alice, op: "CreateRegisteredModelPermission",
			body: js("name", "fraud", "username", "bob", "permission", "READ"), status: 400, code: "RESOURCE_ALREADY_EXISTS"},
		{name: "legacy update", caller: alice, op: "UpdateRegisteredModelPermission",
			body: js("name", "fraud", "username", "bob", "permission", "MANAGE"), status: 200,
			check: wantLevel("bob", permissions.RegisteredModel, "fraud", permissions.Manage)},
		{name: "legacy update of nothing", caller: alice, op: "UpdateExperimentPermission",
			body: js("experiment_id", "1", "username", "carol", "permission", "EDIT"), status: 404, code: "RESOURCE_DOES_NOT_EXIST",
			check: wantNone("carol", permissions.Experiment, "1")},
		{name: "legacy delete", caller: root, op: "DeleteExperimentPermission",
			body: js("experiment_id", "2", "username", "bob"), status: 200,
			check: wantNone("bob", permissions.Experiment, "2")},
		{name: "legacy delete by a non-manager", caller: bob, op: "DeleteRegisteredModelPermission",
			body: js("name", "fraud", "username", "bob"), status: 403, code: "PERMISSION_DENIED",
			check: wantLevel("bob", permissions.RegisteredModel, "fraud", permissions.Edit)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			method := http.MethodPost
			switch {
			case strings.HasPrefix(tc.op, "Update"):
				method = http.MethodPatch
			case strings.HasPrefix(tc.op, "Delete"):
				method = http.MethodDelete
			}
			before := slices.Clone(s.grants)
			status, out := call(t, newHandler(s), tc.op, &tc.caller, method, "", tc.body)
			if status != tc.status || (tc.code != "") != (out["error_code"] != nil) || tc.code != "" && out["error_code"] != tc.code {
				t.Fatalf("%d %v, want %d %s", status, out, tc.status, tc.code)
			}
			if tc.code != "" {
				if msg, _ := out["message"].(string); msg == "" {
					t.Errorf("no message: %v", out)
				}
				if !slices.Equal(before, s.grants) {
					t.Errorf("a refused call changed the grants: %+v -> %+v", before, s.grants)
				}
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func wantLevel(user string, kind permissions.Kind, target string, want permissions.Level) func(*testing.T, *memStore) {
	return func(t *testing.T, s *memStore) {
		t.Helper()
		if got, ok := s.level(user, kind, target); !ok || got != want {
			t.Errorf("%s on %s %s: %v %v, want %v", user, kind, target, got, ok, want)
		}
	}
}

func wantNone(user string, kind permissions.Kind, target string) func(*testing.T, *memStore) {
	return func(t *testing.T, s *memStore) {
		t.Helper()
		for _, g := range s.grants {
			if g.UserID == user && g.Kind == kind && permissions.FoldName(g.Target) == permissions.FoldName(target) {
				t.Errorf("%s still holds %+v", user, g)
			}
		}
	}
}

func TestAnswerShapes(t *testing.T) {
	s := newStore()
	h := newHandler(s)
	check := func(name string, status int, out map[string]any, wantStatus int, want string) {
		t.Helper()
		b, _ := json.Marshal(out)
		if status != wantStatus || string(b) != want {
			t.Errorf("%s: %d %s, want %d %s", name, status, b, wantStatus, want)
		}
	}
	st, out := call(t, h, "CreateExperimentPermission", &alice, "POST", "", js("experiment_id", "1", "username", "carol", "permission", "READ"))
	check("create experiment", st, out, 200, `{"experiment_permission":{"experiment_id":"1","permission":"READ","user_id":"carol"}}`)
	st, out = call(t, h, "GetExperimentPermission", &alice, "GET", "experiment_id=1&username=carol", "")
	check("get experiment", st, out, 200, `{"experiment_permission":{"experiment_id":"1","permission":"READ","user_id":"carol"}}`)
	st, out = call(t, h, "GetRegisteredModelPermission", &bob, "GET", "name=fraud&username=bob", "")
	check("get own model grant", st, out, 200, `{"registered_model_permission":{"name":"fraud","permission":"EDIT","user_id":"bob"}}`)
	st, out = call(t, h, "GetRegisteredModelPermission", &carol, "GET", "name=fraud&username=bob", "")
	check("another's grant, not a manager", st, out, 403, `{"error_code":"PERMISSION_DENIED","message":"Reading another user's permission on registered model 'fraud' needs MANAGE on it"}`)
	st, out = call(t, h, "GetExperimentPermission", &alice, "GET", "experiment_id=1&username=bob", "")
	check("no grant", st, out, 404, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Experiment permission with experiment_id=1 and username=bob not found"}`)
	st, out = call(t, h, "UpdateExperimentPermission", &alice, "PATCH", "", js("experiment_id", "1", "username", "carol", "permission", "EDIT"))
	check("update", st, out, 200, `{}`)

	// MLflow 3's get: the effective permission, as a call of the user's would be decided.
	st, out = call(t, h, "GetUserPermission", &alice, "GET", "username=carol&resource_type=experiment&resource_id=1", "")
	check("get: a grant", st, out, 200, `{"allowed":true,"permission":"EDIT"}`)
	st, out = call(t, h, "GetUserPermission", &carol, "GET", "username=carol&resource_type=registered_model&resource_id=fraud", "")
	check("get: the default", st, out, 200, `{"allowed":false,"permission":"READ"}`)
	st, out = call(t, h, "GetUserPermission", &alice, "GET", "username=alice&resource_type=registered_model&resource_id=FRAUD", "")
	check("get: the owner", st, out, 200, `{"allowed":true,"permission":"MANAGE"}`)
	st, out = call(t, h, "GetUserPermission", &root, "GET", "username=root&resource_type=experiment&resource_id=123", "")
	check("get: an admin", st, out, 200, `{"allowed":true,"permission":"MANAGE"}`)
	st, out = call(t, h, "GetUserPermission", &carol, "GET", "username=bob&resource_type=experiment&resource_id=2", "")
	check("get: another's, refused", st, out, 403, `{"error_code":"PERMISSION_DENIED","message":"Reading another user's permission on experiment '2' needs MANAGE on it"}`)

	st, out = call(t, h, "ListUserPermissions", &bob, "GET", "username=bob", "")
	check("list own", st, out, 200, `{"is_admin":false,"permissions":[{"permission":"MANAGE","resource_pattern":"2","resource_type":"experiment","role_id":0,"role_name":"__user_bob__","workspace":"default"},{"permission":"EDIT","resource_pattern":"fraud","resource_type":"registered_model","role_id":0,"role_name":"__user_bob__","workspace":"default"}]}`)
	st, out = call(t, h, "ListUserPermissions", &carol, "GET", "username=bob", "")
	check("list another's", st, out, 403, `{"error_code":"PERMISSION_DENIED","message":"Listing another user's permissions needs an admin key"}`)
	st, out = call(t, h, "ListUserPermissions", &root, "GET", "username=nobody", "")
	check("list as admin", st, out, 200, `{"is_admin":false,"permissions":[]}`)
	st, out = call(t, h, "ListCurrentUserPermissions", &root, "GET", "", "")
	check("current", st, out, 200, `{"is_admin":true,"permissions":[]}`)
	st, out = call(t, h, "GetCurrentUser", &carol, "GET", "", "")
	check("current user", st, out, 200, `{"is_basic_auth":false,"user":{"id":"carol","is_admin":false,"username":"carol"}}`)

	for _, op := range []string{"CreateUser", "UpdateUserPassword", "DeleteUser", "ListUsers"} {
		st, out = call(t, h, op, &root, "POST", "", js("username", "x", "password", "y"))
		if st != 404 || out["error_code"] != "ENDPOINT_NOT_FOUND" || !strings.Contains(out["message"].(string), "managed by Hokusai") {
			t.Errorf("%s: %d %v", op, st, out)
		}
	}
	st, out = call(t, h, "CreateRole", &root, "POST", "", js("workspace", "w", "name", "n"))
	if st != 404 || !strings.Contains(out["message"].(string), "Roles are not supported") {
		t.Errorf("CreateRole: %d %v", st, out)
	}
}

func TestStoreFailureIsA500WithoutItsText(t *testing.T) {
	s := newStore()
	s.fail = errors.New("dynamodb: ProvisionedThroughputExceeded on table registrations-secret")
	st, out := call(t, newHandler(s), "GrantUserPermission", &alice, "POST", "", js("username", "carol", "resource_type", "experiment", "resource_id", "1", "permission", "READ"))
	msg, _ := out["message"].(string)
	if st != 500 || out["error_code"] != "INTERNAL_ERROR" || strings.Contains(msg, "registrations") || !strings.Contains(msg, "req-7") {
		t.Errorf("%d %v", st, out)
	}
	if s.writes != 0 {
		t.Errorf("%d writes", s.writes)
	}
}

func TestUnauthenticated(t *testing.T) {
	st, out := call(t, newHandler(newStore()), "ListCurrentUserPermissions", nil, "GET", "", "")
	if st != 401 || out["error_code"] != "UNAUTHENTICATED" {
		t.Errorf("%d %v", st, out)
	}
}

// TestServesEveryGatewayOperation: the handler serves exactly the catalog's gateway-served
// operations, so none is forwarded to MLflow and none is left unanswered.
func TestServesEveryGatewayOperation(t *testing.T) {
	var want []string
	for _, op := range mlflowcatalog.Operations() {
		if op.Served == mlflowcatalog.Gateway {
			want = append(want, op.Name)
		}
	}
	slices.Sort(want)
	if got := newHandler(newStore()).Names(); !slices.Equal(got, slices.Compact(want)) {
		t.Errorf("served %v\ncatalog %v", got, want)
	}
}
