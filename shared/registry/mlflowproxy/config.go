// Package mlflowproxy is the MLflow reverse proxy of SPEC section 6: it maps the gateway's MLflow
// mounts onto MLFLOW_URL, enforces the caller's scopes per MLflow endpoint (SPEC section 4),
// replaces the caller's credentials with the upstream ones (package upstream), and relays MLflow's answers byte for
// byte, streaming, with errors the stock MLflow client can show.
//
// The mechanism is net/http/httputil.ReverseProxy; this package only supplies its hooks.
package mlflowproxy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// Config is the MLflow proxy function's configuration.
type Config struct {
	config.Common
	// Config is where MLflow is and how every function authenticates to it.
	upstream.Config
	// AjaxAPI sends api/<v>/mlflow[-artifacts]/ calls to MLflow's ajax-api/ routes instead.
	AjaxAPI bool `env:"MLFLOW_AJAX_API"`
	// Timeout bounds each upstream call until MLflow's response headers arrive.
	Timeout time.Duration `env:"MLFLOW_TIMEOUT" envDefault:"25s"`
	// ServeArtifacts=false answers the mlflow-artifacts API with 503 ARTIFACTS_DISABLED.
	ServeArtifacts bool `env:"MLFLOW_SERVE_ARTIFACTS" envDefault:"true"`
	// RegistryAdminOnly restricts every MLflow path to admins.
	RegistryAdminOnly bool `env:"REGISTRY_ADMIN_ONLY"`
	// AdminEmails are callers treated as admins whatever their scopes (comma-separated).
	AdminEmails []string `env:"ADMIN_EMAILS"`
	// RegistrationsTable holds the owner items the proxy writes when a user creates a registered
	// model or a version through MLflow (Owners).
	RegistrationsTable string `env:"REGISTRATIONS_TABLE,required"`
	// EventBusName is the bus registry changes are published to; empty leaves them to the outbox
	// (the registration function's rule).
	EventBusName string `env:"EVENT_BUS_NAME"`
	// Permissions are the per-resource permission settings (PERMISSIONS_DEFAULT,
	// PERMISSIONS_CACHE_TTL).
	Permissions permstore.Config
	// PermissionsOff turns per-resource permissions off (the bench's "permissions off" column);
	// scopes still apply.
	PermissionsOff bool `env:"PERMISSIONS_OFF"`
}

// Validate rejects a configuration the proxy cannot work with.
func (c *Config) Validate() error {
	errs := []error{c.Config.Validate(), c.Permissions.Validate()}
	if strings.TrimSpace(c.RegistrationsTable) == "" {
		errs = append(errs, errors.New("REGISTRATIONS_TABLE must name the registrations table"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("MLFLOW_TIMEOUT must be positive, got %s", c.Timeout))
	}
	return errors.Join(errs...)
}
