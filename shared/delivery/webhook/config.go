package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

// Config is the webhook function's configuration.
type Config struct {
	config.Common
	URL *url.URL `env:"WEBHOOK_URL,required"`
	// SecretARN names the Secrets Manager secret whose string value is the HMAC key.
	SecretARN string        `env:"WEBHOOK_SECRET_ARN,required"`
	Timeout   time.Duration `env:"WEBHOOK_TIMEOUT" envDefault:"10s"`
	// DetailTypes are delivered; events of other types that reach the queue are dropped.
	DetailTypes []string `env:"WEBHOOK_DETAIL_TYPES" envDefault:"model_registered,model_ready_to_deploy"`
	// RetryBase is the pause after a message's first failed delivery, doubled after each next
	// one up to RetryMax; set it to the queue's visibility timeout.
	RetryBase time.Duration `env:"WEBHOOK_RETRY_BASE" envDefault:"60s"`
	RetryMax  time.Duration `env:"WEBHOOK_RETRY_MAX" envDefault:"15m"`
	// DeadLetterURL, when set, is the queue that permanent failures are sent to at once.
	DeadLetterURL string `env:"WEBHOOK_DLQ_URL"`
}

// maxVisibility is SQS's longest visibility timeout.
const maxVisibility = 12 * time.Hour

// Validate checks the configuration as a whole and normalises the detail types; config.Load calls it.
func (c *Config) Validate() error {
	var errs []string
	if err := config.HTTPURL("WEBHOOK_URL", c.URL); err != nil {
		errs = append(errs, err.Error())
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Sprintf("WEBHOOK_TIMEOUT must be positive, got %s", c.Timeout))
	}
	var types []string
	for _, dt := range c.DetailTypes {
		switch {
		case slices.Contains(types, dt):
		case !slices.Contains(events.DetailTypes, dt):
			errs = append(errs, fmt.Sprintf("WEBHOOK_DETAIL_TYPES: %q is not one of %s", dt, strings.Join(events.DetailTypes, ", ")))
		default:
			types = append(types, dt)
		}
	}
	c.DetailTypes = types
	if len(types) == 0 {
		errs = append(errs, "WEBHOOK_DETAIL_TYPES must name at least one of "+strings.Join(events.DetailTypes, ", "))
	}
	if c.RetryBase <= 0 || c.RetryBase > maxVisibility {
		errs = append(errs, fmt.Sprintf("WEBHOOK_RETRY_BASE must be between 1s and 12h, got %s", c.RetryBase))
	}
	if c.RetryMax < c.RetryBase || c.RetryMax > maxVisibility {
		errs = append(errs, fmt.Sprintf("WEBHOOK_RETRY_MAX must be between WEBHOOK_RETRY_BASE and 12h, got %s", c.RetryMax))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
