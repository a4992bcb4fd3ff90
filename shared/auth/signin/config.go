package signin

import (
	"errors"
	"fmt"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

// Config is the uisession function's configuration.
type Config struct {
	config.Common
	// SessionsTable holds sessions and sign-in links (partition key pk, TTL attribute ttl).
	SessionsTable string `env:"SESSIONS_TABLE,required"`
	// SessionSecretARN names the Secrets Manager secret that signs session cookies.
	SessionSecretARN string `env:"SESSION_SECRET_ARN,required"`
	// SessionTTL is a session's lifetime, and the cookie's Max-Age.
	SessionTTL time.Duration `env:"UI_SESSION_TTL" envDefault:"8h"`
	// LinkTTL is how long a minted sign-in link may be opened.
	LinkTTL time.Duration `env:"UI_SIGNIN_LINK_TTL" envDefault:"60s"`
}

// Validate names every bad variable at once. config.Load calls it.
func (c *Config) Validate() error {
	var errs []error
	if c.SessionTTL <= 0 || c.SessionTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("UI_SESSION_TTL must be positive and at most 24h, got %s", c.SessionTTL))
	}
	if c.LinkTTL <= 0 || c.LinkTTL > 5*time.Minute {
		errs = append(errs, fmt.Errorf("UI_SIGNIN_LINK_TTL must be positive and at most 5m, got %s", c.LinkTTL))
	}
	return errors.Join(errs...)
}
