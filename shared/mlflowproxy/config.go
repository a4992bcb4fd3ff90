// Package mlflowproxy is the MLflow reverse proxy of SPEC section 6: it maps the gateway's MLflow
// mounts onto MLFLOW_URL, enforces the caller's scopes per MLflow endpoint (SPEC section 4),
// replaces the caller's credentials with the proxy's own, and relays MLflow's answers byte for
// byte, streaming, with errors the stock MLflow client can show.
//
// The mechanism is net/http/httputil.ReverseProxy; this package only supplies its hooks.
package mlflowproxy

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/config"
)

// AuthMode is how the proxy authenticates to MLflow (MLFLOW_UPSTREAM_AUTH).
type AuthMode string

// Upstream authentication modes.
const (
	// AuthNone sends no credentials.
	AuthNone AuthMode = "none"
	// AuthBasic sends HTTP basic credentials from the Secrets Manager secret.
	AuthBasic AuthMode = "basic"
	// AuthBearer sends a bearer token from the Secrets Manager secret.
	AuthBearer AuthMode = "bearer"
	// AuthForward passes the client's own Authorization header through: the only mode in which
	// the caller's API key reaches MLflow.
	AuthForward AuthMode = "forward"
)

// needsSecret reports whether the mode's credentials come from Secrets Manager.
func (m AuthMode) needsSecret() bool { return m == AuthBasic || m == AuthBearer }

// Config is the MLflow proxy function's configuration.
type Config struct {
	config.Common
	// MLflowURL is the tracking server, possibly with a base path (https://host/mlflow).
	MLflowURL *url.URL `env:"MLFLOW_URL,required"`
	// AjaxAPI sends api/<v>/mlflow[-artifacts]/ calls to MLflow's ajax-api/ routes instead.
	AjaxAPI      bool     `env:"MLFLOW_AJAX_API"`
	UpstreamAuth AuthMode `env:"MLFLOW_UPSTREAM_AUTH" envDefault:"none"`
	// UpstreamSecretARN names the secret holding {"username","password"} (basic) or {"token"}
	// (bearer).
	UpstreamSecretARN string `env:"MLFLOW_UPSTREAM_SECRET_ARN"`
	// Timeout bounds each upstream call until MLflow's response headers arrive.
	Timeout config.Duration `env:"MLFLOW_TIMEOUT" envDefault:"25s"`
	// ServeArtifacts=false answers the mlflow-artifacts API with 503 ARTIFACTS_DISABLED.
	ServeArtifacts bool `env:"MLFLOW_SERVE_ARTIFACTS" envDefault:"true"`
	// RegistryAdminOnly restricts every MLflow path to admins.
	RegistryAdminOnly bool `env:"REGISTRY_ADMIN_ONLY"`
	// AdminEmails are callers treated as admins whatever their scopes (comma-separated).
	AdminEmails []string `env:"ADMIN_EMAILS"`
}

// Validate rejects a configuration the proxy cannot work with and tidies ADMIN_EMAILS.
func (c *Config) Validate() error {
	var errs []error
	if err := config.HTTPURL("MLFLOW_URL", c.MLflowURL); err != nil {
		errs = append(errs, err)
	} else if c.MLflowURL.User != nil || c.MLflowURL.RawQuery != "" || c.MLflowURL.Fragment != "" {
		// Credentials in the URL would bypass MLFLOW_UPSTREAM_AUTH and end up in logs.
		errs = append(errs, errors.New("MLFLOW_URL must be scheme://host[:port][/base-path]: "+
			"no credentials (use MLFLOW_UPSTREAM_AUTH), query or fragment"))
	}
	switch c.UpstreamAuth {
	case AuthNone, AuthBasic, AuthBearer, AuthForward:
	default:
		errs = append(errs, fmt.Errorf("MLFLOW_UPSTREAM_AUTH must be none, basic, bearer or forward, got %q", c.UpstreamAuth))
	}
	switch {
	case c.UpstreamAuth.needsSecret() && c.UpstreamSecretARN == "":
		errs = append(errs, fmt.Errorf("MLFLOW_UPSTREAM_SECRET_ARN is required with MLFLOW_UPSTREAM_AUTH=%s", c.UpstreamAuth))
	case !c.UpstreamAuth.needsSecret() && c.UpstreamSecretARN != "":
		// Almost certainly a misconfiguration: the operator meant credentials to be used.
		errs = append(errs, fmt.Errorf("MLFLOW_UPSTREAM_SECRET_ARN is set but MLFLOW_UPSTREAM_AUTH=%s does not use it", c.UpstreamAuth))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("MLFLOW_TIMEOUT must be positive, got %s", time.Duration(c.Timeout)))
	}
	c.AdminEmails = config.Trimmed(c.AdminEmails)
	return errors.Join(errs...)
}
