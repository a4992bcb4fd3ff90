package keysapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
)

var now = time.Date(2025, 6, 1, 9, 30, 0, 123456789, time.UTC)

// Callers, as the authorizer describes them.
var (
	admin        = &principal.Principal{UserID: "admin-1", KeyID: "k-admin", Email: "admin@example.com", Scopes: []string{"admin"}}
	adminByEmail = &principal.Principal{UserID: "boss", KeyID: "k-boss", Email: "Boss@Example.com", Scopes: []string{"model:read"}}
	alice        = &principal.Principal{UserID: "alice", KeyID: "k-alice", Scopes: []string{"model:write"}}
	bob          = &principal.Principal{UserID: "bob", KeyID: "k-bob", Scopes: []string{"mlflow:read"}}
	noScope      = &principal.Principal{UserID: "mallory", KeyID: "k-mallory"}
)

func testConfig() Config {
	return Config{
		KeysTable: "keys", AuthSource: keystore.SourceDynamoDB, AdminEmails: []string{"boss@example.com"},
		AuthCacheTTL: 60 * time.Second, AuthorizerCacheTTL: 300 * time.Second, KeyEnvironment: "live",
		AllowedKeyPrefixes: []string{"live", "test", "dev"},
	}
}

// fakeStore is an in-memory Store; err, when set, fails every call.
type fakeStore struct {
	mu      sync.Mutex
	recs    map[string]keystore.Record // by digest
	err     error
	revokes int
	// revokeErr fails Revoke only (a key deleted between lookup and update).
	revokeErr error
}

func newFakeStore(recs ...keystore.Record) *fakeStore {
	s := &fakeStore{recs: map[string]keystore.Record{}}
	for _, r := range recs {
		s.recs[r.KeyHash] = r
	}
	return s
}

func (s *fakeStore) Create(_ context.Context, rec keystore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, ok := s.recs[rec.KeyHash]; ok {
		return keystore.ErrExists
	}
	s.recs[rec.KeyHash] = rec
	return nil
}

func (s *fakeStore) ByID(_ context.Context, id string) (*keystore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	for _, r := range s.recs {
		if r.KeyID == id {
			return &r, nil
		}
	}
	return nil, nil
}

func (s *fakeStore) ListByUser(_ context.Context, user string) ([]keystore.Record, error) {
	all, err := s.ListAll(context.Background())
	return slices.DeleteFunc(all, func(r keystore.Record) bool { return r.UserID != user }), err
}

func (s *fakeStore) ListAll(context.Context) ([]keystore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return slices.Collect(maps.Values(s.recs)), nil
}

func (s *fakeStore) Revoke(_ context.Context, hash string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokes++
	if err := errors.Join(s.err, s.revokeErr); err != nil {
		return err
	}
	r, ok := s.recs[hash]
	if !ok {
		return keystore.ErrNotFound
	}
	r.Status = keystore.StatusRevoked
	if r.RevokedAt.IsZero() {
		r.RevokedAt = at
	}
	s.recs[hash] = r
	return nil
}

func (s *fakeStore) all() []keystore.Record {
	recs, _ := s.ListAll(context.Background())
	return recs
}

// stored is a record in the store, issued to user at created.
func stored(id, user string, created time.Time) keystore.Record {
	return keystore.Record{
		KeyHash: "hash-" + id, KeyID: id, UserID: user, Scopes: []string{"model:read"},
		Status: keystore.StatusActive, CreatedAt: created, DisplayPrefix: "hk_live_abcd",
	}
}

func newHandler(cfg Config, store Store) *Handler {
	h := New(cfg, store)
	h.now = func() time.Time { return now }
	return h
}

// call serves one request as API Gateway would deliver it, with caller (nil: no authorizer
// context) and log as the request's logger.
func call(t testing.TB, h http.Handler, method, path, body string, caller *principal.Principal, log *slog.Logger) *httptest.ResponseRecorder {
	t.Helper()
	return serveRequest(h, gatewayRequest(t, method, path, body, caller, log))
}

func gatewayRequest(t testing.TB, method, path, body string, caller *principal.Principal, log *slog.Logger) *http.Request {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := apigw.NewRequest(t.Context(), gatewayEvent(method, path, body, caller), log)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func gatewayEvent(method, path, body string, caller *principal.Principal) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		HTTPMethod: method, Path: path, Body: body,
		Headers:        map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1"},
	}
	if caller != nil {
		ev.RequestContext.Authorizer = caller.Context()
	}
	return ev
}

func serveRequest(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errorBody is every error answer's shape.
type errorBody struct {
	Detail        json.RawMessage `json:"detail"`
	Error         string          `json:"error"`
	RequiredScope string          `json:"required_scope"`
}

func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	return v
}

// fieldsOf lists the fields named by a 422's detail.
func fieldsOf(t testing.TB, detail json.RawMessage) []string {
	t.Helper()
	var fes []struct{ Field, Message string }
	if err := json.Unmarshal(detail, &fes); err != nil {
		t.Fatalf("422 detail %s is not a list of {field, message}: %v", detail, err)
	}
	var out []string
	for _, fe := range fes {
		if fe.Message == "" {
			t.Errorf("field %s has no message", fe.Field)
		}
		out = append(out, fe.Field)
	}
	return out
}

// captureLog is a logger that records everything, without the redaction of shared/platform/logging, so a
// test sees exactly what the code handed it.
func captureLog() (*slog.Logger, *testenv.Buffer) {
	buf := &testenv.Buffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
