package keysapi

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings of the error; nil: loads
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", env: map[string]string{"KEYS_TABLE": "keys"}, check: func(t *testing.T, c Config) {
			if c.AuthSource != keystore.SourceDynamoDB || c.KeyEnvironment != "live" || c.RevocationDelay() != 60*time.Second || len(c.AdminEmails) != 0 {
				t.Errorf("%+v", c)
			}
		}},
		{name: "as the stack writes it", env: map[string]string{
			"KEYS_TABLE": "keys", "AUTH_SOURCE": "external", "ADMIN_EMAILS": " a@example.com, ,b@example.com ",
			"AUTH_CACHE_TTL": "5s", "AUTHORIZER_CACHE_TTL": "300s", "KEY_ENVIRONMENT": "dev",
		}, check: func(t *testing.T, c Config) {
			if c.RevocationDelay() != 305*time.Second || !slices.Equal(c.AdminEmails, []string{"a@example.com", "b@example.com"}) {
				t.Errorf("delay %s, admins %q", c.RevocationDelay(), c.AdminEmails)
			}
		}},
		{name: "bare seconds", env: map[string]string{"KEYS_TABLE": "keys", "AUTH_CACHE_TTL": "30", "AUTHORIZER_CACHE_TTL": "1m"},
			check: func(t *testing.T, c Config) {
				if c.RevocationDelay() != 90*time.Second {
					t.Errorf("delay %s", c.RevocationDelay())
				}
			}},
		// ALLOWED_KEY_PREFIXES is read as the authorizer reads it: trimmed and lower-cased.
		{name: "allowed prefixes with spaces and case", env: map[string]string{
			"KEYS_TABLE": "keys", "ALLOWED_KEY_PREFIXES": "live, Test", "KEY_ENVIRONMENT": "test",
		}, check: func(t *testing.T, c Config) {
			if !slices.Equal(c.AllowedKeyPrefixes, []string{"live", "test"}) {
				t.Errorf("prefixes %q", c.AllowedKeyPrefixes)
			}
		}},
		{name: "unknown prefix", env: map[string]string{"KEYS_TABLE": "keys", "ALLOWED_KEY_PREFIXES": "live,prod"}, wantErr: []string{"ALLOWED_KEY_PREFIXES", "prod"}},
		{name: "missing table", env: map[string]string{}, wantErr: []string{"KEYS_TABLE"}},
		{name: "every bad value named", env: map[string]string{
			"KEYS_TABLE": "keys", "AUTH_SOURCE": "ldap", "KEY_ENVIRONMENT": "prod", "AUTH_CACHE_TTL": "-1",
		}, wantErr: []string{"AUTH_SOURCE", "KEY_ENVIRONMENT", "AUTH_CACHE_TTL"}},
		{name: "zero TTL, which the authorizer refuses", env: map[string]string{"KEYS_TABLE": "keys", "AUTH_CACHE_TTL": "0"}, wantErr: []string{"AUTH_CACHE_TTL", "positive"}},
		{name: "zero TTL as a duration", env: map[string]string{"KEYS_TABLE": "keys", "AUTH_CACHE_TTL": "0s"}, wantErr: []string{"AUTH_CACHE_TTL"}},
		{name: "malformed TTL", env: map[string]string{"KEYS_TABLE": "keys", "AUTHORIZER_CACHE_TTL": "soon"}, wantErr: []string{"AUTHORIZER_CACHE_TTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load[Config](tt.env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		})
	}
}

// The scopes a key may be issued with are the ones the functions recognise: each grants something,
// and exactly the admin scopes of SPEC section 4 grant admin.
func TestScopesMatchPrincipalRules(t *testing.T) {
	adminScopes := []string{"admin", "mlflow:admin", "registry:admin"}
	for _, s := range Scopes {
		level := principal.Principal{Scopes: []string{s}}.Level(nil)
		if level == principal.None {
			t.Errorf("scope %s grants nothing", s)
		}
		if (level == principal.Admin) != slices.Contains(adminScopes, s) {
			t.Errorf("scope %s is %s; SPEC says otherwise", s, level)
		}
	}
}
