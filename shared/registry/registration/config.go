package registration

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// Config is the register function's configuration.
type Config struct {
	config.Common
	// Config is where MLflow is and how every function authenticates to it.
	upstream.Config
	// MLflowTimeout bounds each MLflow call; the invocation's deadline bounds them further.
	MLflowTimeout time.Duration `env:"MLFLOW_TIMEOUT" envDefault:"8s"`
	// RegistrationsTable holds registration and idempotency records.
	RegistrationsTable string `env:"REGISTRATIONS_TABLE,required"`
	// AdminEmails are callers treated as admins whatever their scopes (comma-separated).
	AdminEmails []string `env:"ADMIN_EMAILS"`
	// EventBusName is the bus events are published to; empty leaves them to the outbox.
	EventBusName string `env:"EVENT_BUS_NAME"`
	// Permissions are the per-resource permission settings (PERMISSIONS_DEFAULT,
	// PERMISSIONS_CACHE_TTL).
	Permissions permstore.Config
}

// Validate rejects a configuration the function cannot work with.
func (c *Config) Validate() error {
	errs := []error{c.Config.Validate(), c.Permissions.Validate()}
	if c.MLflowTimeout <= 0 || c.MLflowTimeout > GatewayTimeout {
		errs = append(errs, fmt.Errorf("MLFLOW_TIMEOUT must be positive and at most the gateway's %s, got %s",
			GatewayTimeout, c.MLflowTimeout))
	}
	if strings.TrimSpace(c.RegistrationsTable) == "" {
		errs = append(errs, errors.New("REGISTRATIONS_TABLE must name the registrations table"))
	}
	return errors.Join(errs...)
}
