package mlflowproxy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// servedHere answers every operation it is asked for with its name.
type servedHere struct{ names []string }

func (s *servedHere) Operation(name string) (http.Handler, bool) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.names = append(s.names, name)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"served": name})
	}), true
}

// TestGatewayOperationsAreNeverForwarded: every gateway-served operation of the catalog, under
// each mount a client uses, is answered by the gateway's handler (or 404 without one) and MLflow
// is never called; the caller's scope is checked first.
func TestGatewayOperationsAreNeverForwarded(t *testing.T) {
	up := newRecorder(t, nil)
	var ops []mlflowcatalog.Operation
	for _, op := range mlflowcatalog.Operations() {
		if op.Served == mlflowcatalog.Gateway {
			ops = append(ops, op)
		}
	}
	if len(ops) < 20 {
		t.Fatalf("only %d gateway-served operations", len(ops))
	}
	withHandler := newProxy(t, up.URL, nil)
	here := &servedHere{}
	withHandler.ServeGateway(here)
	without := newProxy(t, up.URL, nil)
	for _, op := range ops {
		for _, mount := range []string{"/api/mlflow/api/", "/api/"} {
			path := mount + op.Versions[0] + "/mlflow/" + op.Endpoint
			status, _, body := do(t, withHandler, op.Method, path, nil, admin, nil)
			if status != 200 || !strings.Contains(string(body), `"served":"`+op.Name+`"`) {
				t.Errorf("%s %s: %d %s", op.Method, path, status, body)
			}
			status, _, body = do(t, without, op.Method, path, nil, admin, nil)
			if status != 404 || mlflowBody(t, body)["error_code"] != "ENDPOINT_NOT_FOUND" {
				t.Errorf("%s %s without a handler: %d %s", op.Method, path, status, body)
			}
		}
	}
	// A read key may read grants, not change them: the scope check comes before the handler.
	n := len(here.names)
	status, _, body := do(t, withHandler, "POST", "/api/mlflow/api/3.0/mlflow/users/permissions/grant", []byte(`{}`), reader, nil)
	if status != 403 || mlflowBody(t, body)["error_code"] != "PERMISSION_DENIED" || len(here.names) != n {
		t.Errorf("grant with a read key: %d %s", status, body)
	}
	status, _, _ = do(t, withHandler, "GET", "/api/mlflow/api/3.0/mlflow/users/permissions/get?username=u", nil, reader, nil)
	if status != 200 {
		t.Errorf("get with a read key: %d", status)
	}
	status, _, _ = do(t, withHandler, "GET", "/api/mlflow/api/3.0/mlflow/users/permissions/get", nil, principal.Principal{UserID: "u-none", KeyID: "k"}, nil)
	if status != 403 {
		t.Errorf("get with no scope: %d", status)
	}
	if n := up.count.Load(); n != 0 {
		t.Errorf("MLflow was called %d times", n)
	}
}
