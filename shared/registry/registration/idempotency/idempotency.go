// Package idempotency makes POST /api/models/register happen at most once per user,
// Idempotency-Key and body (SPEC 5.1): it reads the key, claims it in the registrations table with
// a conditional write, takes over the key of a request that died, marks a create as sent before it
// goes to MLflow (see the handler's createOnce), and settles the key after a failure. It knows
// nothing of MLflow: whether a failure may have left a version is told to it (Unsettled).
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// MaxKey is the longest Idempotency-Key accepted, in characters.
const MaxKey = 255

// Error codes of the idempotency of registrations.
const (
	CodeReused     = "IDEMPOTENCY_KEY_REUSED"
	CodeInProgress = "IDEMPOTENCY_IN_PROGRESS"
	// CodeOutcomeUnknown: a request with this Idempotency-Key sent MLflow the create of its
	// version and never learnt whether it went through; the version has not appeared (409): with
	// Retry-After while MLflow may still commit it, without (terminal: use a new key) after that.
	CodeOutcomeUnknown = "REGISTRATION_OUTCOME_UNKNOWN"
)

// leaseSkew covers clock differences between the Lambda hosts that read and write a lease.
const leaseSkew = 2 * time.Second

// settleTimeout bounds the write that settles a key after a failure, which must happen even when
// the request's own time has run out.
const settleTimeout = 2 * time.Second

// Key is the request's Idempotency-Key ("" when absent), or the 422 entry it deserves.
func Key(hdr http.Header) (string, *httpapi.FieldError) {
	vs := hdr.Values("Idempotency-Key")
	if len(vs) == 0 {
		return "", nil
	}
	k := vs[0]
	if len(vs) > 1 || strings.TrimSpace(k) == "" || utf8.RuneCountInString(k) > MaxKey ||
		!utf8.ValidString(k) || strings.ContainsFunc(k, unicode.IsControl) {
		return "", &httpapi.FieldError{Field: "Idempotency-Key",
			Message: fmt.Sprintf("must be one header of 1 to %d printable characters, such as a UUID", MaxKey)}
	}
	return k, nil
}

