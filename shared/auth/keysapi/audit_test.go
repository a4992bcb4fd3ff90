package keysapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

// records keeps the records handed to it as they are, before audit.Line redacts anything: a key
// that reaches a record is seen here even though the rendered line would hide it.
type records struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (r *records) Write(rec audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

func (r *records) take() []audit.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.recs
	r.recs = nil
	return out
}

// pastedKey is a key where its id or a field belongs: a client's mistake the records must not copy.
const pastedKey = "hk_live_0123456789abcdefghijABCDEFGHIJ0123456789"

// Every creation and revocation, whatever its outcome, and every refusal is one record naming the
// caller, the operation and the key by its id; a listing that succeeds is none. No record holds a
// key: not the one created, not one a client pasted into the path or the body.
func TestAuditEveryCreationRevocationAndRefusal(t *testing.T) {
	const (
		aliceKey = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
		bobKey   = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
	)
	type want struct {
		op, user, keyID, resource string
		outcome                   audit.Outcome
		status                    int
		reason                    string
	}
	tests := []struct {
		name, method, path, body string
		caller                   *principal.Principal
		storeErr                 error
		want                     *want // nil: no record
	}{
		{name: "a creation", method: "POST", path: "/api/keys", body: `{"user_id":"alice","scopes":["model:write"]}`, caller: admin,
			want: &want{OpCreateAPIKey, "admin-1", "k-admin", "(created)", audit.Allowed, 201, ""}},
		{name: "a creation by a non-admin", method: "POST", path: "/api/keys", body: `{"scopes":["admin"]}`, caller: alice,
			want: &want{OpCreateAPIKey, "alice", "k-alice", "", audit.Refused, 403, "FORBIDDEN"}},
		{name: "a creation with a key pasted into the body", method: "POST", path: "/api/keys",
			body: `{"scopes":["` + pastedKey + `"],"description":"` + pastedKey + `"}`, caller: admin,
			want: &want{OpCreateAPIKey, "admin-1", "k-admin", "", audit.Refused, 422, "VALIDATION_ERROR"}},
		{name: "a malformed creation", method: "POST", path: "/api/keys", body: `{"scopes":`, caller: admin,
			want: &want{OpCreateAPIKey, "admin-1", "k-admin", "", audit.Refused, 400, "BAD_REQUEST"}},
		{name: "a creation the store fails", method: "POST", path: "/api/keys", body: `{"scopes":["model:read"]}`, caller: admin,
			storeErr: fmt.Errorf("boom"), want: &want{OpCreateAPIKey, "admin-1", "k-admin", "", audit.Failed, 500, "INTERNAL_ERROR"}},
		{name: "a creation without a principal", method: "POST", path: "/api/keys", body: `{"scopes":["admin"]}`,
			want: &want{OpCreateAPIKey, "", "", "", audit.Refused, 401, "UNAUTHORIZED"}},
		{name: "a revocation", method: "DELETE", path: "/api/keys/" + aliceKey, caller: alice,
			want: &want{OpRevokeAPIKey, "alice", "k-alice", aliceKey, audit.Allowed, 200, ""}},
		{name: "a revocation of another's key", method: "DELETE", path: "/api/keys/" + bobKey, caller: alice,
			want: &want{OpRevokeAPIKey, "alice", "k-alice", bobKey, audit.Refused, 403, "FORBIDDEN"}},
		{name: "a revocation of a key pasted into the path", method: "DELETE", path: "/api/keys/" + pastedKey, caller: admin,
			want: &want{OpRevokeAPIKey, "admin-1", "k-admin", "", audit.Refused, 404, "NOT_FOUND"}},
		{name: "a revocation of an id in another spelling", method: "DELETE", path: "/api/keys/" + strings.ToUpper(aliceKey), caller: admin,
			want: &want{OpRevokeAPIKey, "admin-1", "k-admin", "", audit.Refused, 404, "NOT_FOUND"}},
		{name: "a listing", method: "GET", path: "/api/keys", caller: alice},
		{name: "a listing without scopes", method: "GET", path: "/api/keys", caller: noScope,
			want: &want{OpListAPIKeys, "mallory", "k-mallory", "", audit.Refused, 403, "FORBIDDEN"}},
		{name: "a listing the store fails", method: "GET", path: "/api/keys", caller: alice, storeErr: fmt.Errorf("boom")},
		{name: "a method no route serves", method: "PUT", path: "/api/keys", caller: alice,
			want: &want{"", "alice", "k-alice", "", audit.Refused, 405, "METHOD_NOT_ALLOWED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore(stored(aliceKey, "alice", now.Add(-time.Hour)), stored(bobKey, "bob", now.Add(-time.Hour)))
			store.err = tt.storeErr
			var recs records
			h := newHandler(testConfig(), store).WithAudit(&recs)
			w := call(t, h, tt.method, tt.path, tt.body, tt.caller, nil)
			got := recs.take()
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("answered %d, audited %+v", w.Code, got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("answered %d %s, %d records: %+v", w.Code, w.Body, len(got), got)
			}
			r := got[0]
			wantID := tt.want.resource
			if wantID == "(created)" {
				wantID = decode[Created](t, w).KeyID
			}
			if r.Operation != tt.want.op || r.UserID != tt.want.user || r.KeyID != tt.want.keyID ||
				r.Outcome != tt.want.outcome || r.Status != tt.want.status || r.Status != w.Code || r.Reason != tt.want.reason ||
				r.Resource.ID != wantID || r.Method != tt.method || r.RequestID != "req-1" {
				t.Errorf("record %+v\nwant %+v (resource %q)", r, *tt.want, wantID)
			}
			if tt.want.op != "" && r.Resource.Kind != ResourceAPIKey {
				t.Errorf("resource kind %q", r.Resource.Kind)
			}
			noKeyIn(t, r, pastedKey)
			if w.Code == 201 {
				noKeyIn(t, r, decode[Created](t, w).Key)
			}
		})
	}
}

