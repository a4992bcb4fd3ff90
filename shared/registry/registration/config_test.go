package registration_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

func TestConfig(t *testing.T) {
	base := map[string]string{"MLFLOW_URL": "http://mlflow:5000", "REGISTRATIONS_TABLE": "regs"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cfg, err := config.Load[registration.Config](with("ADMIN_EMAILS", " a@x.com , ,b@x.com"))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(cfg.MLflowTimeout) != 8*time.Second || cfg.UpstreamAuth != upstream.None || cfg.EventBusName != "" ||
		strings.Join(cfg.AdminEmails, ",") != "a@x.com,b@x.com" {
		t.Errorf("%+v", cfg)
	}
	if cfg.Permissions.Default != permissions.Read || cfg.Permissions.CacheTTL != 30*time.Second {
		t.Errorf("permissions: %+v", cfg.Permissions)
	}
	if cfg, _ := config.Load[registration.Config](with("MLFLOW_TIMEOUT", "2.5")); time.Duration(cfg.MLflowTimeout) != 2500*time.Millisecond {
		t.Errorf("seconds: %v", cfg.MLflowTimeout)
	}
	// Every upstream mode the MLflow proxy takes, register takes too (it reaches MLflow the same way).
	for _, mode := range []string{"none", "basic", "bearer", "forward"} {
		env := with("MLFLOW_UPSTREAM_AUTH", mode)
		if mode == "basic" || mode == "bearer" {
			env["MLFLOW_UPSTREAM_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow"
		}
		if cfg, err := config.Load[registration.Config](env); err != nil || string(cfg.UpstreamAuth) != mode {
			t.Errorf("MLFLOW_UPSTREAM_AUTH=%s: %v", mode, err)
		}
	}
	for _, tc := range []struct {
		key, value, want string
	}{
		{"MLFLOW_URL", "", "MLFLOW_URL"},
		{"MLFLOW_URL", "ftp://x", "MLFLOW_URL"},
		{"MLFLOW_URL", "http://user:s3cret@x", "no credentials"},
		{"REGISTRATIONS_TABLE", "", "REGISTRATIONS_TABLE"},
		{"MLFLOW_TIMEOUT", "soon", "MLFLOW_TIMEOUT"},
		{"MLFLOW_TIMEOUT", "0", "MLFLOW_TIMEOUT"},
		{"MLFLOW_TIMEOUT", "30s", "at most the gateway's"},
		{"MLFLOW_UPSTREAM_AUTH", "bearer", "MLFLOW_UPSTREAM_SECRET_ARN is required"},
		{"MLFLOW_UPSTREAM_AUTH", "oauth", "MLFLOW_UPSTREAM_AUTH must be"},
		{"PERMISSIONS_DEFAULT", "OWNER", "PERMISSIONS_DEFAULT"},
		{"PERMISSIONS_CACHE_TTL", "2h", "PERMISSIONS_CACHE_TTL"},
	} {
		_, err := config.Load[registration.Config](with(tc.key, tc.value))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s=%q: %v", tc.key, tc.value, err)
		}
	}
}
