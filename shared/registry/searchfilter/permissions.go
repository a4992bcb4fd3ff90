package searchfilter

import (
	"context"
	"fmt"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// FactsSource is what the permission store knows of one resource (permstore's Cached serves it
// from its cache, one DynamoDB read on a miss).
type FactsSource interface {
	Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error)
}

// PolicyPermissions decides readability by the policy over the store's facts.
type PolicyPermissions struct {
	Policy permissions.Policy
	Facts  FactsSource
}

// ReadsAll: an admin reads everything, and so does everyone when the default is at least Read
// (no grant, owner or narrowing lowers a level below the default's Read).
func (p PolicyPermissions) ReadsAll(c permissions.Caller) bool {
	return c.Admin || p.Policy.Default >= permissions.Read
}

// Readable looks each resource up once, however often a page names it.
func (p PolicyPermissions) Readable(ctx context.Context, c permissions.Caller, rs []permissions.Resource) ([]bool, error) {
	out := make([]bool, len(rs))
	seen := make(map[permissions.Resource]bool, len(rs))
	for i, r := range rs {
		ok, known := seen[r]
		if !known {
			f, err := p.Facts.Facts(ctx, r)
			if err != nil {
				return nil, fmt.Errorf("facts of %s %q: %w", r.Kind, r.ID, err)
			}
			ok = p.Policy.Effective(c, r, f) >= permissions.Read
			seen[r] = ok
		}
		out[i] = ok
	}
	return out, nil
}
