package registration_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// A version registered through POST /api/models/register before owner items existed has none, but
// carries the registry's user_id and hokusai_registration_id tags and that registration's record:
// it stays its registrant's. Tags without a matching record decide nothing: the model is then one
// the registry never knew, unowned, and only a caller with EDIT on it (an admin) announces under it.
func TestLegacyVersionsStayTheirRegistrants(t *testing.T) {
	const path = "/api/models/tokenized-registration-events"
	announce := func(e *env, p principal.Principal) *httptest.ResponseRecorder {
		return e.call(t, context.Background(), "POST", path, rulestest.JSONOf(rulestest.ValidEvent, nil), p, nil)
	}
	// legacy is the state before ownership: version 7 of hokusai-HLEAD tagged by the registry for
	// writer, and (record) its registration's record, with no owner item at all.
	legacy := func(t *testing.T, record func(*regstore.Registration)) *env {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		id := uuid.NewString()
		e.ml.addVersion("hokusai-HLEAD", "7", runID,
			mlflow.Tag{Key: "user_id", Value: writer.UserID}, mlflow.Tag{Key: "hokusai_registration_id", Value: id})
		rec := regstore.Registration{
			PK: regstore.RegistrationPK(id), RegistrationID: id, UserID: writer.UserID, KeyID: writer.KeyID,
			ModelName: "hokusai-HLEAD", Version: "7", TokenID: "HLEAD", ModelID: "hokusai-HLEAD/7/HLEAD", RunID: runID,
			CreatedAt: "2026-01-01T00:00:00Z", Response: "{}",
		}
		if record != nil {
			record(&rec)
		}
		if rec.PK != "" {
			if err := e.store.Create(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		}
		return e
	}
	for _, tc := range []struct {
		name            string
		record          func(*regstore.Registration)
		intruder        int    // another user's announcement
		code            string // its refusal
		ownerAfterwards int
	}{
		{"tags and record agree: the registrant's", nil, 403, "MODEL_OWNED_BY_ANOTHER_USER", 200},
		{"no record: tags decide nothing", func(r *regstore.Registration) { r.PK = "" }, 403, "PERMISSION_DENIED", 403},
		{"a record of another user", func(r *regstore.Registration) { r.UserID = other.UserID }, 403, "PERMISSION_DENIED", 403},
		{"a record of another version", func(r *regstore.Registration) { r.Version = "8" }, 403, "PERMISSION_DENIED", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := legacy(t, tc.record)
			rec := announce(e, other)
			if rec.Code != tc.intruder || tc.code != "" && decode(t, rec)["error"] != tc.code {
				t.Fatalf("another user's announcement: %d %s, want %d %s", rec.Code, rec.Body, tc.intruder, tc.code)
			}
			if rec := announce(e, writer); rec.Code != tc.ownerAfterwards {
				t.Errorf("the tagged user's announcement: %d %s, want %d", rec.Code, rec.Body, tc.ownerAfterwards)
			}
		})
	}

	t.Run("an admin's announcement of a legacy version stays its registrant's", func(t *testing.T) {
		e := legacy(t, nil)
		if rec := announce(e, admin); rec.Code != 200 {
			t.Fatalf("admin: %d %s", rec.Code, rec.Body)
		}
		got, err := e.store.Get(context.Background(), registration.AnnouncementID("hokusai-HLEAD/7/HLEAD"))
		if err != nil || got.UserID != writer.UserID || got.KeyID != writer.KeyID || got.ActorUserID != admin.UserID {
			t.Errorf("record %+v %v", got, err)
		}
		refusedCode(t, announce(e, other), "MODEL_VERSION_OWNED_BY_ANOTHER_USER")
	})
}

func refusedCode(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	if rec.Code != 403 || decode(t, rec)["error"] != code {
		t.Errorf("%d %s, want 403 %s", rec.Code, rec.Body, code)
	}
}