// WithKeyError adds a bad Idempotency-Key to the body's 422, or makes it one. A body that is not
// JSON stays a 400.
func WithKeyError(bodyErr error, keyErr *httpapi.FieldError) error {
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

// canonicalHash is the SHA-256 of body as canonical JSON (members sorted, no insignificant space,
// numbers in one notation), so two bodies that mean the same compare equal however written.
func canonicalHash(body []byte) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("canonical JSON: %w", err)
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("canonical JSON: %w", err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// Store is the part of the registrations table idempotency uses; *regstore.Store satisfies it.
type Store interface {
	ClaimIdempotency(ctx context.Context, rec regstore.Idempotency, now time.Time) (*regstore.Idempotency, error)
	TakeOverIdempotency(ctx context.Context, pk, from, to string, leaseUntil, now time.Time) (*regstore.Idempotency, error)
	MarkCreateSent(ctx context.Context, pk, owner string, now time.Time) error
	CompleteIdempotency(ctx context.Context, pk, owner string) error
	ReleaseIdempotency(ctx context.Context, pk, owner string) error
	LeaseIdempotency(ctx context.Context, pk, owner string, until time.Time) error
}

// Keys claims and settles Idempotency-Keys in a Store.
type Keys struct {
	Store Store
	Now   func() time.Time
}

// Hold is one request's hold on an Idempotency-Key.
type Hold struct {
	// PK and Owner are the key's record and this request's hold on it.
	PK, Owner string
	// RegistrationID is the registration the key stands for, chosen before MLflow is called.
	RegistrationID string
	// Recovering: the key was taken over from a request that died, which may have created the
	// version (and even the record) already.
	Recovering bool
	// CreateSent: a request holding this key before sent MLflow the version's create, whose
	// outcome it never learnt, at CreateSentAt. This request may find that version, never create
	// another.
	CreateSent   bool
	CreateSentAt time.Time
}

// Acquire claims key for userID's request with this body: the first request claims it, choosing
// the registration id; a repeat of a completed one gets that registration's id as replay (and no
// hold); a repeat while it runs is 409; a request that finds the key held by one that died (its
// lease ran out) takes it over, to finish that one's registration instead of starting another.
// lease is until when the hold lasts (LeaseEnd).
func (k Keys) Acquire(ctx context.Context, userID, key string, body []byte, start, lease time.Time) (hold *Hold, replay string, err error) {
	hash, err := canonicalHash(body)
	if err != nil {
		return nil, "", err
	}
	h := &Hold{PK: regstore.IdempotencyPK(userID, key), Owner: uuid.NewString(), RegistrationID: uuid.NewString()}
	held, err := k.Store.ClaimIdempotency(ctx, regstore.Idempotency{
		PK: h.PK, UserID: userID, BodyHash: hash, RegistrationID: h.RegistrationID,
		Owner: h.Owner, LeaseUntil: lease.UnixMilli(),
	}, start)
	if err != nil {
		return nil, "", record.StoreUnavailable(err)
	}
	if held == nil {
		return h, "", nil
	}
	switch {
	case held.BodyHash != hash:
		return nil, "", httpapi.NewError(http.StatusConflict, CodeReused,
			"this Idempotency-Key was used with a different request body in the last 24 hours; use a new key")
	case held.Status == regstore.IdemCompleted:
		return nil, held.RegistrationID, nil
	case !held.Stale(start):
		return nil, "", InProgress()
	}
	now, err := k.Store.TakeOverIdempotency(ctx, h.PK, held.Owner, h.Owner, lease, start)
	if errors.Is(err, regstore.ErrConflict) {
		return nil, "", InProgress()
	}
	if err != nil {
		return nil, "", record.StoreUnavailable(err)
	}
	logging.FromContext(ctx).Warn("idempotency key taken over from a request that did not finish",
		"registration_id", held.RegistrationID)
	h.RegistrationID, h.Recovering, h.CreateSent, h.CreateSentAt = now.RegistrationID, true, now.CreateSent, now.SentAt()
	return h, "", nil
}

// LeaseEnd is until when a claim holds its key: past the end of this invocation (or, without a
// deadline, fallback), nothing of this request can still be running.
func LeaseEnd(ctx context.Context, fallback time.Time) time.Time {
	end := fallback
	if dl, ok := ctx.Deadline(); ok {
		end = dl
	}
	return end.Add(leaseSkew)
}

// MarkCreateSent marks h's key create_sent before the create goes to MLflow; a hold taken over
// since gets 409 and must send nothing.
func (k Keys) MarkCreateSent(ctx context.Context, h *Hold) error {
	err := k.Store.MarkCreateSent(ctx, h.PK, h.Owner, k.Now())
	if errors.Is(err, regstore.ErrConflict) {
		return InProgress() // taken over: the new holder registers, this attempt must not
	}
	if err != nil {
		return record.StoreUnavailable(err)
	}
	return nil
}

// Complete marks h's key completed: repeats get its registration from now on.
func (k Keys) Complete(ctx context.Context, h *Hold) {
	if err := k.Store.CompleteIdempotency(ctx, h.PK, h.Owner); err != nil {
		// The registration stands. The key stays in progress until its lease ends; a retry then
		// takes it over and answers from the record.
		logging.FromContext(ctx).Warn("idempotency key not marked completed", "registration_id", h.RegistrationID, "cause", err)
	}
}

// Unsettled is a failure after which MLflow may hold this registration's version: its
// idempotency key must not be released (a retry with a fresh id would register twice), only
// handed on to a retry after a while, which then looks for the version by its tag (and, having
// the create-sent mark, never creates another one).
type Unsettled struct {
	Err   error
	After time.Duration // until MLflow can no longer be working on the call given up on
}

func (u *Unsettled) Error() string { return u.Err.Error() }
func (u *Unsettled) Unwrap() error { return u.Err }

// Settle leaves the key of a failed attempt as a retry needs it: released when nothing can have
// been created, otherwise still held but with its lease cut short, so that a retry takes over
// and looks for the version as soon as MLflow can no longer be creating it. clean: a recovering
// attempt found that the request it took over sent no create and left no version.
func (k Keys) Settle(ctx context.Context, h *Hold, failure error, clean bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var u *Unsettled
	var err error
	switch {
	case errors.As(failure, &u):
		err = k.Store.LeaseIdempotency(ctx, h.PK, h.Owner, k.Now().Add(u.After))
	case h.Recovering && !clean:
		// The dead request may have left a version this one could not look for.
		err = k.Store.LeaseIdempotency(ctx, h.PK, h.Owner, k.Now())
	default:
		err = k.Store.ReleaseIdempotency(ctx, h.PK, h.Owner)
	}
	if err != nil {
		logging.FromContext(ctx).Warn("idempotency key not settled after a failure; it frees itself when its lease ends",
			"registration_id", h.RegistrationID, "cause", err)
	}
}

// createSettleFactor and minCreateSettle bound how long after a create was sent MLflow may still
// commit it: CreateSettles. MLflow finishes a request its client gave up on (uvicorn and gunicorn
// set no request timeout by default), and the create is one database transaction, so what can
// hold its commit past the client's timeout is the database: waiting for a pooled connection
// (SQLAlchemy's pool_timeout, 30 s by default), for a lock (MySQL's innodb_lock_wait_timeout,
// 50 s), a slow disk. A create still uncommitted minutes after it was sent has failed. With the
// register function's 8 s MLflow timeout the window is 4 minutes, several times those waits.
const (
	createSettleFactor = 30
	minCreateSettle    = 2 * time.Minute
)

// CreateSettles is how long after a create was sent its version may still appear in MLflow,
// given the MLflow client's per-call timeout.
func CreateSettles(mlflowTimeout time.Duration) time.Duration {
	return max(minCreateSettle, createSettleFactor*mlflowTimeout)
}

// OutcomeUnknown answers a retry whose key's version was sent to MLflow and has not appeared,
// while MLflow may still be committing it (CreateSettles).
func OutcomeUnknown() *httpapi.Error {
	e := httpapi.NewError(http.StatusConflict, CodeOutcomeUnknown,
		"MLflow did not confirm whether the model version of this Idempotency-Key was created, and it has not appeared yet; "+
			"retry with the same key to complete the registration when it does (a new key registers another version)")
	e.Headers = http.Header{"Retry-After": {"1"}}
	return e
}

// OutcomeLost is the terminal answer of a key whose version was sent to MLflow and never
// appeared, searched for after MLflow can no longer be committing it: no Retry-After, since
// retrying with this key cannot help.
func OutcomeLost() *httpapi.Error {
	return httpapi.NewError(http.StatusConflict, CodeOutcomeUnknown,
		"the model version of this Idempotency-Key was not created: MLflow never confirmed the create and the version "+
			"has not appeared since; register it with a new Idempotency-Key")
}

// InProgress answers a repeat while the request holding its key still runs.
func InProgress() *httpapi.Error {
	e := httpapi.NewError(http.StatusConflict, CodeInProgress,
		"a request with this Idempotency-Key is still being processed; retry shortly")
	e.Headers = http.Header{"Retry-After": {"1"}}
	return e
}
