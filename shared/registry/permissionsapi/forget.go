package permissionsapi

import (
	"context"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// Forgetting is a Store whose grant changes also drop what this process caches of the resources
// they change (permstore.Cached in the proxy's enforcement and search filter): the API writes
// through the uncached store, and without this the proxy in the same container would go on
// enforcing the old grants until its cache's TTL. Other containers see a change within the TTL.
// A user grant changes one resource (Forget); a pattern grant every resource of its kind
// (ForgetAll). The cache is dropped whatever the write's outcome: a write that failed late may
// still have landed.
type Forgetting struct {
	Store
	Forget    func(permissions.Resource)
	ForgetAll func()
}

func (s Forgetting) SetGrant(ctx context.Context, r permissions.Resource, userID string, level permissions.Level) error {
	defer s.Forget(r)
	return s.Store.SetGrant(ctx, r, userID, level)
}

func (s Forgetting) DeleteGrant(ctx context.Context, r permissions.Resource, userID string) error {
	defer s.Forget(r)
	return s.Store.DeleteGrant(ctx, r, userID)
}

func (s Forgetting) SetPatternGrant(ctx context.Context, p permissions.Pattern, userID string, level permissions.Level) error {
	defer s.ForgetAll()
	return s.Store.SetPatternGrant(ctx, p, userID, level)
}

func (s Forgetting) DeletePatternGrant(ctx context.Context, p permissions.Pattern, userID string) error {
	defer s.ForgetAll()
	return s.Store.DeletePatternGrant(ctx, p, userID)
}
