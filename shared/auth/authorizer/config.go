package authorizer

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

// Config is the authorizer function's configuration.
type Config struct {
	config.Common
	Source string `env:"AUTH_SOURCE" envDefault:"dynamodb"`
	// KeysTable holds issued keys by digest (dynamodb source).
	KeysTable string `env:"KEYS_TABLE"`
	// ValidationCacheTable is shared by every container (external source).
	ValidationCacheTable string        `env:"VALIDATION_CACHE_TABLE"`
	ServiceURL           *url.URL      `env:"AUTH_SERVICE_URL"`
	ServiceID            string        `env:"AUTH_SERVICE_ID" envDefault:"platform"`
	ServiceTimeout       time.Duration `env:"AUTH_SERVICE_TIMEOUT" envDefault:"5s"`
	// AllowedKeyPrefixes are the key environments accepted here (prod: live only).
	AllowedKeyPrefixes []string `env:"ALLOWED_KEY_PREFIXES" envDefault:"live,test,dev"`
	// CacheTTL bounds how long a valid result is reused; NegativeCacheTTL an invalid one.
	CacheTTL         time.Duration `env:"AUTH_CACHE_TTL" envDefault:"60s"`
	NegativeCacheTTL time.Duration `env:"AUTH_NEGATIVE_CACHE_TTL" envDefault:"5s"`
	// StaleGrace is how long past its expiry a valid result stands in for an unavailable auth
	// service; 0 disables it.
	StaleGrace      time.Duration `env:"AUTH_STALE_GRACE" envDefault:"5m"`
	CacheMaxEntries int           `env:"AUTH_CACHE_MAX_ENTRIES" envDefault:"10000"`
	// OutageWindow is how long after an auth-service failure (timeout, transport error, 5xx) a
	// container stops asking the service, answering from the grace or failing at once; then one
	// request probes it. 0 asks every time. Seconds or a duration.
	OutageWindow time.Duration `env:"AUTH_SERVICE_OUTAGE_WINDOW" envDefault:"5s"`
	// SessionsTable and SessionSecretARN, together, let the MLflow UI's session cookie stand in
	// for a key on the UI's routes (shared/auth/uisession); without them it is never accepted.
	SessionsTable    string `env:"SESSIONS_TABLE"`
	SessionSecretARN string `env:"SESSION_SECRET_ARN"`
}

// Sessions reports whether UI sessions are configured.
func (c Config) Sessions() bool { return c.SessionsTable != "" }

// Validate checks the configuration as a whole, naming every offending variable at once, and
// normalises ALLOWED_KEY_PREFIXES. config.Load calls it.
func (c *Config) Validate() error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	switch c.Source {
	case keystore.SourceDynamoDB:
		if c.KeysTable == "" {
			fail("KEYS_TABLE is required when AUTH_SOURCE=dynamodb")
		}
	case keystore.SourceExternal:
		if c.ValidationCacheTable == "" {
			fail("VALIDATION_CACHE_TABLE is required when AUTH_SOURCE=external")
		}
		if c.ServiceURL == nil {
			fail("AUTH_SERVICE_URL is required when AUTH_SOURCE=external")
		} else if err := config.HTTPURL("AUTH_SERVICE_URL", c.ServiceURL); err != nil {
			errs = append(errs, err.Error())
		}
	default:
		fail("AUTH_SOURCE must be %s or %s, got %q", keystore.SourceDynamoDB, keystore.SourceExternal, c.Source)
	}
	if strings.TrimSpace(c.ServiceID) == "" {
		fail("AUTH_SERVICE_ID must not be empty")
	}
	if c.ServiceTimeout <= 0 {
		fail("AUTH_SERVICE_TIMEOUT must be positive, got %s", c.ServiceTimeout)
	}
	if envs, err := apikey.AllowedEnvironments(c.AllowedKeyPrefixes); err != nil {
		errs = append(errs, err.Error())
	} else {
		c.AllowedKeyPrefixes = envs
	}
	if c.CacheTTL <= 0 {
		fail("AUTH_CACHE_TTL must be positive, got %s", c.CacheTTL)
	}
	if c.NegativeCacheTTL < 0 {
		fail("AUTH_NEGATIVE_CACHE_TTL must not be negative, got %s", c.NegativeCacheTTL)
	}
	if c.StaleGrace < 0 {
		fail("AUTH_STALE_GRACE must not be negative (0 disables it), got %s", c.StaleGrace)
	}
	if c.OutageWindow < 0 {
		fail("AUTH_SERVICE_OUTAGE_WINDOW must not be negative (0 disables it), got %s", c.OutageWindow)
	}
	if (c.SessionsTable == "") != (c.SessionSecretARN == "") {
		fail("SESSIONS_TABLE and SESSION_SECRET_ARN go together (UI sessions need both)")
	}
	if c.CacheMaxEntries <= 0 {
		fail("AUTH_CACHE_MAX_ENTRIES must be positive, got %d", c.CacheMaxEntries)
	}
	if len(errs) > 0 {
		// One line, like config.Load's own message.
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
