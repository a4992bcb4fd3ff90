package signin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/signin"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

const key = "hk_live_SigninTestKey0000000000000000000000000001"

// memStore is the sessions table behind signin.Sessions, with consumption as DynamoDB does it.
type memStore struct {
	mu       sync.Mutex
	links    map[string]uisession.Binding
	sessions map[string]uisession.Binding
}

func newStore() *memStore {
	return &memStore{links: map[string]uisession.Binding{}, sessions: map[string]uisession.Binding{}}
}

func (m *memStore) PutLink(_ context.Context, tok string, b uisession.Binding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links[tok] = b
	return nil
}

func (m *memStore) ConsumeLink(_ context.Context, tok string, now time.Time) (uisession.Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.links[tok]
	delete(m.links, tok)
	if !ok || !now.Before(b.Expires) {
		return uisession.Binding{}, uisession.ErrInvalid
	}
	return b, nil
}

func (m *memStore) PutSession(_ context.Context, id string, b uisession.Binding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[id] = b
	return nil
}

func (m *memStore) EndSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

type rig struct {
	now   time.Time
	store *memStore
	codec *uisession.Codec
	serve apigw.ProxyHandler
}

func newRig(t *testing.T) *rig {
	r := &rig{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), store: newStore()}
	var err error
	if r.codec, err = uisession.NewCodec([]byte(strings.Repeat("z", 40))); err != nil {
		t.Fatal(err)
	}
	cfg := signin.Config{SessionTTL: 8 * time.Hour, LinkTTL: time.Minute}
	r.serve = apigw.Handler(signin.New(cfg, r.codec, r.store, func() time.Time { return r.now }), slog.New(slog.DiscardHandler))
	return r
}

