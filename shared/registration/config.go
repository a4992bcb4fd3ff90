package registration

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/config"
)

// Config is the register function's configuration.
type Config struct {
	config.Common
	// MLflowURL is the tracking server, possibly with a base path (https://host/mlflow).
	MLflowURL *url.URL `env:"MLFLOW_URL,required"`
	// MLflowTimeout bounds each MLflow call; the invocation's deadline bounds them further.
	MLflowTimeout config.Duration `env:"MLFLOW_TIMEOUT" envDefault:"8s"`
	// MLflowUpstreamAuth is how the function authenticates to MLflow. Only "none" is supported:
	// the function sends no credentials, so MLflow must accept the function's network.
	MLflowUpstreamAuth string `env:"MLFLOW_UPSTREAM_AUTH" envDefault:"none"`
	// RegistrationsTable holds registration and idempotency records.
	RegistrationsTable string `env:"REGISTRATIONS_TABLE,required"`
	// AdminEmails are callers treated as admins whatever their scopes (comma-separated).
	AdminEmails []string `env:"ADMIN_EMAILS"`
	// EventBusName is the bus events are published to; empty leaves them to the outbox.
	EventBusName string `env:"EVENT_BUS_NAME"`
}

// Validate rejects a configuration the function cannot work with and tidies ADMIN_EMAILS.
func (c *Config) Validate() error {
	var errs []error
	if err := config.HTTPURL("MLFLOW_URL", c.MLflowURL); err != nil {
		errs = append(errs, err)
	} else if c.MLflowURL.User != nil || c.MLflowURL.RawQuery != "" || c.MLflowURL.Fragment != "" {
		// Credentials in the URL would end up in logs and bypass MLFLOW_UPSTREAM_AUTH.
		errs = append(errs, errors.New("MLFLOW_URL must be scheme://host[:port][/base-path]: no credentials, query or fragment"))
	}
	if c.MLflowTimeout <= 0 || time.Duration(c.MLflowTimeout) > GatewayTimeout {
		errs = append(errs, fmt.Errorf("MLFLOW_TIMEOUT must be positive and at most the gateway's %s, got %s",
			GatewayTimeout, time.Duration(c.MLflowTimeout)))
	}
	if c.MLflowUpstreamAuth != "none" {
		errs = append(errs, fmt.Errorf("MLFLOW_UPSTREAM_AUTH=%q is not supported by the register function; only none is", c.MLflowUpstreamAuth))
	}
	if strings.TrimSpace(c.RegistrationsTable) == "" {
		errs = append(errs, errors.New("REGISTRATIONS_TABLE must name the registrations table"))
	}
	c.AdminEmails = config.Trimmed(c.AdminEmails)
	return errors.Join(errs...)
}
