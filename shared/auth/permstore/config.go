package permstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// maxCacheTTL bounds PERMISSIONS_CACHE_TTL: it is how long a revoked grant may still be honoured.
const maxCacheTTL = time.Hour

// Config is the permission settings of every function that enforces them (the proxy, the
// registration), embedded in each one's configuration.
type Config struct {
	// Default is every caller's level on a resource they neither own nor were granted: MLflow's
	// name of a level (READ, as MLflow's basic-auth default).
	Default permissions.Level `env:"PERMISSIONS_DEFAULT" envDefault:"READ"`
	// CacheTTL is how long a resource's owner and grants are cached, the longest a grant change
	// takes to be enforced everywhere; 0 caches nothing.
	CacheTTL time.Duration `env:"PERMISSIONS_CACHE_TTL" envDefault:"30s"`
}

// Validate rejects settings that are out of range.
func (c Config) Validate() error {
	var errs []error
	if c.CacheTTL < 0 || c.CacheTTL > maxCacheTTL {
		errs = append(errs, fmt.Errorf("PERMISSIONS_CACHE_TTL must be between 0 and %s, got %s", maxCacheTTL, c.CacheTTL))
	}
	if _, err := c.Default.MarshalText(); err != nil {
		errs = append(errs, fmt.Errorf("PERMISSIONS_DEFAULT: %w", err))
	}
	return errors.Join(errs...)
}

// Policy is the deployment's permission policy.
func (c Config) Policy() permissions.Policy { return permissions.Policy{Default: c.Default} }