// call sends one event as API Gateway would on the execute-api domain (stage in the path).
func (r *rig) call(t *testing.T, method, path, body string, headers map[string]string, withKey bool) events.APIGatewayProxyResponse {
	t.Helper()
	h := map[string]string{"Host": "gw.example", "X-Forwarded-Proto": "https"}
	for k, v := range headers {
		h[k] = v
	}
	ev := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Headers: h, Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r1", Stage: "prod", Path: "/prod" + path}}
	if withKey {
		ev.Headers["Authorization"] = "Bearer " + key
		ev.RequestContext.Authorizer = map[string]any{"user_id": "u1", "key_id": "k1"}
	}
	res, err := r.serve(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func setCookie(t *testing.T, res events.APIGatewayProxyResponse) *http.Cookie {
	t.Helper()
	vs := res.MultiValueHeaders["Set-Cookie"]
	if len(vs) != 1 {
		t.Fatalf("Set-Cookie %v (status %d, %s)", vs, res.StatusCode, res.Body)
	}
	c, err := http.ParseSetCookie(vs[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignInLink(t *testing.T) {
	r := newRig(t)
	res := r.call(t, "POST", "/api/ui/signin-links", `{"mount":"mlflow"}`, nil, true)
	var link signin.Link
	if res.StatusCode != 201 || json.Unmarshal([]byte(res.Body), &link) != nil {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
	if !strings.HasPrefix(link.URL, "https://gw.example/prod/mlflow/signin/hsl_") || !link.ExpiresAt.Equal(r.now.Add(time.Minute)) {
		t.Fatalf("%+v", link)
	}
	path := strings.TrimPrefix(link.URL, "https://gw.example/prod")

	land := r.call(t, "GET", path, "", nil, false)
	c := setCookie(t, land)
	if land.StatusCode != 303 || land.MultiValueHeaders["Location"][0] != "../" || land.MultiValueHeaders["Referrer-Policy"][0] != "no-referrer" {
		t.Errorf("%d %v", land.StatusCode, land.MultiValueHeaders)
	}
	id, err := r.codec.Parse(c.Value, r.now)
	if err != nil || r.store.sessions[id].KeyHash != apikey.Digest(key) || r.store.sessions[id].UserID != "u1" {
		t.Errorf("session %v %+v", err, r.store.sessions)
	}
	if again := r.call(t, "GET", path, "", nil, false); again.StatusCode != 401 || strings.Contains(again.Body, "hsl_") {
		t.Errorf("second use: %d %s", again.StatusCode, again.Body)
	}

	t.Run("a link expires", func(t *testing.T) {
		res := r.call(t, "POST", "/api/ui/signin-links", "", nil, true)
		_ = json.Unmarshal([]byte(res.Body), &link)
		r.now = r.now.Add(time.Minute)
		if got := r.call(t, "GET", strings.TrimPrefix(link.URL, "https://gw.example/prod"), "", nil, false); got.StatusCode != 401 ||
			len(got.MultiValueHeaders["Set-Cookie"]) != 0 {
			t.Errorf("%d %s", got.StatusCode, got.Body)
		}
	})
	t.Run("ugly bodies and tokens", func(t *testing.T) {
		for _, body := range []string{`{"mount":"api/2.0/mlflow"}`, `{"mount":"/mlflow"}`, `{"mount":1}`, `{"mount":"mlflow","x":1}`, `[]`, `{`, `"mlflow"`} {
			if got := r.call(t, "POST", "/api/ui/signin-links", body, nil, true); got.StatusCode < 400 || got.StatusCode >= 500 {
				t.Errorf("%s: %d %s", body, got.StatusCode, got.Body)
			}
		}
		if got := r.call(t, "POST", "/api/ui/signin-links", "", nil, false); got.StatusCode != 401 {
			t.Errorf("without the authorizer's principal: %d", got.StatusCode)
		}
		for _, p := range []string{"/signin/x", "/api/mlflow/signin/hsl_" + strings.Repeat("A", 42), "/api/mlflow/signin/" + key} {
			if got := r.call(t, "GET", p, "", nil, false); got.StatusCode != 401 || strings.Contains(got.Body, key) {
				t.Errorf("%s: %d %s", p, got.StatusCode, got.Body)
			}
		}
	})
}

func TestSessionsAndSignout(t *testing.T) {
	r := newRig(t)
	same := map[string]string{"Sec-Fetch-Site": "same-origin"}
	if got := r.call(t, "POST", "/api/ui/sessions", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, true); got.StatusCode != 403 ||
		len(r.store.sessions) != 0 || len(got.MultiValueHeaders["Set-Cookie"]) != 0 {
		t.Fatalf("cross-site sign-in: %d %s", got.StatusCode, got.Body)
	}
	res := r.call(t, "POST", "/api/ui/sessions", "", same, true)
	c := setCookie(t, res)
	if res.StatusCode != 200 || c.MaxAge != 8*3600 || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode ||
		strings.Contains(res.Body, c.Value) || len(r.store.sessions) != 1 {
		t.Fatalf("%d %s %+v", res.StatusCode, res.Body, c)
	}
	cookie := map[string]string{"Cookie": uisession.CookieName + "=" + c.Value}
	if got := r.call(t, "POST", "/api/ui/signout", "", cookie, false); got.StatusCode != 403 || len(r.store.sessions) != 1 {
		t.Errorf("sign-out without an origin: %d", got.StatusCode)
	}
	cookie["Sec-Fetch-Site"] = "same-origin"
	out := r.call(t, "POST", "/api/ui/signout", "", cookie, false)
	if cleared := setCookie(t, out); out.StatusCode != 200 || cleared.MaxAge >= 0 || len(r.store.sessions) != 0 {
		t.Errorf("sign-out: %d %+v %v", out.StatusCode, cleared, r.store.sessions)
	}
	if again := r.call(t, "POST", "/api/ui/signout", "", same, false); again.StatusCode != 200 {
		t.Errorf("signing out without a session: %d", again.StatusCode)
	}
}

func TestPage(t *testing.T) {
	r := newRig(t)
	for path, api := range map[string]string{"/api/mlflow/signin": `data-api="../../"`, "/mlflow/signin": `data-api="../"`, "/signin": `data-api="./"`} {
		res := r.call(t, "GET", path, "", nil, false)
		csp := res.MultiValueHeaders["Content-Security-Policy"]
		if res.StatusCode != 200 || !strings.Contains(res.Body, api) || len(csp) != 1 || csp[0] != signin.PageCSP ||
			strings.Contains(csp[0], "unsafe-inline") {
			t.Errorf("%s: %d %v", path, res.StatusCode, res.MultiValueHeaders)
		}
		for _, id := range []string{"signin-form", "signin-key", "signin-submit", "signin-error"} {
			if !strings.Contains(res.Body, `id="`+id+`"`) {
				t.Errorf("%s: no #%s", path, id)
			}
		}
	}
}

func TestGuard(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) })
	serve := apigw.Handler(signin.Guard(next), slog.New(slog.DiscardHandler))
	for _, tc := range []struct {
		name    string
		method  string
		session bool
		headers map[string]string
		want    int
	}{
		{"session read", "GET", true, nil, 299},
		{"session write, same origin", "POST", true, map[string]string{"Sec-Fetch-Site": "same-origin"}, 299},
		{"session write, matching Origin", "DELETE", true, map[string]string{"Origin": "https://gw.example"}, 299},
		{"session write, cross-site", "POST", true, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"session write, foreign Origin", "PATCH", true, map[string]string{"Origin": "https://evil.example"}, 403},
		{"session write, no origin", "POST", true, nil, 403},
		{"key write, no origin", "POST", false, nil, 299},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Host": "gw.example"}
			for k, v := range tc.headers {
				h[k] = v
			}
			ev := events.APIGatewayProxyRequest{HTTPMethod: tc.method, Path: "/api/mlflow/ajax-api/2.0/mlflow/runs/create", Headers: h,
				RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"user_id": "u1"}}}
			if tc.session {
				ev.RequestContext.Authorizer[uisession.AuthMethodKey] = uisession.AuthMethodSession
			}
			res, _ := serve(context.Background(), ev)
			if res.StatusCode != tc.want || tc.want == 403 && !strings.Contains(res.Body, `"error_code":"PERMISSION_DENIED"`) {
				t.Errorf("%d %s", res.StatusCode, res.Body)
			}
		})
	}
}
