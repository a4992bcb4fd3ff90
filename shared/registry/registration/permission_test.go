package registration_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"
)

// fakePermissions is the permission store behind registration.Permissions: grants per folded
// model name, every pattern grant, a failure, and a count of reads.
type fakePermissions struct {
	mu     sync.Mutex
	grants []permissions.Grant
	fail   error
	reads  int
}

func (f *fakePermissions) Facts(_ context.Context, r permissions.Resource) (permissions.Facts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.fail != nil {
		return permissions.Facts{}, f.fail
	}
	var out []permissions.Grant
	for _, g := range f.grants {
		if g.Kind == r.Kind && (g.Pattern || permissions.FoldName(g.Target) == permissions.FoldName(r.ID)) {
			out = append(out, g)
		}
	}
	return permissions.Facts{Grants: out}, nil
}

func withPermissions(p *fakePermissions, def permissions.Level) envOption {
	return func(d *registration.Deps) { d.Permissions, d.Policy = p, permissions.Policy{Default: def} }
}

func modelGrant(name, user string, l permissions.Level) permissions.Grant {
	return permissions.Grant{Kind: permissions.RegisteredModel, Target: name, UserID: user, Level: l}
}

func narrowed(p principal.Principal, globs ...string) principal.Principal {
	for _, g := range globs {
		p.Patterns = append(p.Patterns, permissions.Pattern{Kind: permissions.RegisteredModel, Glob: g})
	}
	p.KeyID += "-narrowed"
	return p
}

// Registering needs EDIT on the registered model (the owner's MANAGE, an admin's, or a grant),
// or the right to create a name nobody owns; a refusal names the level and changes nothing.
func TestRegisteringNeedsEditOnTheModel(t *testing.T) {
	const name = "hokusai-MSG-AI" // ValidRegister's
	for _, tc := range []struct {
		name   string
		grants []permissions.Grant
		def    permissions.Level
		caller principal.Principal
		code   string // "" registers
	}{
		{"no grant", nil, permissions.Read, other, registration.CodeModelOwned},
		{"a READ grant", []permissions.Grant{modelGrant(name, other.UserID, permissions.Read)}, permissions.Read, other, registration.CodeModelOwned},
		{"a USE grant", []permissions.Grant{modelGrant(name, other.UserID, permissions.Use)}, permissions.Read, other, registration.CodeModelOwned},
		{"an EDIT grant to someone else", []permissions.Grant{modelGrant(name, reader.UserID, permissions.Edit)}, permissions.Read, other, registration.CodeModelOwned},
		{"an EDIT grant", []permissions.Grant{modelGrant(name, other.UserID, permissions.Edit)}, permissions.Read, other, ""},
		{"an EDIT grant, the name as the owner did not spell it", []permissions.Grant{modelGrant("HOKUSAI-MSG-AI", other.UserID, permissions.Edit)}, permissions.Read, other, ""},
		{"a MANAGE grant", []permissions.Grant{modelGrant(name, other.UserID, permissions.Manage)}, permissions.Read, other, ""},
		{"a matching pattern grant", []permissions.Grant{{Kind: permissions.RegisteredModel, Target: "hokusai-msg*", Pattern: true, UserID: other.UserID, Level: permissions.Edit}}, permissions.Read, other, ""},
		{"another pattern's grant", []permissions.Grant{{Kind: permissions.RegisteredModel, Target: "hokusai-XRAY*", Pattern: true, UserID: other.UserID, Level: permissions.Edit}}, permissions.Read, other, registration.CodeModelOwned},
		{"an experiment grant of the same id", []permissions.Grant{{Kind: permissions.Experiment, Target: name, UserID: other.UserID, Level: permissions.Edit}}, permissions.Read, other, registration.CodeModelOwned},
		{"a default of EDIT", nil, permissions.Edit, other, ""},
		{"an admin", nil, permissions.NoPermissions, admin, ""},
		{"an EDIT grant, the key narrowed to other names", []permissions.Grant{modelGrant(name, other.UserID, permissions.Edit)}, permissions.Read, narrowed(other, "hokusai-XRAY*"), registration.CodePermissionDenied},
		{"an admin's key narrowed to other names", nil, permissions.Read, narrowed(admin, "other-*"), registration.CodePermissionDenied},
		{"an EDIT grant, the key narrowed to the name", []permissions.Grant{modelGrant(name, other.UserID, permissions.Edit)}, permissions.Read, narrowed(other, "hokusai-msg-*"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perms := &fakePermissions{grants: tc.grants}
			e := newEnv(t, "", withPermissions(perms, tc.def))
			e.ml.addRun(runID, modelID)
			registered(t, e.register(t, registerBody(nil), writer, "")) // the owner's first version
			e.ml.resetCalls()
			rec := e.register(t, registerBody(nil), tc.caller, "k1")
			if tc.code == "" {
				v := registered(t, rec)
				stored, err := e.store.Get(context.Background(), v.RegistrationID)
				if err != nil || stored.UserID != tc.caller.UserID {
					t.Errorf("record %+v %v: the version is the registrant's", stored, err)
				}
				return
			}
			body := decode(t, rec)
			if rec.Code != 403 || body["error"] != tc.code || body["required_permission"] != "EDIT" ||
				body["resource_type"] != "registered_model" || body["resource_id"] != name {
				t.Errorf("%d %s, want 403 %s needing EDIT", rec.Code, rec.Body, tc.code)
			}
			if w := mlflowWrites(e.ml.callCounts()); len(w) != 0 || len(e.ml.allVersions()) != 1 {
				t.Errorf("MLflow writes %v, %d versions", w, len(e.ml.allVersions()))
			}
		})
	}
}

