package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Issue 14's model: a registered model MLflow held before the registry knew it has no owner, and
// only admins manage it. A user's write key registering under it (in MLflow's spelling or another
// case) is refused PERMISSION_DENIED needing EDIT, changing nothing; an admin registers under it;
// once an admin grants the user EDIT through the permission API, the user registers too.
func TestRegisteringUnderAModelThatPredatesTheRegistry(t *testing.T) {
	admin := adminKey(t)
	userID := uniqueToken("e2e-preexisting")
	key, _ := createKey(t, admin, userID, "model:write", "mlflow:write")
	logged := logThroughGateway(t, key)
	token := strings.ToUpper(uniqueToken("BEFORE"))
	model := "hokusai-" + token

	// Straight into MLflow, as models that predate the registry were made.
	b, _ := json.Marshal(map[string]string{"name": model})
	res, err := http.Post(h.MLflowURL+"/api/2.0/mlflow/registered-models/create", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("create in MLflow: %d", res.StatusCode)
	}

	register := func(key, name string) (int, map[string]any) {
		t.Helper()
		r, b := postRegister(t, key, registerBody(token, logged.RunID, map[string]any{"model_name": name}), "")
		return r.StatusCode, jsonBody(t, b)
	}
	refused := func(code int, body map[string]any, name string) string {
		if code != 403 || body["error"] != "PERMISSION_DENIED" || body["required_permission"] != "EDIT" || body["resource_id"] != name {
			return fmt.Sprintf("%d %v, want 403 PERMISSION_DENIED needing EDIT on %s", code, body, name)
		}
		return ""
	}

	t.Run("the user is refused, in any spelling, and nothing changes", func(t *testing.T) {
		for _, name := range []string{model, strings.ToLower(model)} {
			code, body := register(key, name)
			if msg := refused(code, body, name); msg != "" {
				t.Errorf("%s: %s", name, msg)
			}
			if v := versionsOf(t, name); len(v) != 0 {
				t.Errorf("%s has versions %v", name, v)
			}
		}
	})

	t.Run("an admin registers under it", func(t *testing.T) {
		if code, body := register(admin, model); code != 201 {
			t.Fatalf("%d %v", code, body)
		}
	})

	t.Run("after an admin grants EDIT, the user registers", func(t *testing.T) {
		b, _ := json.Marshal(map[string]string{"name": model, "username": userID, "permission": "EDIT"})
		r, out := call(t, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/permissions/create", bytes.NewReader(b),
			map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
		if r.StatusCode != 200 {
			t.Fatalf("grant: %d %s", r.StatusCode, out)
		}
		// The registration function caches grants (PERMISSIONS_CACHE_TTL) and may hold the refusal's.
		eventually(t, "the user's registration with EDIT", func() string {
			if code, body := register(key, model); code != 201 {
				return fmt.Sprintf("%d %v", code, body)
			}
			return ""
		})
	})
}
