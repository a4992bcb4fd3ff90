package keysapi

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// invoke runs payload through the handler as lambda.Start would (which also proves the handler's
// signature is one the runtime accepts).
func invoke(t *testing.T, h *Handler, payload string) ([]byte, error) {
	t.Helper()
	log, _ := captureLog()
	return lambda.NewHandler(h.Lambda(log)).Invoke(context.Background(), []byte(payload))
}

func TestBootstrap(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		wantErr string
		user    string
		email   string
		desc    string
	}{
		{name: "user and e-mail", payload: `{"bootstrap_admin":{"user_id":"ops","email":"ops@example.com"}}`,
			user: "ops", email: "ops@example.com", desc: bootstrapDescription},
		{name: "as the local harness sends it", payload: `{"bootstrap_admin":{"user_id":"dev","email":"","description":"minted at start"}}`,
			user: "dev", desc: "minted at start"},
		{name: "no user", payload: `{"bootstrap_admin":{"email":"ops@example.com"}}`, wantErr: "user_id: is required"},
		{name: "bad e-mail", payload: `{"bootstrap_admin":{"user_id":"ops","email":"ops"}}`, wantErr: "email:"},
		{name: "unknown member", payload: `{"bootstrap_admin":{"user_id":"ops","scopes":["model:read"]}}`, wantErr: "scopes: unknown field"},
		{name: "wrong type", payload: `{"bootstrap_admin":{"user_id":7}}`, wantErr: "user_id: must be a string"},
		{name: "not an object", payload: `{"bootstrap_admin":"ops"}`, wantErr: "must be a JSON object"},
		{name: "anything beside it", payload: `{"bootstrap_admin":{"user_id":"ops"},"httpMethod":"POST"}`, wantErr: "unrecognised event"},
		{name: "an empty event", payload: `{}`, wantErr: "unrecognised event"},
		{name: "a list", payload: `[]`, wantErr: "unrecognised event"},
		{name: "a string", payload: `"bootstrap_admin"`, wantErr: "unrecognised event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			out, err := invoke(t, newHandler(testConfig(), store), tt.payload)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if len(store.all()) != 0 {
					t.Error("a refused bootstrap stored a key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var c Created
			if err := json.Unmarshal(out, &c); err != nil {
				t.Fatalf("payload %s: %v", out, err)
			}
			checkCreated(t, c, store)
			if c.UserID != tt.user || c.Email != tt.email || c.Description != tt.desc || !slices.Equal(c.Scopes, []string{"admin"}) {
				t.Errorf("created %+v for %s <%s> %q %v", c.LogValue(), c.UserID, c.Email, c.Description, c.Scopes)
			}
			if lvl := (principal.Principal{Scopes: store.all()[0].Scopes}).Level(nil); lvl != principal.Admin {
				t.Errorf("bootstrapped key has level %s", lvl)
			}
		})
	}
}

// The bootstrap logs who got an admin key, at warn, and never the key.
func TestBootstrapLogsWithoutKey(t *testing.T) {
	log, logs := captureLog()
	out, err := newHandler(testConfig(), newFakeStore()).Lambda(log)(context.Background(),
		json.RawMessage(`{"bootstrap_admin":{"user_id":"ops"}}`))
	if err != nil {
		t.Fatal(err)
	}
	key := out.(Created).Key
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), `"user_id":"ops"`) ||
		strings.Contains(logs.String(), key[8:]) {
		t.Errorf("logs: %s", logs)
	}
}

func TestBootstrapRefusedInExternalMode(t *testing.T) {
	cfg := testConfig()
	cfg.AuthSource = keystore.SourceExternal
	_, err := invoke(t, newHandler(cfg, newFakeStore()), `{"bootstrap_admin":{"user_id":"ops"}}`)
	if err == nil || !strings.Contains(err.Error(), "managed by the Hokusai auth service") {
		t.Errorf("err = %v", err)
	}
}

// An API Gateway event is served as HTTP; a bootstrap body sent through the gateway is just a
// create body, subject to the caller's key like any other.
func TestGatewayEvents(t *testing.T) {
	bootstrapBody := `{"bootstrap_admin":{"user_id":"ops"}}`
	tests := []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
		code   string
	}{
		{"admin creates", gatewayEvent("POST", "/api/keys", `{"scopes":["model:read"]}`, admin), 201, ""},
		{"bootstrap body without a key", gatewayEvent("POST", "/api/keys", bootstrapBody, nil), 401, "UNAUTHORIZED"},
		{"bootstrap body from a non-admin", gatewayEvent("POST", "/api/keys", bootstrapBody, alice), 403, "FORBIDDEN"},
		{"bootstrap body from an admin", gatewayEvent("POST", "/api/keys", bootstrapBody, admin), 422, "VALIDATION_ERROR"},
		{"listing", gatewayEvent("GET", "/api/keys", "", alice), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			store := newFakeStore()
			out, err := invoke(t, newHandler(testConfig(), store), string(payload))
			if err != nil {
				t.Fatal(err)
			}
			var res events.APIGatewayProxyResponse
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status || res.MultiValueHeaders["X-Request-Id"][0] != "req-1" {
				t.Fatalf("status %d headers %v: %s", res.StatusCode, res.MultiValueHeaders, res.Body)
			}
			if tt.code != "" && !strings.Contains(res.Body, `"error":"`+tt.code+`"`) {
				t.Errorf("body %s, want code %s", res.Body, tt.code)
			}
			if tt.status != 201 && len(store.all()) != 0 {
				t.Error("a refused request stored a key")
			}
		})
	}
}

// A store failure during bootstrap is an invocation error that says what failed.
func TestBootstrapStoreFailure(t *testing.T) {
	store := newFakeStore()
	store.err = errors.New("AccessDeniedException")
	_, err := invoke(t, newHandler(testConfig(), store), `{"bootstrap_admin":{"user_id":"ops"}}`)
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("err = %v", err)
	}
}
