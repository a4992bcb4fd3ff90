package registration

import (
	"context"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/idempotency"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
)

// registerIdempotent registers at most once per user, key and body (SPEC 5.1): the key is
// claimed, choosing the registration id before MLflow is called; repeats get its answer, or 409
// while it runs; a request that takes the key over from one that died finishes that one's
// registration instead of starting another (idempotency.Keys.Acquire).
func (h *Handler) registerIdempotent(ctx context.Context, a *attempt, key string, body []byte) (outcome, error) {
	hold, replay, err := h.keys.Acquire(ctx, a.caller.UserID, key, body, a.start,
		idempotency.LeaseEnd(ctx, a.start.Add(GatewayTimeout)))
	if err != nil {
		return outcome{}, err
	}
	if replay != "" {
		return h.replay(ctx, replay)
	}
	a.hold, a.registrationID = hold, hold.RegistrationID
	out, err := h.registerOnce(ctx, a)
	if err != nil {
		h.keys.Settle(ctx, hold, err, a.clean)
		return outcome{}, err
	}
	h.keys.Complete(ctx, hold)
	return out, nil
}

// replay answers a repeat with the registration the key led to, its events as they stand now.
func (h *Handler) replay(ctx context.Context, registrationID string) (outcome, error) {
	rec, err := h.store.Get(ctx, registrationID)
	if err != nil {
		return outcome{}, record.StoreUnavailable(err)
	}
	v, err := record.View(rec)
	return outcome{view: v}, err
}
