package outbox

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

// Config is the outbox function's configuration.
type Config struct {
	config.Common
	// Environment names the deployment (dev, staging, prod, local); it is the metric's dimension,
	// so environments sharing an account keep apart.
	Environment        string `env:"HOKUSAI_ENV" envDefault:"local"`
	RegistrationsTable string `env:"REGISTRATIONS_TABLE,required"`
	EventBusName       string `env:"EVENT_BUS_NAME,required"`
	// Batch is how many due registrations one store query returns.
	Batch int `env:"OUTBOX_BATCH" envDefault:"25"`
	// BaseBackoff is the wait after a registration's first failed attempt, doubled for each next
	// one up to MaxBackoff.
	BaseBackoff time.Duration `env:"OUTBOX_BASE_BACKOFF" envDefault:"30s"`
	MaxBackoff  time.Duration `env:"OUTBOX_MAX_BACKOFF" envDefault:"15m"`
}

// Validate checks the configuration as a whole; config.Load calls it.
func (c *Config) Validate() error {
	var errs []string
	if strings.TrimSpace(c.Environment) == "" {
		errs = append(errs, "HOKUSAI_ENV must not be empty")
	}
	if c.Batch < 1 || c.Batch > 100 {
		errs = append(errs, fmt.Sprintf("OUTBOX_BATCH must be between 1 and 100, got %d", c.Batch))
	}
	if c.BaseBackoff <= 0 {
		errs = append(errs, fmt.Sprintf("OUTBOX_BASE_BACKOFF must be positive, got %s", c.BaseBackoff))
	}
	if c.MaxBackoff < c.BaseBackoff {
		errs = append(errs, fmt.Sprintf("OUTBOX_MAX_BACKOFF (%s) must be at least OUTBOX_BASE_BACKOFF (%s)", c.MaxBackoff, c.BaseBackoff))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
