package mlflowproxy_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// loadConfig loads the proxy's configuration from environ, with a registrations table unless
// environ names one (even empty).
func loadConfig(environ map[string]string) (mlflowproxy.Config, error) {
	if _, ok := environ["REGISTRATIONS_TABLE"]; !ok {
		environ = maps.Clone(environ)
		if environ == nil {
			environ = map[string]string{}
		}
		environ["REGISTRATIONS_TABLE"] = "registrations"
	}
	return config.Load[mlflowproxy.Config](environ)
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(map[string]string{"MLFLOW_URL": "https://mlflow.example.com/base", "ADMIN_EMAILS": " a@x.io, ,b@x.io"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UpstreamAuth != upstream.None || time.Duration(cfg.Timeout) != 25*time.Second || !cfg.ServeArtifacts ||
		cfg.AjaxAPI || cfg.RegistryAdminOnly || cfg.MLflowURL.Path != "/base" {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg.RegistrationsTable != "registrations" {
		t.Errorf("registrations table %q", cfg.RegistrationsTable)
	}
	if strings.Join(cfg.AdminEmails, "|") != "a@x.io|b@x.io" {
		t.Errorf("admin emails %q", cfg.AdminEmails)
	}
	if cfg.Permissions.Default != permissions.Read || cfg.Permissions.CacheTTL != 30*time.Second {
		t.Errorf("permissions: %+v", cfg.Permissions)
	}
	cfg, err = loadConfig(map[string]string{"MLFLOW_URL": "http://m", "PERMISSIONS_DEFAULT": "NO_PERMISSIONS", "PERMISSIONS_CACHE_TTL": "5"})
	if err != nil || cfg.Permissions.Default != permissions.NoPermissions || cfg.Permissions.CacheTTL != 5*time.Second {
		t.Errorf("permissions set: %+v, %v", cfg.Permissions, err)
	}
}

func TestConfigTimeoutForms(t *testing.T) {
	for in, want := range map[string]time.Duration{"25": 25 * time.Second, "2.5": 2500 * time.Millisecond, "900ms": 900 * time.Millisecond, "1m": time.Minute} {
		cfg, err := loadConfig(map[string]string{"MLFLOW_URL": "http://m:5000", "MLFLOW_TIMEOUT": in})
		if err != nil || time.Duration(cfg.Timeout) != want {
			t.Errorf("MLFLOW_TIMEOUT=%s: %v, %v", in, time.Duration(cfg.Timeout), err)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing URL", map[string]string{}, "MLFLOW_URL"},
		{"relative URL", map[string]string{"MLFLOW_URL": "mlflow:5000"}, "MLFLOW_URL"},
		{"credentials in URL", map[string]string{"MLFLOW_URL": "https://u:p@mlflow"}, "no credentials"},
		{"unknown auth", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": "oauth"}, "MLFLOW_UPSTREAM_AUTH"},
		{"basic without secret", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": "basic"}, "MLFLOW_UPSTREAM_SECRET_ARN is required"},
		{"secret unused", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_SECRET_ARN": "arn:x"}, "does not use it"},
		{"zero timeout", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_TIMEOUT": "0"}, "MLFLOW_TIMEOUT must be positive"},
		{"garbage timeout", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_TIMEOUT": "soon"}, "MLFLOW_TIMEOUT"},
		{"NaN timeout", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_TIMEOUT": "NaN"}, "MLFLOW_TIMEOUT"},
		{"bad bool", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_AJAX_API": "maybe"}, "MLFLOW_AJAX_API"},
		{"lower-case level", map[string]string{"MLFLOW_URL": "http://m", "PERMISSIONS_DEFAULT": "read"}, "PERMISSIONS_DEFAULT"},
		{"negative cache TTL", map[string]string{"MLFLOW_URL": "http://m", "PERMISSIONS_CACHE_TTL": "-5"}, "PERMISSIONS_CACHE_TTL"},
		{"no registrations table", map[string]string{"MLFLOW_URL": "http://m", "REGISTRATIONS_TABLE": " "}, "REGISTRATIONS_TABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "u:p") {
				t.Errorf("error leaks URL credentials: %v", err)
			}
		})
	}
}
