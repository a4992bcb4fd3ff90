package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
)

// grantDelay bounds how long a grant change takes to be enforced: the functions cache a
// resource's grants for PERMISSIONS_CACHE_TTL (30 s by default), in each of their instances.
const grantDelay = 2 * time.Minute

// eventually retries check until it reports nothing, or fails the test with its last report once
// the delay a grant change may take has passed. It waits for a state, never for a time.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(grantDelay)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s", what, msg, grantDelay)
		}
		time.Sleep(500 * time.Millisecond) // a poll's interval, not a synchronisation
	}
}

// outcomesOf runs B's group of stock-client calls on A's resources and returns each call's
// outcome ("ok" or the error code).
func outcomesOf(t *testing.T, key, group string, res map[string]string) map[string]string {
	t.Helper()
	arg, _ := json.Marshal(res)
	var out struct{ Outcomes map[string]string }
	runScript(t, &out, "two_users_client.py", []string{group, string(arg)}, h.APIURL+"/api/mlflow", key)
	return out.Outcomes
}

// allAre reports the calls whose outcome is not want ("" when every one is).
func allAre(got map[string]string, want string) string {
	var off []string
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if got[k] != want {
			off = append(off, k+"="+got[k])
		}
	}
	if len(got) == 0 {
		return "no outcomes"
	}
	if len(off) > 0 {
		return fmt.Sprintf("not %s: %s", want, strings.Join(off, ", "))
	}
	return ""
}

