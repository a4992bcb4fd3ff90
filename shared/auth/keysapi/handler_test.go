package keysapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

func TestCreate(t *testing.T) {
	long := strings.Repeat("é", MaxDescription)
	tests := []struct {
		name   string
		caller *principal.Principal
		body   string
		status int
		code   string
		fields []string // of a 422
		check  func(t *testing.T, c Created)
	}{
		{name: "minimal body: the caller's own key, deployment env, no expiry", caller: admin,
			body: `{"scopes":["model:read"]}`, status: 201, check: func(t *testing.T, c Created) {
				if c.UserID != "admin-1" || c.Email != "admin@example.com" || c.ExpiresAt != nil || !strings.HasPrefix(c.Key, "hk_live_") {
					t.Errorf("created %+v", c.LogValue())
				}
			}},
		{name: "full body for another user", caller: admin,
			body: `{"user_id":"alice","email":"alice@example.com","scopes":["mlflow:write","model:read","mlflow:write"],
				"description":"` + long + `","expires_in_days":30,"environment":"test"}`,
			status: 201, check: func(t *testing.T, c Created) {
				if c.UserID != "alice" || c.Email != "alice@example.com" || !strings.HasPrefix(c.Key, "hk_test_") || c.Description != long {
					t.Errorf("created %+v", c.LogValue())
				}
				if !slices.Equal(c.Scopes, []string{"mlflow:write", "model:read"}) {
					t.Errorf("scopes %v, want duplicates dropped", c.Scopes)
				}
				if c.ExpiresAt == nil || !c.ExpiresAt.Equal(now.AddDate(0, 0, 30)) {
					t.Errorf("expires_at %v, want %v", c.ExpiresAt, now.AddDate(0, 0, 30))
				}
			}},
		{name: "another user without email keeps none", caller: admin, body: `{"user_id":"bob","scopes":["admin"]}`, status: 201,
			check: func(t *testing.T, c Created) {
				if c.UserID != "bob" || c.Email != "" {
					t.Errorf("created for %s <%s>", c.UserID, c.Email)
				}
			}},
		{name: "nulls mean defaults", caller: admin, body: `{"scopes":["write"],"user_id":null,"expires_in_days":null,"environment":null}`, status: 201},
		{name: "longest expiry", caller: admin, body: `{"scopes":["write"],"expires_in_days":3650}`, status: 201},
		{name: "admin through ADMIN_EMAILS", caller: adminByEmail, body: `{"scopes":["model:read"]}`, status: 201},

		{name: "malformed JSON", caller: admin, body: `{"scopes":`, status: 400, code: "BAD_REQUEST"},
		{name: "empty body", caller: admin, body: ``, status: 400, code: "BAD_REQUEST"},
		{name: "data after the object", caller: admin, body: `{"scopes":["admin"]} {}`, status: 400, code: "BAD_REQUEST"},
		{name: "not an object", caller: admin, body: `["admin"]`, status: 422, fields: []string{"body"}},
		{name: "null body", caller: admin, body: `null`, status: 422, fields: []string{"body"}},
		{name: "scopes as a string", caller: admin, body: `{"scopes":"admin"}`, status: 422, fields: []string{"scopes"}},
		{name: "scopes with a number", caller: admin, body: `{"scopes":["admin",1]}`, status: 422, fields: []string{"scopes"}},
		{name: "every wrong type reported", caller: admin, body: `{"scopes":["admin"],"user_id":5,"email":true,"description":[],"expires_in_days":"30","environment":{}}`,
			status: 422, fields: []string{"user_id", "email", "description", "expires_in_days", "environment"}},
		{name: "fractional days", caller: admin, body: `{"scopes":["admin"],"expires_in_days":1.5}`, status: 422, fields: []string{"expires_in_days"}},
		{name: "days overflow", caller: admin, body: `{"scopes":["admin"],"expires_in_days":1e400}`, status: 422, fields: []string{"expires_in_days"}},
		{name: "unknown field", caller: admin, body: `{"scopes":["admin"],"rate_limit":5}`, status: 422, fields: []string{"rate_limit"}},
		{name: "field names are case-sensitive", caller: admin, body: `{"Scopes":["admin"]}`, status: 422, fields: []string{"scopes", "Scopes"}},
		{name: "empty scopes", caller: admin, body: `{"scopes":[]}`, status: 422, fields: []string{"scopes"}},
		{name: "missing scopes", caller: admin, body: `{}`, status: 422, fields: []string{"scopes"}},
		{name: "unknown scope", caller: admin, body: `{"scopes":["model:read","superuser"]}`, status: 422, fields: []string{"scopes[1]"}},
		{name: "description too long", caller: admin, body: `{"scopes":["admin"],"description":"` + long + `x"}`, status: 422, fields: []string{"description"}},
		{name: "zero days", caller: admin, body: `{"scopes":["admin"],"expires_in_days":0}`, status: 422, fields: []string{"expires_in_days"}},
		{name: "too many days", caller: admin, body: `{"scopes":["admin"],"expires_in_days":3651}`, status: 422, fields: []string{"expires_in_days"}},
		{name: "unknown environment", caller: admin, body: `{"scopes":["admin"],"environment":"prod"}`, status: 422, fields: []string{"environment"}},
		{name: "e-mail with a display name", caller: admin, body: `{"scopes":["admin"],"email":"A <a@example.com>"}`, status: 422, fields: []string{"email"}},
		{name: "not an e-mail", caller: admin, body: `{"scopes":["admin"],"email":"nobody"}`, status: 422, fields: []string{"email"}},
		{name: "user id with a space", caller: admin, body: `{"scopes":["admin"],"user_id":"a b"}`, status: 422, fields: []string{"user_id"}},
		{name: "user id with a control character", caller: admin, body: `{"scopes":["admin"],"user_id":"a\u0000"}`, status: 422, fields: []string{"user_id"}},
		{name: "a key pasted into the description", caller: admin, body: `{"scopes":["admin"],"description":"old key hk_live_abcdefghijabcdefghij1234"}`, status: 422, fields: []string{"description"}},
		{name: "a key as the user id", caller: admin, body: `{"scopes":["admin"],"user_id":"hk_test_abcdefghijabcdefghij1234"}`, status: 422, fields: []string{"user_id"}},
		{name: "a key narrowed to patterns, stored as sent, duplicates dropped", caller: admin,
			body:   `{"scopes":["model:write"],"resource_patterns":["registered_model:hokusai-XRAY*","experiment:12","registered_model:hokusai-XRAY*"]}`,
			status: 201, check: func(t *testing.T, c Created) {
				if !slices.Equal(c.ResourcePatterns, []string{"registered_model:hokusai-XRAY*", "experiment:12"}) {
					t.Errorf("resource_patterns %v", c.ResourcePatterns)
				}
			}},
		{name: "a key not narrowed shows []", caller: admin, body: `{"scopes":["model:write"],"resource_patterns":null}`, status: 201,
			check: func(t *testing.T, c Created) {
				if c.ResourcePatterns == nil || len(c.ResourcePatterns) != 0 {
					t.Errorf("resource_patterns %#v, want []", c.ResourcePatterns)
				}
			}},
		{name: "resource_patterns not a list", caller: admin, body: `{"scopes":["admin"],"resource_patterns":"registered_model:x*"}`, status: 422, fields: []string{"resource_patterns"}},
		{name: "resource_patterns with a number", caller: admin, body: `{"scopes":["admin"],"resource_patterns":[1]}`, status: 422, fields: []string{"resource_patterns"}},
		{name: "bad patterns, each named", caller: admin,
			body:   `{"scopes":["admin"],"resource_patterns":["registered_model:ok*","run:abc","registered_model:","experiment:abc","registered_model:a\u0000"]}`,
			status: 422, fields: []string{"resource_patterns[1]", "resource_patterns[2]", "resource_patterns[3]", "resource_patterns[4]"}},
		{name: "a key pasted as a pattern", caller: admin, body: `{"scopes":["admin"],"resource_patterns":["registered_model:hk_live_abcdefghijabcdefghij1234"]}`, status: 422, fields: []string{"resource_patterns[0]"}},
		{name: "too many patterns", caller: admin, body: `{"scopes":["admin"],"resource_patterns":[` + strings.TrimSuffix(strings.Repeat(`"experiment:1",`, principal.MaxPatterns+1), ",") + `]}`, status: 422, fields: []string{"resource_patterns"}},
		{name: "a pattern too long", caller: admin, body: `{"scopes":["admin"],"resource_patterns":["registered_model:` + strings.Repeat("m", 257) + `"]}`, status: 422, fields: []string{"resource_patterns[0]"}},
		{name: "huge body", caller: admin, body: `{"scopes":["admin"],"description":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, status: 413, code: "PAYLOAD_TOO_LARGE"},

		{name: "non-admin creating", caller: alice, body: `{"scopes":["model:read"]}`, status: 403, code: "FORBIDDEN"},
		{name: "non-admin granting admin", caller: alice, body: `{"scopes":["admin"]}`, status: 403, code: "FORBIDDEN"},
		{name: "non-admin learns nothing of the body", caller: alice, body: `{"scopes":`, status: 403, code: "FORBIDDEN"},
		{name: "no principal", caller: nil, body: `{"scopes":["model:read"]}`, status: 401, code: "UNAUTHORIZED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			w := call(t, newHandler(testConfig(), store), "POST", "/api/keys", tt.body, tt.caller, nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if w.Code != http.StatusCreated {
				checkError(t, w.Body.Bytes(), tt.code, tt.fields)
				if n := len(store.all()); n != 0 {
					t.Errorf("a rejected request stored %d keys", n)
				}
				return
			}
			c := decode[Created](t, w)
			checkCreated(t, c, store)
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func checkError(t *testing.T, body []byte, code string, fields []string) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if fields != nil {
		code = "VALIDATION_ERROR"
		var got []string
		var fes []struct{ Field, Message string }
		if err := json.Unmarshal(e.Detail, &fes); err != nil {
			t.Fatalf("422 detail %s: %v", e.Detail, err)
		}
		for _, fe := range fes {
			got = append(got, fe.Field)
		}
		if !slices.Equal(got, fields) {
			t.Errorf("fields %v, want %v (%s)", got, fields, e.Detail)
		}
	}
	if e.Error != code || len(e.Detail) == 0 {
		t.Errorf("error %q detail %s, want code %s", e.Error, e.Detail, code)
	}
	if code == "FORBIDDEN" && e.RequiredScope == "" {
		t.Error("a 403 without required_scope")
	}
}

// checkCreated asserts what every new key satisfies: well formed, stored only as its digest.
func checkCreated(t *testing.T, c Created, store *fakeStore) {
	t.Helper()
	if _, ok := apikey.Env(c.Key); !ok {
		t.Errorf("key %q is malformed", apikey.DisplayPrefix(c.Key))
	}
	if c.Warning != Warning || c.DisplayPrefix != apikey.DisplayPrefix(c.Key) || !c.CreatedAt.Equal(now) || c.KeyID == "" {
		t.Errorf("created %+v, warning %q, prefix %q", c.LogValue(), c.Warning, c.DisplayPrefix)
	}
	recs := store.all()
	if len(recs) != 1 {
		t.Fatalf("store holds %d keys, want 1", len(recs))
	}
	rec := recs[0]
	if rec.KeyHash != apikey.Digest(c.Key) || rec.KeyID != c.KeyID || rec.Status != keystore.StatusActive {
		t.Errorf("stored %+v", rec)
	}
	if strings.Contains(fmt.Sprintf("%+v", rec), c.Key) {
		t.Error("the store received the plain key")
	}
}

// A store that fails is a 500 whose body says nothing of the cause.
func TestCreateStoreFailure(t *testing.T) {
	store := newFakeStore()
	store.err = errors.New("dynamodb: ThrottlingException arn:aws:dynamodb:secret-table")
	w := call(t, newHandler(testConfig(), store), "POST", "/api/keys", `{"scopes":["admin"]}`, admin, nil)
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret-table") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	checkError(t, w.Body.Bytes(), "INTERNAL_ERROR", nil)
}

// A Content-Length over the limit is refused before the body is read.
func TestCreateDeclaredTooLarge(t *testing.T) {
	h := newHandler(testConfig(), newFakeStore())
	r := gatewayRequest(t, "POST", "/api/keys", `{"scopes":["admin"]}`, admin, nil)
	r.ContentLength = MaxBodyBytes + 1
	w := serveRequest(h, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413: %s", w.Code, w.Body)
	}
}

func TestList(t *testing.T) {
	recs := []keystore.Record{
		stored("a1", "alice", now.Add(-2*time.Hour)),
		stored("a2", "alice", now.Add(-time.Hour)),
		stored("b1", "bob", now.Add(-90*time.Minute)),
		stored("a0", "alice", now.Add(-time.Hour)), // same time as a2: ordered by id
	}
	recs[0].ResourcePatterns = []string{"registered_model:hokusai-XRAY*"}
	revoked := stored("a3", "alice", now.Add(-3*time.Hour))
	revoked.Status, revoked.RevokedAt, revoked.ExpiresAt = keystore.StatusRevoked, now.Add(-time.Minute), now.Add(time.Hour)
	recs = append(recs, revoked)
	tests := []struct {
		name   string
		caller *principal.Principal
		status int
		want   []string
	}{
		{"admin sees every key, newest first", admin, 200, []string{"a0", "a2", "b1", "a1", "a3"}},
		{"admin by e-mail too", adminByEmail, 200, []string{"a0", "a2", "b1", "a1", "a3"}},
		{"a user sees their own", alice, 200, []string{"a0", "a2", "a1", "a3"}},
		{"a user without keys sees none", &principal.Principal{UserID: "carol", Scopes: []string{"model:read"}}, 200, []string{}},
		{"a key without any scope is refused", noScope, 403, nil},
		{"no principal", nil, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(t, newHandler(testConfig(), newFakeStore(recs...)), "GET", "/api/keys", "", tt.caller, nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				return
			}
			if strings.Contains(w.Body.String(), "hash-") || strings.Contains(w.Body.String(), "key_hash") {
				t.Errorf("listing exposes digests: %s", w.Body)
			}
			if tt.want != nil && len(tt.want) == 0 && !strings.Contains(w.Body.String(), `"keys":[]`) {
				t.Errorf("empty listing is not []: %s", w.Body)
			}
			list := decode[KeyList](t, w)
			var ids []string
			for _, k := range list.Keys {
				ids = append(ids, k.KeyID)
			}
			if !slices.Equal(ids, tt.want) && !(len(ids) == 0 && len(tt.want) == 0) || list.Count != len(tt.want) {
				t.Errorf("ids %v count %d, want %v", ids, list.Count, tt.want)
			}
			for _, k := range list.Keys {
				if k.KeyID == "a3" && (k.Status != "revoked" || k.RevokedAt == nil || k.ExpiresAt == nil) {
					t.Errorf("revoked key listed as %+v", k)
				}
				if k.KeyID == "a1" && (k.RevokedAt != nil || k.ExpiresAt != nil || !slices.Equal(k.ResourcePatterns, []string{"registered_model:hokusai-XRAY*"})) {
					t.Errorf("active narrowed key without expiry listed as %+v", k)
				}
				if k.KeyID == "a2" && (k.ResourcePatterns == nil || len(k.ResourcePatterns) != 0) {
					t.Errorf("a key not narrowed lists resource_patterns %#v, want []", k.ResourcePatterns)
				}
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	const (
		aliceKey = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
		bobKey   = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
		unknown  = "00000000-0000-4000-8000-000000000000"
	)
	earlier := now.Add(-time.Hour)
	tests := []struct {
		name      string
		caller    *principal.Principal
		id        string
		revoked   bool // the key is already revoked, at earlier
		revokeErr error
		status    int
		code      string
	}{
		{name: "owner revokes own key", caller: alice, id: aliceKey, status: 200},
		{name: "admin revokes anyone's", caller: admin, id: bobKey, status: 200},
		{name: "admin by e-mail", caller: adminByEmail, id: bobKey, status: 200},
		{name: "revoking twice answers as the first time", caller: alice, id: aliceKey, revoked: true, status: 200},
		{name: "non-admin revoking another's key", caller: alice, id: bobKey, status: 403, code: "FORBIDDEN"},
		{name: "unknown id", caller: admin, id: unknown, status: 404, code: "NOT_FOUND"},
		{name: "not a key id", caller: admin, id: "not-a-uuid", status: 404, code: "NOT_FOUND"},
		{name: "a key id in another spelling", caller: admin, id: strings.ToUpper(aliceKey), status: 404, code: "NOT_FOUND"},
		{name: "deleted between lookup and update", caller: admin, id: aliceKey, revokeErr: keystore.ErrNotFound, status: 404, code: "NOT_FOUND"},
		{name: "store failure", caller: admin, id: aliceKey, revokeErr: errors.New("boom"), status: 500, code: "INTERNAL_ERROR"},
		{name: "key without scopes", caller: noScope, id: aliceKey, status: 403, code: "FORBIDDEN"},
		{name: "no principal", caller: nil, id: aliceKey, status: 401, code: "UNAUTHORIZED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := stored(aliceKey, "alice", earlier), stored(bobKey, "bob", earlier)
			if tt.revoked {
				a.Status, a.RevokedAt = keystore.StatusRevoked, earlier
			}
			store := newFakeStore(a, b)
			store.revokeErr = tt.revokeErr
			w := call(t, newHandler(testConfig(), store), "DELETE", "/api/keys/"+tt.id, "", tt.caller, nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				checkError(t, w.Body.Bytes(), tt.code, nil)
				return
			}
			got := decode[Revoked](t, w)
			wantAt := now
			if tt.revoked {
				wantAt = earlier
				if store.revokes != 0 {
					t.Errorf("an already revoked key was written %d times", store.revokes)
				}
			}
			if got.KeyID != tt.id || got.Status != "revoked" || !got.RevokedAt.Equal(wantAt) || got.EffectiveWithinSeconds != 360 ||
				!strings.Contains(got.Detail, "every cache forgets the key within 360 seconds") {
				t.Errorf("answer %+v, want revoked at %s within 360 s", got, wantAt)
			}
			for _, r := range store.all() {
				if r.KeyID == tt.id && r.Status != keystore.StatusRevoked {
					t.Errorf("stored status %s", r.Status)
				}
			}
		})
	}
}

// The delay stated is the sum of both caches, rounded up; with no caches it says so.
func TestRevokeDelay(t *testing.T) {
	for _, tt := range []struct {
		auth, gateway time.Duration
		want          int
		detail        string
	}{
		{60 * time.Second, 0, 60, "within 60 seconds"},
		{1500 * time.Millisecond, 0, 2, "within 2 seconds"},
		{0, 0, 0, "rejected from now on"},
	} {
		cfg := testConfig()
		cfg.AuthCacheTTL, cfg.AuthorizerCacheTTL = tt.auth, tt.gateway
		store := newFakeStore(stored("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "alice", now))
		w := call(t, newHandler(cfg, store), "DELETE", "/api/keys/1b4e28ba-2fa1-11d2-883f-0016d3cca427", "", alice, nil)
		got := decode[Revoked](t, w)
		if got.EffectiveWithinSeconds != tt.want || !strings.Contains(got.Detail, tt.detail) {
			t.Errorf("%s + %s: %d %q", tt.auth, tt.gateway, got.EffectiveWithinSeconds, got.Detail)
		}
	}
}

// With AUTH_SOURCE=external every route, and every other path, answers KEYS_API_DISABLED.
func TestExternalModeDisablesEveryRoute(t *testing.T) {
	cfg := testConfig()
	cfg.AuthSource = keystore.SourceExternal
	store := newFakeStore(stored("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "alice", now))
	h := newHandler(cfg, store)
	for _, caller := range []*principal.Principal{admin, alice, nil} {
		for _, route := range [][3]string{
			{"POST", "/api/keys", `{"scopes":["admin"]}`},
			{"GET", "/api/keys", ""},
			{"DELETE", "/api/keys/1b4e28ba-2fa1-11d2-883f-0016d3cca427", ""},
			{"PUT", "/api/keys", ""},
		} {
			w := call(t, h, route[0], route[1], route[2], caller, nil)
			e := decode[errorBody](t, w)
			var detail string
			_ = json.Unmarshal(e.Detail, &detail)
			if w.Code != 404 || e.Error != "KEYS_API_DISABLED" || !strings.Contains(detail, "managed by the Hokusai auth service") {
				t.Errorf("%s %s: %d %s", route[0], route[1], w.Code, w.Body)
			}
		}
	}
	if len(store.all()) != 1 || store.revokes != 0 {
		t.Error("a disabled API touched the store")
	}
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	h := newHandler(testConfig(), newFakeStore())
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"PUT", "/api/keys", 405},
		{"GET", "/api/keys/1b4e28ba-2fa1-11d2-883f-0016d3cca427", 405},
		{"GET", "/api/other", 404},
	} {
		w := call(t, h, tt.method, tt.path, "", admin, nil)
		if w.Code != tt.status || decode[errorBody](t, w).Error == "" {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, w.Code, w.Body)
		}
	}
}

// The plain key leaves the function once, in the create response: not in a listing, not in a
// revoke answer, not in any log line (captured without the logger's redaction).
func TestPlainKeyOnlyInCreateResponse(t *testing.T) {
	log, logs := captureLog()
	store := newFakeStore()
	h := newHandler(testConfig(), store)
	w := call(t, h, "POST", "/api/keys", `{"user_id":"alice","scopes":["model:write"]}`, admin, log)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	c := decode[Created](t, w)
	secret := strings.TrimPrefix(c.Key, "hk_live_")
	if !strings.Contains(w.Body.String(), c.Key) || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("create response lacks the key or Cache-Control: no-store")
	}
	digest := apikey.Digest(c.Key)
	var later []string
	for _, req := range [][3]string{
		{"GET", "/api/keys", ""},
		{"DELETE", "/api/keys/" + c.KeyID, ""},
		{"DELETE", "/api/keys/" + c.KeyID, ""},
		{"POST", "/api/keys", `{"scopes":["` + c.Key + `"]}`}, // a client pasting the key where it does not belong
	} {
		for _, caller := range []*principal.Principal{admin, alice} {
			w := call(t, h, req[0], req[1], req[2], caller, log)
			later = append(later, w.Body.String())
		}
	}
	if !strings.Contains(logs.String(), `"msg":"api key created"`) || !strings.Contains(logs.String(), `"msg":"api key revoked"`) {
		t.Fatalf("logs were not captured: %s", logs)
	}
	for what, text := range map[string]string{"logs": logs.String(), "later responses": strings.Join(later, "\n")} {
		if strings.Contains(text, secret[:20]) || strings.Contains(text, digest) {
			t.Errorf("%s contain the key or its digest:\n%s", what, text)
		}
	}
}

func TestCreatedLogValueHidesKey(t *testing.T) {
	log, logs := captureLog()
	c := Created{Key: "hk_live_0123456789abcdefghijABCDEFGHIJ0123456789", KeyID: "id"}
	log.Info("oops", "created", c)
	if strings.Contains(logs.String(), "0123456789abcdefghij") {
		t.Errorf("logged %s", logs)
	}
}

// A deployment that accepts only live keys issues no other kind.
func TestCreateRefusesEnvironmentsTheDeploymentRejects(t *testing.T) {
	cfg := testConfig()
	cfg.AllowedKeyPrefixes = []string{"live"}
	store := newFakeStore()
	w := call(t, newHandler(cfg, store), "POST", "/api/keys", `{"scopes":["model:read"],"environment":"test"}`, admin, nil)
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	checkError(t, w.Body.Bytes(), "VALIDATION_ERROR", []string{"environment"})
	if len(store.all()) != 0 {
		t.Error("a key was stored")
	}
}
