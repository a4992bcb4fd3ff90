package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted, in characters.
const MaxIdempotencyKey = 255

// leaseSkew covers clock differences between the Lambda hosts that read and write a lease.
const leaseSkew = 2 * time.Second

// settleTimeout bounds the write that settles a key after a failure, which must happen even when
// the request's own time has run out.
const settleTimeout = 2 * time.Second

// idempotencyKey is the request's Idempotency-Key ("" when absent), or the 422 entry it deserves.
func idempotencyKey(hdr http.Header) (string, *httpapi.FieldError) {
	vs := hdr.Values("Idempotency-Key")
	if len(vs) == 0 {
		return "", nil
	}
	k := vs[0]
	if len(vs) > 1 || strings.TrimSpace(k) == "" || utf8.RuneCountInString(k) > MaxIdempotencyKey ||
		!utf8.ValidString(k) || strings.ContainsFunc(k, unicode.IsControl) {
		return "", &httpapi.FieldError{Field: "Idempotency-Key",
			Message: fmt.Sprintf("must be one header of 1 to %d printable characters, such as a UUID", MaxIdempotencyKey)}
	}
	return k, nil
}

// withKeyError adds a bad Idempotency-Key to the body's 422, or makes it one. A body that is not
// JSON stays a 400.
func withKeyError(bodyErr error, keyErr *httpapi.FieldError) error {
	if keyErr == nil {
		return bodyErr
	}
	if bodyErr == nil {
		return httpapi.Validation(*keyErr)
	}
	var he *httpapi.Error
	if errors.As(bodyErr, &he) && he.Status == http.StatusUnprocessableEntity {
		if fields, ok := he.Detail.([]httpapi.FieldError); ok {
			return httpapi.Validation(append([]httpapi.FieldError{*keyErr}, fields...)...)
		}
	}
	return bodyErr
}

// registerIdempotent registers at most once per user, key and body (SPEC 5.1): the first request
// claims the key with a conditional write, choosing the registration id before MLflow is called;
// repeats get its answer, or 409 while it runs. A request that finds the key held by one that
// died (its lease ran out) takes it over and finishes that one's registration instead of
// starting another.
func (h *Handler) registerIdempotent(ctx context.Context, a *attempt, key string, body []byte) (outcome, error) {
	hash, err := canonicalHash(body)
	if err != nil {
		return outcome{}, err
	}
	pk := regstore.IdempotencyPK(a.caller.UserID, key)
	owner := uuid.NewString()
	a.pk, a.owner = pk, owner
	a.registrationID = uuid.NewString()
	lease := leaseEnd(ctx, a.start)
	held, err := h.store.ClaimIdempotency(ctx, regstore.Idempotency{
		PK: pk, UserID: a.caller.UserID, BodyHash: hash, RegistrationID: a.registrationID,
		Owner: owner, LeaseUntil: lease.UnixMilli(),
	}, a.start)
	if err != nil {
		return outcome{}, storeUnavailable(err)
	}
	if held != nil {
		switch {
		case held.BodyHash != hash:
			return outcome{}, httpapi.NewError(http.StatusConflict, CodeIdempotencyReused,
				"this Idempotency-Key was used with a different request body in the last 24 hours; use a new key")
		case held.Status == regstore.IdemCompleted:
			return h.replay(ctx, held.RegistrationID)
		case !held.Stale(a.start):
			return outcome{}, inProgress()
		}
		now, err := h.store.TakeOverIdempotency(ctx, pk, held.Owner, owner, lease, a.start)
		if errors.Is(err, regstore.ErrConflict) {
			return outcome{}, inProgress()
		}
		if err != nil {
			return outcome{}, storeUnavailable(err)
		}
		logging.FromContext(ctx).Warn("idempotency key taken over from a request that did not finish",
			"registration_id", held.RegistrationID)
		a.registrationID, a.recovering, a.createSent, a.createSentAt = now.RegistrationID, true, now.CreateSent, now.SentAt()
	}
	out, err := h.registerOnce(ctx, a)
	if err != nil {
		h.settle(ctx, pk, owner, a, err)
		return outcome{}, err
	}
	if err := h.store.CompleteIdempotency(ctx, pk, owner); err != nil {
		// The registration stands. The key stays in progress until its lease ends; a retry then
		// takes it over and answers from the record.
		logging.FromContext(ctx).Warn("idempotency key not marked completed", "registration_id", a.registrationID, "cause", err)
	}
	return out, nil
}

