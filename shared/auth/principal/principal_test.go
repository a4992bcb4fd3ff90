package principal_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

func TestLevel(t *testing.T) {
	admins := []string{"Boss@Hokus.ai"}
	for _, tc := range []struct {
		scopes []string
		admin  bool
		email  string
		want   principal.Level
	}{
		{nil, false, "", principal.None},
		{[]string{"unknown"}, false, "", principal.None},
		{[]string{"model:read"}, false, "", principal.Read},
		{[]string{"mlflow:read"}, false, "", principal.Read},
		{[]string{"model:write"}, false, "", principal.Write},
		{[]string{"mlflow:write"}, false, "", principal.Write},
		{[]string{"mlflow:access"}, false, "", principal.Write},
		{[]string{"write"}, false, "", principal.Write},
		{[]string{"full_access"}, false, "", principal.Write},
		{[]string{"admin"}, false, "", principal.Admin},
		{[]string{"mlflow:admin"}, false, "", principal.Admin},
		{[]string{"registry:admin"}, false, "", principal.Admin},
		{nil, true, "", principal.Admin},
		{[]string{"model:read"}, false, "boss@hokus.ai", principal.Admin},
		{[]string{"model:read"}, false, "someone@hokus.ai", principal.Read},
	} {
		p := principal.Principal{UserID: "u", Scopes: tc.scopes, Admin: tc.admin, Email: tc.email}
		if got := p.Level(admins); got != tc.want {
			t.Errorf("%v admin=%v email=%q: %s, want %s", tc.scopes, tc.admin, tc.email, got, tc.want)
		}
	}
}

func TestContextRoundTrip(t *testing.T) {
	p := principal.Principal{UserID: "u1", KeyID: "k1", Email: "a@b.c", ServiceID: "platform", Scopes: []string{"model:read", "write"}, Admin: true}
	// Through JSON, as API Gateway carries it.
	b, _ := json.Marshal(p.Context())
	var ctx map[string]any
	_ = json.Unmarshal(b, &ctx)
	got, ok := principal.FromAuthorizer(ctx)
	if !ok || got.UserID != "u1" || got.KeyID != "k1" || len(got.Scopes) != 2 || !got.Admin || got.ServiceID != "platform" {
		t.Errorf("%+v", got)
	}
	if _, ok := principal.FromAuthorizer(map[string]any{}); ok {
		t.Error("empty context accepted")
	}
	// Booleans may arrive as booleans.
	if got, _ := principal.FromAuthorizer(map[string]any{"user_id": "u", "is_admin": true}); !got.Admin {
		t.Error("boolean is_admin lost")
	}
}

func TestPatternsThroughTheContext(t *testing.T) {
	xray, _ := permissions.ParsePattern("registered_model:hokusai XRAY*")
	exp, _ := permissions.ParsePattern("experiment:12")
	narrowed := principal.Principal{UserID: "u1", Scopes: []string{"model:write"}, Patterns: []permissions.Pattern{xray, exp}}
	b, _ := json.Marshal(narrowed.Context())
	var ctx map[string]any
	_ = json.Unmarshal(b, &ctx)
	for k, v := range ctx {
		if _, ok := v.(string); !ok {
			t.Errorf("context value %s is %T: API Gateway passes strings", k, v)
		}
	}
	got, ok := principal.FromAuthorizer(ctx)
	if !ok || len(got.Patterns) != 2 || got.Patterns[0] != xray || got.Patterns[1] != exp {
		t.Fatalf("patterns lost: %+v, %v", got, ok)
	}
	if _, present := (principal.Principal{UserID: "u"}).Context()["resource_patterns"]; present {
		t.Error("a key not narrowed carries resource_patterns")
	}

	// What cannot be read back fails closed: no principal, rather than one not narrowed.
	for _, raw := range []string{
		"registered_model:x*",        // not JSON
		`{"a":1}`,                    // not a list
		`["registered_model:x*", 7]`, // not strings
		`["run:abc"]`,                // not a pattern
		`["registered_model:"]`,      // an empty glob
		`[` + strings.Repeat(`"experiment:1",`, principal.MaxPatterns) + `"experiment:1"]`, // too many
	} {
		if p, ok := principal.FromAuthorizer(map[string]any{"user_id": "u", "resource_patterns": raw}); ok {
			t.Errorf("resource_patterns %q accepted as %+v", raw, p)
		}
	}
	if p, ok := principal.FromAuthorizer(map[string]any{"user_id": "u", "resource_patterns": "[]"}); !ok || p.Patterns != nil {
		t.Errorf("an empty list: %+v, %v", p, ok)
	}
}

func TestCaller(t *testing.T) {
	xray, _ := permissions.ParsePattern("registered_model:hokusai-XRAY*")
	for _, tc := range []struct {
		p     principal.Principal
		admin bool
	}{
		{principal.Principal{UserID: "u", Scopes: []string{"model:write"}}, false},
		{principal.Principal{UserID: "u", Scopes: []string{"admin"}}, true},
		{principal.Principal{UserID: "u", Admin: true}, true},
		{principal.Principal{UserID: "u", Email: "boss@hokus.ai", Scopes: []string{"model:read"}}, true},
	} {
		tc.p.Patterns = []permissions.Pattern{xray}
		c := tc.p.Caller([]string{"Boss@Hokus.ai"})
		if c.UserID != "u" || c.Admin != tc.admin || len(c.Patterns) != 1 {
			t.Errorf("%+v → %+v, want admin %v", tc.p, c, tc.admin)
		}
	}
}