// noKeyIn fails when any text of rec carries the secret part of key.
func noKeyIn(t *testing.T, rec audit.Record, key string) {
	t.Helper()
	b, _ := json.Marshal(rec)
	if secret := strings.TrimPrefix(key, "hk_live_"); strings.Contains(string(b), secret[:16]) {
		t.Errorf("a key in the record: %s", b)
	}
}

// In AUTH_SOURCE=external every route answers KEYS_API_DISABLED: a refusal, audited.
func TestAuditDisabledAPI(t *testing.T) {
	cfg := testConfig()
	cfg.AuthSource = keystore.SourceExternal
	var recs records
	h := newHandler(cfg, newFakeStore()).WithAudit(&recs)
	w := call(t, h, "POST", "/api/keys", `{"scopes":["admin"]}`, admin, nil)
	got := recs.take()
	if w.Code != 404 || len(got) != 1 || got[0].Operation != OpCreateAPIKey || got[0].Reason != "KEYS_API_DISABLED" || got[0].Outcome != audit.Refused {
		t.Errorf("answered %d, audited %+v", w.Code, got)
	}
}

// A bootstrap mints a key outside the API: audited as its own operation, with the invocation's
// request id and the new key's id, never the key.
func TestAuditBootstrap(t *testing.T) {
	var recs records
	h := newHandler(testConfig(), newFakeStore()).WithAudit(&recs)
	log, _ := captureLog()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "invoke-1"})
	out, err := h.Lambda(log)(ctx, json.RawMessage(`{"bootstrap_admin":{"user_id":"ops"}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := out.(Created)
	got := recs.take()
	if len(got) != 1 {
		t.Fatalf("%d records: %+v", len(got), got)
	}
	r := got[0]
	if r.Operation != OpBootstrapAdminKey || r.RequestID != "invoke-1" || r.Resource != (audit.Resource{Kind: ResourceAPIKey, ID: c.KeyID}) ||
		r.Outcome != audit.Allowed || r.Status != 201 {
		t.Errorf("record %+v", r)
	}
	noKeyIn(t, r, c.Key)

	if _, err := h.Lambda(log)(ctx, json.RawMessage(`{"bootstrap_admin":{"email":"x@example.com"}}`)); err == nil {
		t.Fatal("a bootstrap without a user minted a key")
	}
	if got := recs.take(); len(got) != 0 {
		t.Errorf("a bootstrap that minted nothing audited %+v", got)
	}
}

// The writer the function wires renders the handler's records as audit lines without any key.
func TestAuditLinesThroughTheWriter(t *testing.T) {
	log, _ := captureLog()
	var buf strings.Builder
	var mu sync.Mutex
	w := audit.NewWriter(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), "keys")
	h := newHandler(testConfig(), newFakeStore()).WithAudit(w)
	res := call(t, h, "POST", "/api/keys", `{"scopes":["model:read"]}`, admin, log)
	created := decode[Created](t, res)
	call(t, h, "DELETE", "/api/keys/"+created.KeyID, "", admin, log)
	call(t, h, "DELETE", "/api/keys/"+created.Key, "", admin, log)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for _, l := range lines {
		if !audit.Is([]byte(l)) || !strings.Contains(l, `"function":"keys"`) || strings.Contains(l, created.Key[8:24]) {
			t.Errorf("line %s", l)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
