package authservice_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authservice"
)

const testKey = "hk_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd"

// service is an auth service the test controls; it records what it was sent.
type service struct {
	*httptest.Server
	calls atomic.Int64
	conns atomic.Int64
	last  atomic.Pointer[seen]
}

type seen struct {
	method, path, auth, contentType, xff string
	body                                 map[string]any
}

func newService(t *testing.T, answer func(w http.ResponseWriter)) *service {
	t.Helper()
	s := &service{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		sn := &seen{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"),
			contentType: r.Header.Get("Content-Type"), xff: r.Header.Get("X-Forwarded-For")}
		_ = json.NewDecoder(r.Body).Decode(&sn.body)
		s.last.Store(sn)
		answer(w)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func reply(status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func client(t *testing.T, base string, timeout time.Duration) *authservice.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return authservice.New(u, "platform", timeout, nil)
}

func TestValidateClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answer   func(http.ResponseWriter)
		wantErr  error
		wantUser string
	}{
		{name: "200 object", answer: reply(200, `{"user_id":"u1","email":"a@b.c","key_id":"k1","scopes":["mlflow:write"],"is_admin":true}`), wantUser: "u1"},
		{name: "200 user.id", answer: reply(200, `{"user":{"id":42,"email":"x@y.z"},"key_id":"k"}`), wantUser: "42"},
		{name: "200 array", answer: reply(200, `[{"user_id":"u1"}]`), wantErr: authservice.ErrInvalid},
		{name: "200 not JSON", answer: reply(200, `<html>ok</html>`), wantErr: authservice.ErrInvalid},
		{name: "200 without user", answer: reply(200, `{"key_id":"k1","scopes":[]}`), wantErr: authservice.ErrInvalid},
		{name: "401", answer: reply(401, `{"detail":"Invalid or expired API key"}`), wantErr: authservice.ErrInvalid},
		{name: "403", answer: reply(403, `{}`), wantErr: authservice.ErrInvalid},
		{name: "404", answer: reply(404, `{}`), wantErr: authservice.ErrInvalid},
		{name: "429", answer: reply(429, `{"detail":"slow down"}`), wantErr: authservice.ErrRateLimited},
		{name: "500", answer: reply(500, `boom`), wantErr: authservice.ErrUnavailable},
		{name: "503", answer: reply(503, ``), wantErr: authservice.ErrUnavailable},
		{name: "400 is our fault, not the key's", answer: reply(400, `{}`), wantErr: authservice.ErrUnavailable},
		{name: "redirect not followed", answer: func(w http.ResponseWriter) {
			w.Header().Set("Location", "https://elsewhere.example/steal")
			w.WriteHeader(http.StatusFound)
		}, wantErr: authservice.ErrUnavailable},
		{name: "oversized answer", answer: reply(200, `{"user_id":"u","pad":"`+strings.Repeat("x", 70<<10)+`"}`), wantErr: authservice.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newService(t, tc.answer)
			res, err := client(t, s.URL, time.Second).Validate(context.Background(), testKey, "203.0.113.7")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testKey[8:]) {
				t.Errorf("error carries the key: %v", err)
			}
			if res.UserID != tc.wantUser {
				t.Errorf("user = %q, want %q", res.UserID, tc.wantUser)
			}
			if got := s.calls.Load(); got != 1 {
				t.Errorf("service called %d times, want 1", got)
			}
		})
	}
}

