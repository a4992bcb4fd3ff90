package registration

import (
	"context"
	"slices"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// publish sends rec's pending events, once rec is stored, and marks those that went out (in rec
// and in the table). Whatever fails here stays pending in the table for the outbox, so it is
// logged, never returned: the registration itself has succeeded.
func (h *Handler) publish(ctx context.Context, start time.Time, rec *regstore.Registration) {
	pending := pendingEvents(rec)
	if h.publisher == nil || len(pending) == 0 {
		return
	}
	log := logging.FromContext(ctx).With("registration_id", rec.RegistrationID)
	pctx, cancel := context.WithDeadline(ctx, deadline(ctx, start).Add(-publishMargin))
	defer cancel()
	published, err := h.publisher.Publish(pctx, pending)
	if err != nil {
		log.Warn("events not published now; the outbox will publish them", "cause", err)
	}
	if len(published) == 0 {
		return
	}
	for i := range rec.Events {
		if rec.Events[i].Status == regstore.EventPending && slices.Contains(published, rec.Events[i].EventID) {
			rec.Events[i].Status = regstore.EventPublished
		}
	}
	if err := h.store.MarkPublished(ctx, rec.RegistrationID, published); err != nil {
		// Subscribers de-duplicate on event_id, so the outbox publishing them again is harmless.
		log.Warn("published events not marked; the outbox will publish them again", "cause", err)
	}
}

// pendingEvents are rec's events still to publish.
func pendingEvents(rec *regstore.Registration) []regstore.Event {
	var out []regstore.Event
	for _, e := range rec.Events {
		if e.Status == regstore.EventPending {
			out = append(out, e)
		}
	}
	return out
}
