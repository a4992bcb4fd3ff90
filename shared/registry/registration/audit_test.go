package registration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"
)

type auditBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *auditBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *auditBuffer) take(t *testing.T) []audit.Record {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		if strings.Contains(line, "0123456789abcdefghij") || !audit.Is([]byte(line)) {
			t.Fatalf("bad audit line %s", line)
		}
		var r audit.Record
		_ = json.Unmarshal([]byte(line), &r)
		out = append(out, r)
	}
	b.buf.Reset()
	return out
}

// Every registration and announcement, whatever its outcome, is audited; the registrations' read
// only when it refuses, including the 404 that hides another user's registration.
func TestAuditEveryRegistrationCallAndRefusal(t *testing.T) {
	var buf auditBuffer
	e := newEnv(t, "", func(d *registration.Deps) { d.Audit = audit.NewWriter(&buf, "register") })
	e.ml.addRun(runID, modelID)
	e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID)
	const key = "hk_live_0123456789abcdefghijABCDEFGHIJ0123456789"

	rec := e.register(t, registerBody(nil), writer, "")
	v := registered(t, rec)
	type want struct {
		op, kind, id, user string
		outcome            audit.Outcome
		status             int
		reason             string
	}
	check := func(t *testing.T, status int, w *want) {
		t.Helper()
		recs := buf.take(t)
		if w == nil {
			if len(recs) != 0 {
				t.Fatalf("audited: %+v", recs)
			}
			return
		}
		if len(recs) != 1 {
			t.Fatalf("%d records: %+v", len(recs), recs)
		}
		r := recs[0]
		got := want{r.Operation, r.Resource.Kind, r.Resource.ID, r.UserID, r.Outcome, r.Status, r.Reason}
		if got != *w || r.Status != status || r.RequestID != "req-1" || r.KeyID == "" || r.Function != "register" {
			t.Errorf("got %+v (answered %d)\nwant %+v", r, status, *w)
		}
	}
	t.Run("a registration", func(t *testing.T) {
		check(t, rec.Code, &want{registration.OpRegisterModel, "registered_model", v.ModelName, writer.UserID, audit.Allowed, 201, ""})
	})
	cases := []struct {
		name, method, path string
		body               []byte
		caller             principal.Principal
		want               *want
	}{
		{"a read key registering", "POST", "/api/models/register", registerBody(nil), reader,
			&want{registration.OpRegisterModel, "", "", reader.UserID, audit.Refused, 403, "FORBIDDEN"}},
		{"a refused body", "POST", "/api/models/register", registerBody(map[string]any{"model_data": key}), writer,
			&want{registration.OpRegisterModel, "", "", writer.UserID, audit.Refused, 422, "VALIDATION_ERROR"}},
		{"an announcement", "POST", "/api/models/tokenized-registration-events",
			rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"mlflow_run_id": rulestest.Absent}), writer,
			&want{registration.OpAnnounceVersion, "model_version", "hokusai-HLEAD/7", writer.UserID, audit.Allowed, 200, ""}},
		{"an announcement of a missing version", "POST", "/api/models/tokenized-registration-events",
			rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"mlflow_run_id": rulestest.Absent, "version": "8", "model_uri": "models:/hokusai-HLEAD/8"}), writer,
			&want{registration.OpAnnounceVersion, "model_version", "hokusai-HLEAD/8", writer.UserID, audit.Refused, 404, registration.CodeModelVersionNotFound}},
		{"reading one's own registration", "GET", "/api/registrations/" + v.RegistrationID, nil, writer, nil},
		{"reading another's registration", "GET", "/api/registrations/" + v.RegistrationID, nil, other,
			&want{registration.OpGetRegistration, "", "", other.UserID, audit.Refused, 404, registration.CodeRegistrationNotFound}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(t, context.Background(), tc.method, tc.path, tc.body, tc.caller, nil)
			check(t, res.Code, tc.want)
		})
	}
}