func TestValidateSendsBearerServiceIDAndSourceIP(t *testing.T) {
	s := newService(t, reply(200, `{"user_id":"u1"}`))
	u, _ := url.Parse(s.URL + "/prefix")
	c := authservice.New(u, "registry", time.Second, nil)
	res, err := c.Validate(context.Background(), testKey, "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	got := s.last.Load()
	if got.method != http.MethodPost || got.path != "/prefix/api/v1/keys/validate" {
		t.Errorf("request %s %s", got.method, got.path)
	}
	if got.auth != "Bearer "+testKey || got.contentType != "application/json" {
		t.Errorf("headers: auth %q, content-type %q", got.auth, got.contentType)
	}
	if got.xff != "" {
		t.Errorf("X-Forwarded-For sent: %q", got.xff)
	}
	want := map[string]any{"service_id": "registry", "client_ip": "203.0.113.7"}
	if len(got.body) != len(want) || got.body["service_id"] != want["service_id"] || got.body["client_ip"] != want["client_ip"] {
		t.Errorf("body %v, want %v", got.body, want)
	}
	if res.ServiceID != "registry" {
		t.Errorf("service id defaults to the configured one, got %q", res.ServiceID)
	}
}

func TestValidateTimesOut(t *testing.T) {
	release := make(chan struct{})
	s := newService(t, func(w http.ResponseWriter) { <-release })
	defer close(release) // before the server's Close, which waits for the handler
	// The service never answers: only the client's timeout can end the call, so no clock is read.
	_, err := client(t, s.URL, 100*time.Millisecond).Validate(context.Background(), testKey, "")
	if !errors.Is(err, authservice.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want unavailable by deadline", err)
	}
}

func TestValidateTransportError(t *testing.T) {
	s := newService(t, reply(200, `{}`))
	base := s.URL
	s.Close()
	_, err := client(t, base, time.Second).Validate(context.Background(), testKey, "")
	if !errors.Is(err, authservice.ErrUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if strings.Contains(err.Error(), testKey[8:]) {
		t.Errorf("error carries the key: %v", err)
	}
}

func TestValidateReusesConnections(t *testing.T) {
	s := newService(t, reply(401, `{"detail":"no"}`))
	c := client(t, s.URL, time.Second)
	for range 5 {
		if _, err := c.Validate(context.Background(), testKey, ""); !errors.Is(err, authservice.ErrInvalid) {
			t.Fatal(err)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 calls, want 1", n)
	}
}

func TestDecodeFields(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		check      func(t *testing.T, r authservice.Result)
	}{
		{"full", `{"user_id":"u1","email":"a@b.c","key_id":"k1","service_id":"platform","scopes":["model:read","mlflow:write"],"roles":["dev"],"is_admin":false,"rate_limit_per_hour":1000}`,
			func(t *testing.T, r authservice.Result) {
				if r.Email != "a@b.c" || r.KeyID != "k1" || r.ServiceID != "platform" || r.Admin ||
					!slices.Equal(r.Scopes, []string{"model:read", "mlflow:write"}) || !slices.Equal(r.Roles, []string{"dev"}) || r.RateLimitPerHour != 1000 {
					t.Errorf("%+v", r)
				}
			}},
		{"user object", `{"user":{"id":"u2","email":"e@f.g","is_admin":true}}`, func(t *testing.T, r authservice.Result) {
			if r.UserID != "u2" || r.Email != "e@f.g" || !r.Admin {
				t.Errorf("%+v", r)
			}
		}},
		{"user_id wins over user.id", `{"user_id":"top","user":{"id":"nested"}}`, func(t *testing.T, r authservice.Result) {
			if r.UserID != "top" {
				t.Errorf("%+v", r)
			}
		}},
		{"scopes as one string, loose types", `{"user_id":7,"scopes":"read  write","is_admin":"true","rate_limit_per_hour":"x"}`, func(t *testing.T, r authservice.Result) {
			if r.UserID != "7" || !slices.Equal(r.Scopes, []string{"read", "write"}) || !r.Admin || r.RateLimitPerHour != 0 {
				t.Errorf("%+v", r)
			}
		}},
		{"a scope with a space becomes two, as the context would make it", `{"user_id":"u","scopes":["a b"]}`, func(t *testing.T, r authservice.Result) {
			if !slices.Equal(r.Scopes, []string{"a", "b"}) {
				t.Errorf("%+v", r.Scopes)
			}
		}},
		{"a key narrowed to patterns", `{"user_id":"u","resource_patterns":["registered_model:hokusai-XRAY*","experiment:3"]}`, func(t *testing.T, r authservice.Result) {
			if len(r.Patterns) != 2 || r.Patterns[0].String() != "registered_model:hokusai-XRAY*" || r.Patterns[1].String() != "experiment:3" {
				t.Errorf("%+v", r.Patterns)
			}
		}},
		{"resource_patterns null or empty: not narrowed", `{"user_id":"u","resource_patterns":null}`, func(t *testing.T, r authservice.Result) {
			if r.Patterns != nil {
				t.Errorf("%+v", r.Patterns)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := authservice.Decode(200, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
	for _, body := range []string{`null`, `"u1"`, `42`, `[]`, ``, `{"user_id":""}`, `{"user_id":null}`, `{"user":"u1"}`,
		// A narrowing that cannot be read is never taken for none.
		`{"user_id":"u","resource_patterns":"registered_model:x*"}`, `{"user_id":"u","resource_patterns":[1]}`,
		`{"user_id":"u","resource_patterns":["model:x"]}`, `{"user_id":"u","resource_patterns":["registered_model:"]}`,
		`{"user_id":"u","resource_patterns":{}}`,
		`{"user_id":"u","resource_patterns":["experiment:1","experiment:1","experiment:1","experiment:1","experiment:1","experiment:1","experiment:1","experiment:1","experiment:1","experiment:1","experiment:1"]}`,
	} {
		if _, err := authservice.Decode(200, []byte(body)); !errors.Is(err, authservice.ErrInvalid) {
			t.Errorf("200 %s: err = %v, want invalid", body, err)
		}
	}
}

func FuzzDecodeAuthServiceResponse(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"user_id":"u1","scopes":["a"]}`}, {200, `{"user":{"id":1}}`}, {200, `[]`}, {200, `null`},
		{200, `{"user_id":{"x":1},"scopes":[1,2],"is_admin":[]}`}, {401, ``}, {429, `{}`}, {500, `x`}, {0, ``}, {-1, `{`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res, err := authservice.Decode(status, body)
		switch {
		case err == nil:
			if res.UserID == "" {
				t.Fatalf("valid result without a user id: status %d body %q", status, body)
			}
			if status != 200 {
				t.Fatalf("status %d classified valid", status)
			}
		case errors.Is(err, authservice.ErrInvalid), errors.Is(err, authservice.ErrRateLimited), errors.Is(err, authservice.ErrUnavailable):
		default:
			t.Fatalf("unclassified error %v", err)
		}
		for _, s := range res.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\n") {
				t.Fatalf("scope %q would not survive the space-separated context", s)
			}
		}
	})
}
