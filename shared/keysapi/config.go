package keysapi

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/config"
)

// Auth sources (AUTH_SOURCE).
const (
	SourceDynamoDB = "dynamodb"
	SourceExternal = "external"
)

// Config is the keys function's configuration.
type Config struct {
	config.Common
	KeysTable  string `env:"KEYS_TABLE,required"`
	AuthSource string `env:"AUTH_SOURCE" envDefault:"dynamodb"`
	// AdminEmails are callers treated as admins whatever their scopes (comma-separated).
	AdminEmails []string `env:"ADMIN_EMAILS"`
	// AuthCacheTTL is the authorizer's in-memory cache lifetime, AuthorizerCacheTTL API Gateway's;
	// together they are how long a revoked key may still be accepted.
	AuthCacheTTL       TTL `env:"AUTH_CACHE_TTL" envDefault:"60"`
	AuthorizerCacheTTL TTL `env:"AUTHORIZER_CACHE_TTL" envDefault:"0"`
	// KeyEnvironment is the env of keys created without one: live, test or dev.
	KeyEnvironment string `env:"KEY_ENVIRONMENT" envDefault:"live"`
	// AllowedKeyPrefixes are the environments the authorizer accepts here; a key of any other
	// environment would be refused at once, so none is issued.
	AllowedKeyPrefixes []string `env:"ALLOWED_KEY_PREFIXES" envDefault:"live,test,dev"`
}

// Validate rejects a configuration the handler cannot work with and tidies ADMIN_EMAILS.
func (c *Config) Validate() error {
	var errs []error
	if c.AuthSource != SourceDynamoDB && c.AuthSource != SourceExternal {
		errs = append(errs, fmt.Errorf("AUTH_SOURCE must be %s or %s, got %q", SourceDynamoDB, SourceExternal, c.AuthSource))
	}
	if !slices.Contains(apikey.Environments, c.KeyEnvironment) {
		errs = append(errs, fmt.Errorf("KEY_ENVIRONMENT must be one of %s, got %q", strings.Join(apikey.Environments, ", "), c.KeyEnvironment))
	}
	if !slices.Contains(c.AllowedKeyPrefixes, c.KeyEnvironment) {
		errs = append(errs, fmt.Errorf("KEY_ENVIRONMENT %q is not in ALLOWED_KEY_PREFIXES %v", c.KeyEnvironment, c.AllowedKeyPrefixes))
	}
	if c.AuthCacheTTL < 0 {
		errs = append(errs, errors.New("AUTH_CACHE_TTL must not be negative"))
	}
	if c.AuthorizerCacheTTL < 0 {
		errs = append(errs, errors.New("AUTHORIZER_CACHE_TTL must not be negative"))
	}
	emails := c.AdminEmails[:0]
	for _, e := range c.AdminEmails {
		if e = strings.TrimSpace(e); e != "" {
			emails = append(emails, e)
		}
	}
	c.AdminEmails = emails
	return errors.Join(errs...)
}

// RevocationDelay is the worst case between a revocation and the last cache forgetting the key.
func (c Config) RevocationDelay() time.Duration {
	return time.Duration(c.AuthCacheTTL) + time.Duration(c.AuthorizerCacheTTL)
}

// TTL is a cache lifetime read from the environment as whole seconds ("60", as the stack writes
// it) or as a Go duration ("1m").
type TTL time.Duration

// UnmarshalText implements encoding.TextUnmarshaler, which the configuration loader uses.
func (t *TTL) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		*t = TTL(time.Duration(n) * time.Second)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 60s, got %q", s)
	}
	*t = TTL(d)
	return nil
}