// A narrowed key may create only names its patterns match, and its own registrations elsewhere
// are refused before the name is claimed (so the name stays free for its owner-to-be).
func TestNarrowedKeyRegistersOnlyUnderItsPatterns(t *testing.T) {
	e := newEnv(t, "", withPermissions(&fakePermissions{}, permissions.Read))
	e.ml.addRun(runID, modelID)
	ci := narrowed(writer, "hokusai-ci-*")
	rec := e.register(t, registerBody(map[string]any{"model_name": "hokusai-elsewhere"}), ci, "")
	if body := decode(t, rec); rec.Code != 403 || body["error"] != registration.CodePermissionDenied {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	// Nothing was claimed: another user registers the name.
	registered(t, e.register(t, registerBody(map[string]any{"model_name": "hokusai-elsewhere"}), other, ""))
	registered(t, e.register(t, registerBody(map[string]any{"model_name": "hokusai-CI-one"}), ci, ""))
}

// An unreadable permission store is a 503 that changes nothing; the owner's and an admin's own
// registrations need no read of it.
func TestRegistrationPermissionStoreDown(t *testing.T) {
	perms := &fakePermissions{fail: errors.New("throttled")}
	e := newEnv(t, "", withPermissions(perms, permissions.Read))
	e.ml.addRun(runID, modelID)
	registered(t, e.register(t, registerBody(nil), writer, ""))
	registered(t, e.register(t, registerBody(nil), admin, ""))
	if perms.reads != 0 {
		t.Errorf("%d permission reads for the owner and an admin", perms.reads)
	}
	e.ml.resetCalls()
	if rec := e.register(t, registerBody(nil), other, ""); rec.Code != 503 {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if w := mlflowWrites(e.ml.callCounts()); len(w) != 0 {
		t.Errorf("MLflow writes %v", w)
	}
}

// Announcing needs EDIT on the version's model: a user the owner granted it announces the
// owner's version, which stays the owner's (the grantee is the actor), and their own.
func TestAnnouncingNeedsEditOnTheModel(t *testing.T) {
	const path = "/api/models/tokenized-registration-events"
	perms := &fakePermissions{}
	pub := &fakePublisher{}
	e := newEnv(t, "", withPublisher(pub), withPermissions(perms, permissions.Read))
	e.ml.addRun(runID, modelID)
	e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID)
	announce := func(body []byte, p principal.Principal) *httptest.ResponseRecorder {
		t.Helper()
		return e.call(t, context.Background(), "POST", path, body, p, nil)
	}
	body := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"eval_spec": "e1"})
	if rec := announce(body, writer); rec.Code != 200 {
		t.Fatalf("owner: %d %s", rec.Code, rec.Body)
	}
	v7 := registration.AnnouncementID("hokusai-HLEAD/7/HLEAD")
	e.ml.addVersion("hokusai-HLEAD", "8", runID)
	v8body := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"version": "8", "model_uri": "models:/hokusai-HLEAD/8"})

	refused := func(t *testing.T, rec *httptest.ResponseRecorder, code string) {
		t.Helper()
		if b := decode(t, rec); rec.Code != 403 || b["error"] != code || b["required_permission"] != "EDIT" {
			t.Errorf("%d %s, want 403 %s needing EDIT", rec.Code, rec.Body, code)
		}
	}
	refused(t, announce(body, other), registration.CodeVersionOwned)
	refused(t, announce(v8body, other), registration.CodeModelOwned)

	perms.mu.Lock()
	perms.grants = []permissions.Grant{modelGrant("hokusai-HLEAD", other.UserID, permissions.Edit)}
	perms.mu.Unlock()
	refused(t, announce(body, narrowed(other, "hokusai-XRAY*")), registration.CodePermissionDenied)

	if rec := announce(rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"eval_spec": "e2"}), other); rec.Code != 200 {
		t.Fatalf("grantee on the owner's version: %d %s", rec.Code, rec.Body)
	}
	stored, err := e.store.Get(context.Background(), v7)
	if err != nil || stored.UserID != writer.UserID || stored.ActorUserID != other.UserID {
		t.Errorf("record %+v %v: stays the owner's, the grantee its actor", stored, err)
	}
	if rec := announce(v8body, other); rec.Code != 200 {
		t.Fatalf("grantee on an unannounced version: %d %s", rec.Code, rec.Body)
	}
	stored, err = e.store.Get(context.Background(), registration.AnnouncementID("hokusai-HLEAD/8/HLEAD"))
	if err != nil || stored.UserID != other.UserID || stored.ActorUserID != "" {
		t.Errorf("record %+v %v: the grantee's own", stored, err)
	}
	// The grantee's copy of user_id is the version owner's, as an admin's must be.
	forged := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"tags": map[string]string{"hokusai_token_id": "HLEAD", "user_id": other.UserID}})
	if rec := announce(forged, other); rec.Code != 422 {
		t.Errorf("forged user_id: %d %s", rec.Code, rec.Body)
	}
}