// Issue 14, item 5: users A and B with ordinary write keys. Every read of A's experiment, run
// and registered model is allowed by the default READ; every write of B is refused with
// PERMISSION_DENIED (through the stock client, and through POST /api/models/register), then
// allowed once A grants EDIT, deletes still needing MANAGE, and refused again once the grant is
// removed. A pattern grant lets B edit every model it matches; a key narrowed to a pattern
// registers only under it; A's own registrations are unaffected throughout.
func TestTwoUsers(t *testing.T) {
	admin := adminKey(t)
	aID, bID := uniqueToken("e2e-perm-a"), uniqueToken("e2e-perm-b")
	keyA, _ := createKey(t, admin, aID, "model:write", "mlflow:write")
	keyB, _ := createKey(t, admin, bID, "model:write", "mlflow:write")
	perms := permstore.New(dynamodb.NewFromConfig(h.AWSConfig()), registrationsTable(t))
	ctx := context.Background()
	at := stackCaller{t, h.APIURL}

	// A's experiment, run (with a logged model and a metric) and registered model, with a version
	// registered through the registry and an alias.
	logged := logThroughGateway(t, keyA)
	token := strings.ToUpper(uniqueToken("PERM"))
	model := "hokusai-" + token
	if res, b := postRegister(t, keyA, registerBody(token, logged.RunID, nil), ""); res.StatusCode != 201 {
		t.Fatalf("A's registration: %d %s", res.StatusCode, b)
	}
	at.decode("POST", "/api/2.0/mlflow/runs/log-metric", keyA, map[string]any{"run_id": logged.RunID, "key": "m", "value": 1, "timestamp": 1, "step": 0}, &map[string]any{})
	at.decode("POST", "/api/2.0/mlflow/registered-models/alias", keyA, map[string]any{"name": model, "alias": "champion", "version": "1"}, &map[string]any{})
	res := map[string]string{"experiment_id": logged.ExperimentID, "run_id": logged.RunID, "model": model, "version": "1", "alias": "champion"}
	exp := permissions.Resource{Kind: permissions.Experiment, ID: logged.ExperimentID}
	reg := permissions.Resource{Kind: permissions.RegisteredModel, ID: model}

	registerB := func() (int, map[string]any) {
		r, b := postRegister(t, keyB, registerBody(token, logged.RunID, nil), "")
		return r.StatusCode, jsonBody(t, b)
	}
	bRefused := func(group string) func() string {
		return func() string { return allAre(outcomesOf(t, keyB, group, res), "PERMISSION_DENIED") }
	}

	t.Run("the default lets B read everything of A's and write nothing", func(t *testing.T) {
		if msg := allAre(outcomesOf(t, keyB, "reads", res), "ok"); msg != "" {
			t.Errorf("B's reads %s", msg)
		}
		for _, g := range []string{"writes", "deletes"} {
			if msg := bRefused(g)(); msg != "" {
				t.Errorf("B's %s %s", g, msg)
			}
		}
		if code, body := registerB(); code != 403 || body["error"] != "MODEL_OWNED_BY_ANOTHER_USER" || body["required_permission"] != "EDIT" {
			t.Errorf("B's registration: %d %v", code, body)
		}
		if v := versionsOf(t, model); len(v) != 1 {
			t.Errorf("versions %v", v)
		}
	})

	t.Run("after A grants EDIT, B writes but does not delete", func(t *testing.T) {
		for _, r := range []permissions.Resource{exp, reg} {
			if err := perms.SetGrant(ctx, r, bID, permissions.Edit); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "B's writes with EDIT", func() string { return allAre(outcomesOf(t, keyB, "writes", res), "ok") })
		if msg := bRefused("deletes")(); msg != "" {
			t.Errorf("B's deletes with EDIT %s", msg)
		}
		// The registration function caches grants on its own, for the same delay.
		eventually(t, "B's registration with EDIT", func() string {
			if code, body := registerB(); code != 201 {
				return fmt.Sprintf("%d %v", code, body)
			}
			return ""
		})
	})

	t.Run("after A removes the grant, B is refused again", func(t *testing.T) {
		for _, r := range []permissions.Resource{exp, reg} {
			if err := perms.DeleteGrant(ctx, r, bID); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "B's writes without the grant", bRefused("writes"))
		n := len(versionsOf(t, model))
		eventually(t, "B's registration without the grant", func() string {
			if code, body := registerB(); code != 403 || body["error"] != "MODEL_OWNED_BY_ANOTHER_USER" {
				n = len(versionsOf(t, model)) // registered while the grant was still cached
				return fmt.Sprintf("%d %v", code, body)
			}
			return ""
		})
		if v := versionsOf(t, model); len(v) != n {
			t.Errorf("a refused registration left versions %v", v)
		}
	})

	t.Run("a pattern grant lets B edit every model it matches", func(t *testing.T) {
		team := strings.ToUpper(uniqueToken("XRAY"))
		names := []string{"hokusai-" + team + "-ONE", "hokusai-" + team + "-TWO", "hokusai-NOT" + team}
		for _, n := range names {
			at.decode("POST", "/api/2.0/mlflow/registered-models/create", keyA, map[string]any{"name": n}, &map[string]any{})
		}
		p, err := permissions.ParsePattern("registered_model:hokusai-" + team + "*")
		if err != nil {
			t.Fatal(err)
		}
		if err := perms.SetPatternGrant(ctx, p, bID, permissions.Edit); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = perms.DeletePatternGrant(ctx, p, bID) })
		tag := func(name string) int {
			b, _ := json.Marshal(map[string]any{"name": name, "key": "b", "value": "1"})
			code, _ := at.do("POST", "/api/2.0/mlflow/registered-models/set-tag", keyB, b)
			return code
		}
		eventually(t, "B's tags under the pattern", func() string {
			if a, b := tag(names[0]), tag(names[1]); a != 200 || b != 200 {
				return fmt.Sprintf("%d %d", a, b)
			}
			return ""
		})
		if code := tag(names[2]); code != 403 {
			t.Errorf("B's tag on a model the pattern does not match: %d", code)
		}
	})

	t.Run("a narrowed key registers only under its pattern", func(t *testing.T) {
		ciToken := strings.ToUpper(uniqueToken("CI"))
		body, _ := json.Marshal(map[string]any{"user_id": aID, "email": aID + "@e2e.test", "scopes": []string{"model:write", "mlflow:write"},
			"resource_patterns": []string{"registered_model:hokusai-" + ciToken}})
		code, b := at.do("POST", "/api/keys", admin, body)
		if code != 201 {
			t.Fatalf("narrowed key: %d %s", code, b)
		}
		var ci struct{ Key string }
		_ = json.Unmarshal(b, &ci)
		if r, b := postRegister(t, ci.Key, registerBody(ciToken, logged.RunID, nil), ""); r.StatusCode != 201 {
			t.Errorf("under its pattern: %d %s", r.StatusCode, b)
		}
		other := strings.ToUpper(uniqueToken("ELSE"))
		if r, b := postRegister(t, ci.Key, registerBody(other, logged.RunID, nil), ""); r.StatusCode != 403 || jsonBody(t, b)["error"] != "PERMISSION_DENIED" {
			t.Errorf("elsewhere: %d %s", r.StatusCode, b)
		}
		// Not even under its holder's own model.
		if r, b := postRegister(t, ci.Key, registerBody(token, logged.RunID, nil), ""); r.StatusCode != 403 || jsonBody(t, b)["error"] != "PERMISSION_DENIED" {
			t.Errorf("under A's own model: %d %s", r.StatusCode, b)
		}
	})

	t.Run("A's own registrations are unaffected", func(t *testing.T) {
		if r, b := postRegister(t, keyA, registerBody(token, logged.RunID, nil), ""); r.StatusCode != 201 {
			t.Errorf("A's registration: %d %s", r.StatusCode, b)
		}
		if msg := allAre(outcomesOf(t, keyA, "writes", res), "ok"); msg != "" {
			t.Errorf("A's writes %s", msg)
		}
	})
}
