package authorizer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

// fakeSessions is the sessions table behind SessionStore.
type fakeSessions struct {
	mu    sync.Mutex
	byID  map[string]uisession.Binding
	reads int
	err   error
}

func (f *fakeSessions) Session(_ context.Context, id string, now time.Time) (uisession.Binding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return uisession.Binding{}, f.err
	}
	b, ok := f.byID[id]
	if !ok || !now.Before(b.Expires) {
		return uisession.Binding{}, uisession.ErrInvalid
	}
	return b, nil
}

func uiRequest(resource string, headers map[string]string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	req := request(headers)
	req.Resource = resource
	return req
}

func TestSessionCookie(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, false, nil)
	key := testKey("live", 41)
	r.db.putRecord(t, key, keystore.Record{UserID: "u41", KeyID: "k41", Status: keystore.StatusActive, Scopes: []string{"mlflow:read"}})
	codec, err := uisession.NewCodec([]byte(strings.Repeat("k", 40)))
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeSessions{byID: map[string]uisession.Binding{}}
	mint := func(b uisession.Binding) string {
		value, id, err := codec.Mint(b.Expires)
		if err != nil {
			t.Fatal(err)
		}
		store.byID[id] = b
		return uisession.CookieName + "=" + value
	}
	live := mint(uisession.Binding{KeyHash: apikey.Digest(key), UserID: "u41", Expires: t0.Add(time.Hour)})
	otherUser := mint(uisession.Binding{KeyHash: apikey.Digest(key), UserID: "someone-else", Expires: t0.Add(time.Hour)})
	unknownKey := mint(uisession.Binding{KeyHash: apikey.Digest(testKey("live", 42)), UserID: "u42", Expires: t0.Add(time.Hour)})
	forged := uisession.CookieName + "=hss_" + strings.Repeat("A", 43) + ".9999999999." + strings.Repeat("B", 43)

	h := authorizer.NewHandler(r.v, quietLog)
	h.EnableSessions(codec, store)
	const ui = "/api/mlflow/ajax-api/{proxy+}"
	for _, tc := range []struct {
		name     string
		resource string
		headers  map[string]string
		want     string // user id, or "" for Unauthorized
		session  bool
	}{
		{"cookie on a UI route", ui, map[string]string{"Cookie": "a=b; " + live}, "u41", true},
		{"cookie header in another case", "/", map[string]string{"cookie": live}, "u41", true},
		{"cookie on the bare host's static files", "/static-files/{proxy+}", map[string]string{"Cookie": live}, "u41", true},
		{"cookie on the MLflow API", "/api/2.0/mlflow/{proxy+}", map[string]string{"Cookie": live}, "", false},
		{"cookie on the MLflow API under a mount", "/api/mlflow/{proxy+}", map[string]string{"Cookie": live}, "", false},
		{"cookie on the keys API", "/api/keys", map[string]string{"Cookie": live}, "", false},
		{"cookie on the registry", "/api/models/register", map[string]string{"Cookie": live}, "", false},
		{"cookie on sign-in links", "/api/ui/signin-links", map[string]string{"Cookie": live}, "", false},
		{"no resource", "", map[string]string{"Cookie": live}, "", false},
		{"no cookie", ui, map[string]string{"Cookie": "a=b"}, "", false},
		{"two session cookies", ui, map[string]string{"Cookie": live + "; " + otherUser}, "", false},
		// Once the first spelling in map order decided, so this was accepted as one user or the other.
		{"two session cookies under two spellings of Cookie", ui, map[string]string{"Cookie": live, "cookie": otherUser}, "", false},
		{"one session cookie beside another spelling's other cookies", ui, map[string]string{"Cookie": live, "cookie": "a=b"}, "u41", true},
		{"forged cookie", ui, map[string]string{"Cookie": forged}, "", false},
		{"the session's user no longer owns the key", ui, map[string]string{"Cookie": otherUser}, "", false},
		{"the session's key is unknown", ui, map[string]string{"Cookie": unknownKey}, "", false},
		{"a key decides alone", ui, map[string]string{"Cookie": unknownKey, "Authorization": "Bearer " + key}, "u41", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := h.Handle(ctx, uiRequest(tc.resource, tc.headers))
			if tc.want == "" {
				if err == nil || err.Error() != "Unauthorized" {
					t.Fatalf("%+v %v, want Unauthorized", res, err)
				}
				return
			}
			if err != nil || res.PrincipalID != tc.want || res.PolicyDocument.Statement[0].Effect != "Allow" {
				t.Fatalf("%+v %v", res, err)
			}
			if got := res.Context[uisession.AuthMethodKey] == uisession.AuthMethodSession; got != tc.session {
				t.Errorf("auth_method session = %v, want %v", got, tc.session)
			}
		})
	}

	t.Run("a forged cookie costs no read", func(t *testing.T) {
		before := store.reads
		_, _ = h.Handle(ctx, uiRequest(ui, map[string]string{"Cookie": forged}))
		if store.reads != before {
			t.Error("the sessions table was read for a forged cookie")
		}
	})
	t.Run("the sessions table down is a failure, not a 401", func(t *testing.T) {
		store.err = errors.New("throttled")
		defer func() { store.err = nil }()
		_, err := h.Handle(ctx, uiRequest(ui, map[string]string{"Cookie": live}))
		if err == nil || err.Error() == "Unauthorized" {
			t.Errorf("%v", err)
		}
	})
	t.Run("revoking the key ends the session within AUTH_CACHE_TTL", func(t *testing.T) {
		r.db.putRecord(t, key, keystore.Record{UserID: "u41", KeyID: "k41", Status: keystore.StatusRevoked})
		if _, err := h.Handle(ctx, uiRequest(ui, map[string]string{"Cookie": live})); err != nil {
			t.Fatalf("within the cache: %v", err)
		}
		r.clk.Advance(ttl + time.Second)
		if _, err := h.Handle(ctx, uiRequest(ui, map[string]string{"Cookie": live})); err == nil || err.Error() != "Unauthorized" {
			t.Errorf("after AUTH_CACHE_TTL: %v", err)
		}
	})
	t.Run("without sessions enabled the cookie is never accepted", func(t *testing.T) {
		plain := authorizer.NewHandler(newRig(t, false, nil).v, quietLog)
		if _, err := plain.Handle(ctx, uiRequest(ui, map[string]string{"Cookie": live})); err == nil || err.Error() != "Unauthorized" {
			t.Errorf("%v", err)
		}
	})
	if strings.Contains(r.logs.String(), "hss_") || strings.Contains(r.logs.String(), key) {
		t.Error("a cookie or key reached the log")
	}
}

func TestValidateDigestRefusesNonDigests(t *testing.T) {
	r := newRig(t, false, nil)
	for _, d := range []string{"", "abc", strings.Repeat("G", 64), strings.Repeat("A", 64), strings.Repeat("a", 63), strings.Repeat("a", 65), testKey("live", 1)} {
		if _, err := r.v.ValidateDigest(context.Background(), d); !errors.Is(err, authorizer.ErrUnauthorized) {
			t.Errorf("%q: %v", d, err)
		}
	}
	if n := r.calls().get; n != 0 {
		t.Errorf("%d reads for junk digests", n)
	}
}
