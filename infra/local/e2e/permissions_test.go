package e2e

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// permissionsFlow is what testdata/clients/permissions_client.py observed.
type permissionsFlow struct {
	OK           bool              `json:"ok"`
	Error        string            `json:"error"`
	Steps        []string          `json:"steps"`
	ExperimentID string            `json:"experiment_id"`
	Refusals     map[string]string `json:"refusals"` // step → MLflow's error_code
	Levels       map[string]struct {
		Permission string `json:"permission"`
		Allowed    bool   `json:"allowed"`
	} `json:"levels"`
	Lists map[string][]string `json:"lists"` // step → "<resource_type>:<resource_pattern>:<permission>", sorted
}

// Issue 14, item 3: MLflow's own auth client (get_app_client("basic-auth")) manages grants through
// the gateway with Hokusai keys, and MLflow 2's permission API answers raw HTTP. This is the
// management API; whether the proxy enforces what it stores is the enforcement's test.
func TestMLflowAuthClientManagesGrants(t *testing.T) {
	admin := adminKey(t)
	userA, userB := uniqueToken("e2e-perm-a"), uniqueToken("e2e-perm-b")
	keyA, _ := createKey(t, admin, userA, "mlflow:write")
	keyB, _ := createKey(t, admin, userB, "mlflow:write")
	name := uniqueToken("e2e-perm-model")
	narrowGlob := name + "-ci*"
	narrowed, narrowedID := createNarrowedKey(t, admin, userA, "registered_model:"+narrowGlob)

	t.Run("a narrowed key shows its patterns in the key listing", func(t *testing.T) {
		res, b := call(t, "GET", "/api/keys", nil, bearer(keyA))
		if res.StatusCode != 200 {
			t.Fatalf("list keys: %d %s", res.StatusCode, b)
		}
		var list struct {
			Keys []struct {
				KeyID            string   `json:"key_id"`
				ResourcePatterns []string `json:"resource_patterns"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		patterns := map[string][]string{}
		for _, k := range list.Keys {
			patterns[k.KeyID] = k.ResourcePatterns
		}
		if got := patterns[narrowedID]; !slices.Equal(got, []string{"registered_model:" + narrowGlob}) {
			t.Errorf("the narrowed key's patterns %q in %s", got, b)
		}
		delete(patterns, narrowedID)
		for id, got := range patterns { // A's other key: not narrowed, listed as []
			if got == nil || len(got) != 0 || len(patterns) != 1 {
				t.Errorf("A's keys besides the narrowed one: %s %q in %s", id, got, b)
			}
		}
	})

	var flow permissionsFlow
	pattern := uniqueToken("e2e-perm-team") + "*"
	runScript(t, &flow, "permissions_client.py", nil, h.APIURL+"/api/mlflow", keyA,
		"E2E_KEY_A="+keyA, "E2E_KEY_B="+keyB, "E2E_KEY_ADMIN="+admin, "E2E_KEY_A_NARROWED="+narrowed,
		"E2E_USER_A="+userA, "E2E_USER_B="+userB, "E2E_PATTERN="+pattern, "E2E_NAME="+name)

	t.Run("the stock auth client", func(t *testing.T) {
		for step, want := range map[string]string{
			"b_experiment_granted": "EDIT", "b_model_granted": "EDIT",
			// B's refused grant to themself changed nothing.
			"b_model_after_refusals": "EDIT",
			// Revoked, B holds the deployment's default.
			"b_experiment_revoked": "READ", "b_model_revoked": "READ",
			"b_pattern_match": "EDIT", "b_pattern_other": "READ",
		} {
			if got := flow.Levels[step]; got.Permission != want || got.Allowed != (want == "EDIT") {
				t.Errorf("%s: %+v, want %s", step, got, want)
			}
		}
		for step, want := range map[string]string{
			"a_grants_twice":       "RESOURCE_ALREADY_EXISTS",
			"b_lists_a":            "PERMISSION_DENIED",
			"b_grants_self_manage": "PERMISSION_DENIED",
			"b_grants_a":           "PERMISSION_DENIED",
			"b_revokes":            "PERMISSION_DENIED",
			"narrowed_grants":      "PERMISSION_DENIED",
			"revoke_again":         "RESOURCE_DOES_NOT_EXIST",
			"a_grants_pattern":     "PERMISSION_DENIED",
		} {
			if got := flow.Refusals[step]; got != want {
				t.Errorf("%s refused with %q, want %s", step, got, want)
			}
		}
		granted := []string{"experiment:" + flow.ExperimentID + ":EDIT", "registered_model:" + name + ":EDIT"}
		for step, want := range map[string][]string{
			"b_current": granted, "b_own": granted,
			"b_after_revoke":         {},
			"b_by_admin":             {"registered_model:" + pattern + ":EDIT"},
			"b_after_pattern_revoke": {},
		} {
			if got := flow.Lists[step]; !slices.Equal(got, want) {
				t.Errorf("%s lists %q, want %q", step, got, want)
			}
		}
	})

	// MLflow 2's API (older clients, and the paths), raw: create, get, update, delete.
	t.Run("MLflow 2's permission endpoints", func(t *testing.T) {
		base := "/api/2.0/mlflow/registered-models/permissions/"
		send := func(key, method, op string, params map[string]string) (int, map[string]any) {
			t.Helper()
			path, body := base+op, ""
			if method == "GET" {
				q := url.Values{}
				for k, v := range params {
					q.Set(k, v)
				}
				path += "?" + q.Encode()
			} else {
				b, _ := json.Marshal(params)
				body = string(b)
			}
			res, b := call(t, method, path, strings.NewReader(body), map[string]string{
				"Authorization": "Bearer " + key, "Content-Type": "application/json"})
			return res.StatusCode, jsonBody(t, b)
		}
		who := map[string]string{"name": name, "username": userB}
		with := func(permission string) map[string]string {
			return map[string]string{"name": name, "username": userB, "permission": permission}
		}
		permissionOf := func(out map[string]any) any {
			p, _ := out["registered_model_permission"].(map[string]any)
			return p["permission"]
		}
		if status, out := send(keyA, "POST", "create", with("READ")); status != 200 || permissionOf(out) != "READ" {
			t.Errorf("create: %d %v", status, out)
		}
		if status, out := send(keyA, "PATCH", "update", with("EDIT")); status != 200 {
			t.Errorf("update: %d %v", status, out)
		}
		if status, out := send(keyA, "GET", "get", who); status != 200 || permissionOf(out) != "EDIT" {
			t.Errorf("get after update: %d %v", status, out)
		}
		if status, out := send(keyB, "PATCH", "update", with("MANAGE")); status != 403 || out["error_code"] != "PERMISSION_DENIED" {
			t.Errorf("B's update of their own grant: %d %v", status, out)
		}
		if status, out := send(keyA, "DELETE", "delete", who); status != 200 {
			t.Errorf("delete: %d %v", status, out)
		}
		if status, out := send(keyA, "GET", "get", who); status != 404 || out["error_code"] != "RESOURCE_DOES_NOT_EXIST" {
			t.Errorf("get after delete: %d %v", status, out)
		}
	})
}

// createNarrowedKey makes a key for user narrowed to patterns (POST /api/keys with
// resource_patterns) and returns the plain key and its id.
func createNarrowedKey(t *testing.T, admin, user string, patterns ...string) (string, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"user_id": user, "email": user + "@e2e.test", "scopes": []string{"mlflow:write"},
		"resource_patterns": patterns})
	res, b := call(t, "POST", "/api/keys", strings.NewReader(string(body)), bearer(admin))
	if res.StatusCode != 201 {
		t.Fatalf("create a narrowed key: %d %s", res.StatusCode, b)
	}
	out := jsonBody(t, b)
	if got := out["resource_patterns"]; len(got.([]any)) != len(patterns) {
		t.Errorf("created with patterns %v, want %v", got, patterns)
	}
	return out["key"].(string), out["key_id"].(string)
}
