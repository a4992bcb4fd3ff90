package principal_test

import (
	"encoding/json"
	"testing"

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