// leaseEnd is until when a claim holds its key: past the end of this invocation, nothing of this
// request can still be running.
func leaseEnd(ctx context.Context, start time.Time) time.Time {
	end := start.Add(GatewayTimeout)
	if dl, ok := ctx.Deadline(); ok {
		end = dl
	}
	return end.Add(leaseSkew)
}

// settle leaves the key of a failed attempt as a retry needs it: released when nothing can have
// been created, otherwise still held but with its lease cut short, so that a retry takes over
// and looks for the version as soon as MLflow can no longer be creating it.
func (h *Handler) settle(ctx context.Context, pk, owner string, a *attempt, failure error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var u *unsettled
	var err error
	switch {
	case errors.As(failure, &u):
		err = h.store.LeaseIdempotency(ctx, pk, owner, h.now().Add(u.after))
	case a.recovering && !a.clean:
		// The dead request may have left a version this one could not look for.
		err = h.store.LeaseIdempotency(ctx, pk, owner, h.now())
	default:
		err = h.store.ReleaseIdempotency(ctx, pk, owner)
	}
	if err != nil {
		logging.FromContext(ctx).Warn("idempotency key not settled after a failure; it frees itself when its lease ends",
			"registration_id", a.registrationID, "cause", err)
	}
}

// replay answers a repeat with the registration the key led to, its events as they stand now.
func (h *Handler) replay(ctx context.Context, registrationID string) (outcome, error) {
	rec, err := h.store.Get(ctx, registrationID)
	if err != nil {
		return outcome{}, storeUnavailable(err)
	}
	v, err := view(rec)
	return outcome{view: v}, err
}

// createSettleFactor and minCreateSettle bound how long after a create was sent MLflow may still
// commit it: createSettles. MLflow finishes a request its client gave up on (uvicorn and gunicorn
// set no request timeout by default), and the create is one database transaction, so what can
// hold its commit past the client's timeout is the database: waiting for a pooled connection
// (SQLAlchemy's pool_timeout, 30 s by default), for a lock (MySQL's innodb_lock_wait_timeout,
// 50 s), a slow disk. A create still uncommitted minutes after it was sent has failed. With the
// register function's 8 s MLflow timeout the window is 4 minutes, several times those waits.
const (
	createSettleFactor = 30
	minCreateSettle    = 2 * time.Minute
)

// createSettles is how long after a create was sent its version may still appear in MLflow.
func (h *Handler) createSettles() time.Duration {
	return max(minCreateSettle, createSettleFactor*h.timeout)
}

// outcomeUnknown answers a retry whose key's version was sent to MLflow and has not appeared,
// while MLflow may still be committing it (createSettles).
func outcomeUnknown() *httpapi.Error {
	e := httpapi.NewError(http.StatusConflict, CodeOutcomeUnknown,
		"MLflow did not confirm whether the model version of this Idempotency-Key was created, and it has not appeared yet; "+
			"retry with the same key to complete the registration when it does (a new key registers another version)")
	e.Headers = http.Header{"Retry-After": {"1"}}
	return e
}

// outcomeLost is the terminal answer of a key whose version was sent to MLflow and never
// appeared, searched for after MLflow can no longer be committing it: no Retry-After, since
// retrying with this key cannot help.
func outcomeLost() *httpapi.Error {
	return httpapi.NewError(http.StatusConflict, CodeOutcomeUnknown,
		"the model version of this Idempotency-Key was not created: MLflow never confirmed the create and the version "+
			"has not appeared since; register it with a new Idempotency-Key")
}

func inProgress() *httpapi.Error {
	e := httpapi.NewError(http.StatusConflict, CodeIdempotencyInProgress,
		"a request with this Idempotency-Key is still being processed; retry shortly")
	e.Headers = http.Header{"Retry-After": {"1"}}
	return e
}
