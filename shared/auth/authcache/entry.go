// Package authcache remembers key validations, keyed by the key's SHA-256 digest (never the key):
// a bounded in-memory LRU per Lambda container and, for the external auth source, a DynamoDB table
// shared by every container (SPEC section 4, "Caching").
package authcache

import (
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// Entry is one remembered validation: a valid key's principal, or the fact that a key is invalid.
type Entry struct {
	Valid     bool
	Principal principal.Principal
	ExpiresAt time.Time
}

// Fresh reports whether e may be used as is at now.
func (e Entry) Fresh(now time.Time) bool { return now.Before(e.ExpiresAt) }

// WithinGrace reports whether e is a valid entry that expired less than grace before now: what
// may stand in for the auth service while it is down. Only positive entries qualify; a key once
// found invalid stays so.
func (e Entry) WithinGrace(now time.Time, grace time.Duration) bool {
	return e.Valid && !e.Fresh(now) && now.Before(e.ExpiresAt.Add(grace))
}

// retained reports whether e is still worth keeping: fresh, or within the grace.
func (e Entry) retained(now time.Time, grace time.Duration) bool {
	return e.Fresh(now) || e.WithinGrace(now, grace)
}
