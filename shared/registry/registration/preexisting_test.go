package registration_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// A registered model MLflow held before the registry knew it has no owner, and only admins
// manage it (issue 14's model): a user registering or announcing under it, in any spelling the
// registry folds to its name, needs EDIT on it through the default or a grant, and does not
// become its owner by acting on it. A name MLflow does not hold is still the registrant's.
// Against a real MLflow, whose registered models the test creates directly.
func TestModelsThatPredateTheRegistry(t *testing.T) {
	base := realMLflow(t)
	logged := mlflowtest.LogModel(t, base)
	ml := mlflowClient(base, 10*time.Second)
	ctx := context.Background()
	run := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)

	// preexisting is a registered model created in MLflow itself, with the registry unaware.
	preexisting := func(t *testing.T, name string) string {
		t.Helper()
		name = "Before-" + run + "-" + name
		if err := ml.CreateRegisteredModel(ctx, name); err != nil {
			t.Fatal(err)
		}
		return name
	}
	register := func(e *env, p principal.Principal, name string) *httptest.ResponseRecorder {
		t.Helper()
		return e.register(t, rulestest.JSONOf(map[string]any{
			"token_id": "msg-ai", "mlflow_run_id": logged.RunID, "metric_name": "reply_rate", "baseline_value": 0.1, "model_name": name,
		}, nil), p, "")
	}
	refused := func(t *testing.T, rec *httptest.ResponseRecorder, name string) {
		t.Helper()
		body := decode(t, rec)
		if rec.Code != 403 || body["error"] != registration.CodePermissionDenied || body["required_permission"] != "EDIT" ||
			body["resource_type"] != "registered_model" || body["resource_id"] != name {
			t.Errorf("%d %s, want 403 PERMISSION_DENIED needing EDIT on %q", rec.Code, rec.Body, name)
		}
	}
	ownerOf := func(t *testing.T, e *env, name string) string {
		t.Helper()
		owner, err := e.store.OwnerOf(ctx, regstore.ModelOwnerPK(name))
		if err != nil {
			t.Fatal(err)
		}
		return owner
	}
	noVersion := func(t *testing.T, name string) {
		t.Helper()
		if mv, err := ml.GetModelVersion(ctx, name, "1"); err == nil {
			t.Errorf("MLflow has version %+v", mv)
		}
	}

	for i, tc := range []struct {
		name  string
		spell func(string) string // how the registrant spells the name
	}{
		{"as MLflow spells it", func(s string) string { return s }},
		{"in other case: MLflow would make it a second model the registry takes for the first", strings.ToLower},
	} {
		t.Run("a user without EDIT is refused and changes nothing, "+tc.name, func(t *testing.T) {
			perms := &fakePermissions{}
			e := newEnv(t, base, withPermissions(perms, permissions.Read))
			held := preexisting(t, fmt.Sprint("Refused-", i))
			asked := tc.spell(held)
			refused(t, register(e, writer, asked), asked)
			if owner := ownerOf(t, e, held); owner != "" {
				t.Errorf("claimed for %q", owner)
			}
			noVersion(t, held)
			noVersion(t, asked)
			if got, err := ml.FindRegisteredModel(ctx, asked); got != held || err != nil {
				t.Errorf("MLflow holds %q (%v): another model was created", got, err)
			}
		})
	}

	t.Run("a grant of EDIT lets a user register, without claiming it", func(t *testing.T) {
		perms := &fakePermissions{}
		e := newEnv(t, base, withPermissions(perms, permissions.Read))
		held := preexisting(t, "granted")
		perms.grants = []permissions.Grant{modelGrant(held, writer.UserID, permissions.Edit)}
		v := registered(t, register(e, writer, held))
		if v.Version != "1" || ownerOf(t, e, held) != "" {
			t.Errorf("%+v, owner %q: registered, and the model stays unowned", v, ownerOf(t, e, held))
		}
		// Another user, without a grant, is still refused: the grantee took nothing over.
		refused(t, register(e, other, held), held)
	})

	t.Run("a default of EDIT lets a user register, without claiming it", func(t *testing.T) {
		e := newEnv(t, base, withPermissions(&fakePermissions{}, permissions.Edit))
		held := preexisting(t, "default")
		registered(t, register(e, writer, held))
		registered(t, register(e, other, held))
		if owner := ownerOf(t, e, held); owner != "" {
			t.Errorf("claimed for %q", owner)
		}
	})

	t.Run("an admin registers under it", func(t *testing.T) {
		e := newEnv(t, base, withPermissions(&fakePermissions{}, permissions.NoPermissions))
		held := preexisting(t, "admin")
		registered(t, register(e, admin, held))
	})

	t.Run("a name MLflow does not hold is the registrant's", func(t *testing.T) {
		e := newEnv(t, base, withPermissions(&fakePermissions{}, permissions.Read))
		name := "Before-" + run + "-new"
		registered(t, register(e, writer, name))
		if owner := ownerOf(t, e, name); owner != writer.UserID {
			t.Errorf("owner %q", owner)
		}
		refused := register(e, other, name)
		if body := decode(t, refused); refused.Code != 403 || body["error"] != registration.CodeModelOwned {
			t.Errorf("another user: %d %s", refused.Code, refused.Body)
		}
	})

	t.Run("announcing a version of it needs EDIT, and claims only the version", func(t *testing.T) {
		perms := &fakePermissions{}
		e := newEnv(t, base, withPermissions(perms, permissions.Read))
		name := "Before-" + run + "-announced"
		mv := mlflowtest.RegisterModel(t, base, logged.RunID, name) // straight into MLflow
		body := rulestest.JSONOf(map[string]any{
			"model_name": name, "version": mv.Version, "token_id": "hlead", "metric_name": "reply_rate", "baseline_value": 0.1,
			"model_uri": "models:/" + name + "/" + mv.Version,
		}, nil)
		announce := func(p principal.Principal) *httptest.ResponseRecorder {
			return e.call(t, ctx, "POST", "/api/models/tokenized-registration-events", body, p, nil)
		}
		refused(t, announce(writer), name)
		perms.grants = []permissions.Grant{modelGrant(name, writer.UserID, permissions.Edit)}
		if rec := announce(writer); rec.Code != 200 {
			t.Fatalf("grantee: %d %s", rec.Code, rec.Body)
		}
		if rec := announce(writer); rec.Code != 200 { // its repeat, now recorded, claims no more
			t.Fatalf("grantee's repeat: %d %s", rec.Code, rec.Body)
		}
		if owner := ownerOf(t, e, name); owner != "" {
			t.Errorf("the model was claimed for %q", owner)
		}
		perms.grants = nil
		if rec := announce(other); rec.Code != 403 || ownerOf(t, e, name) != "" {
			t.Errorf("another user: %d %s", rec.Code, rec.Body)
		}
	})
}
