package keysapi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
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
	AuthCacheTTL       time.Duration `env:"AUTH_CACHE_TTL" envDefault:"60s"`
	AuthorizerCacheTTL time.Duration `env:"AUTHORIZER_CACHE_TTL" envDefault:"0s"`
	// KeyEnvironment is the env of keys created without one: live, test or dev.
	KeyEnvironment string `env:"KEY_ENVIRONMENT" envDefault:"live"`
	// AllowedKeyPrefixes are the environments the authorizer accepts here; a key of any other
	// environment would be refused at once, so none is issued.
	AllowedKeyPrefixes []string `env:"ALLOWED_KEY_PREFIXES" envDefault:"live,test,dev"`
}

// Validate rejects a configuration the handler cannot work with.
func (c *Config) Validate() error {
	var errs []error
	if c.AuthSource != keystore.SourceDynamoDB && c.AuthSource != keystore.SourceExternal {
		errs = append(errs, fmt.Errorf("AUTH_SOURCE must be %s or %s, got %q", keystore.SourceDynamoDB, keystore.SourceExternal, c.AuthSource))
	}
	if !slices.Contains(apikey.Environments, c.KeyEnvironment) {
		errs = append(errs, fmt.Errorf("KEY_ENVIRONMENT must be one of %s, got %q", strings.Join(apikey.Environments, ", "), c.KeyEnvironment))
	}
	if envs, err := apikey.AllowedEnvironments(c.AllowedKeyPrefixes); err != nil {
		errs = append(errs, err)
	} else if c.AllowedKeyPrefixes = envs; !slices.Contains(envs, c.KeyEnvironment) {
		errs = append(errs, fmt.Errorf("KEY_ENVIRONMENT %q is not in ALLOWED_KEY_PREFIXES %v", c.KeyEnvironment, envs))
	}
	// The authorizer refuses a TTL that is not positive; the revocation delay stated here must
	// be of a deployment that runs.
	if c.AuthCacheTTL <= 0 {
		errs = append(errs, fmt.Errorf("AUTH_CACHE_TTL must be positive, got %s", c.AuthCacheTTL))
	}
	if c.AuthorizerCacheTTL < 0 {
		errs = append(errs, errors.New("AUTHORIZER_CACHE_TTL must not be negative"))
	}
	return errors.Join(errs...)
}

// RevocationDelay is the worst case between a revocation and the last cache forgetting the key.
func (c Config) RevocationDelay() time.Duration {
	return c.AuthCacheTTL + c.AuthorizerCacheTTL
}
