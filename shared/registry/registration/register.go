package registration

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/idempotency"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/mlflowops"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// attempt is one request's try at a registration.
type attempt struct {
	caller         principal.Principal
	req            rules.RegisterRequest
	start          time.Time
	registrationID string
	// hold is the request's hold on its Idempotency-Key, so a retry can complete it; nil without
	// a key.
	hold *idempotency.Hold
	// clean: a recovering attempt found that the request it took over sent no create and left
	// no version, so a failure of its own that MLflow definitely refused leaves nothing behind.
	clean bool
}

// recovering: the id was taken over from a request that died, which may have created the
// version (and even the record) already.
func (a *attempt) recovering() bool { return a.hold != nil && a.hold.Recovering }

// outcome is a registration's answer, and whether this request created its model version.
type outcome struct {
	view    record.Registered
	created bool
}

// register is POST /api/models/register.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) (int, any, error) {
	a := &attempt{start: h.now()}
	var err error
	if a.caller, err = h.policy.Require(r, principal.Write); err != nil {
		return 0, nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return 0, nil, err
	}
	key, keyErr := idempotency.Key(r.Header)
	a.req, err = rules.DecodeRegister(body)
	if a.req.ModelName != "" {
		noteResource(r.Context(), "registered_model", a.req.ModelName)
	}
	if err = idempotency.WithKeyError(err, keyErr); err != nil {
		return 0, nil, err
	}
	if err := record.FromRegister(a.req).CheckDetailSize(a.caller.UserID, a.caller.KeyID, ""); err != nil {
		return 0, nil, err
	}
	var out outcome
	if key == "" {
		// Without a key nothing is deduplicated: each call registers a version.
		a.registrationID = uuid.NewString()
		out, err = h.registerOnce(r.Context(), a)
	} else {
		out, err = h.registerIdempotent(r.Context(), a, key, body)
	}
	if err != nil {
		return 0, nil, err
	}
	if !out.created {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	logging.FromContext(r.Context()).Info("model registered", "registration_id", out.view.RegistrationID,
		"model_name", out.view.ModelName, "version", out.view.Version, "user_id", a.caller.UserID, "created", out.created)
	return http.StatusCreated, out.view, nil
}

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

// registerOnce registers a's model version and records it: resolve the model (two MLflow
// calls), create the registered model if missing and tag the run (concurrently, one call each),
// create the version with all its tags (one call). A recovering attempt first looks for what the
// dead request left.
func (h *Handler) registerOnce(ctx context.Context, a *attempt) (outcome, error) {
	mctx, cancel := mlflowContext(ctx, a.start)
	defer cancel()
	if a.recovering() {
		if out, done, err := h.resume(ctx, mctx, a); done || err != nil {
			return out, err
		}
	}
	src, err := h.ops.Resolve(mctx, a.req)
	if err != nil {
		return outcome{}, err
	}
	// Before MLflow's first write: a name another user registered, or one MLflow held before the
	// gateway knew it, is refused, changing nothing, unless the caller holds EDIT on it.
	if err := h.mayRegister(ctx, mctx, a.caller, a.req.ModelName); err != nil {
		return outcome{}, err
	}
	if err := h.ops.Prepare(mctx, a.req, src); err != nil {
		return outcome{}, err
	}
	if err := h.markCreateSent(ctx, a); err != nil {
		return outcome{}, err
	}
	mv, err := h.mlflow.CreateModelVersion(mctx, mlflow.NewModelVersion{
		Name: a.req.ModelName, Source: src.URI, RunID: src.RunID, ModelID: src.ModelID,
		Description: a.req.Description,
		Tags:        rules.VersionTags(a.req, a.registrationID, src.RunID, a.caller.UserID),
	})
	if err != nil {
		mapped := mlflowops.FromMLflow(err, nil)
		if !mlflowops.Definite(err) {
			return outcome{}, &idempotency.Unsettled{Err: mapped, After: h.timeout}
		}
		return outcome{}, mapped
	}
	v, err := h.finish(ctx, a, src, mv)
	if err != nil {
		return outcome{}, &idempotency.Unsettled{Err: err}
	}
	return outcome{view: v, created: true}, nil
}

// resume finishes the work of the dead request whose registration id a took over: its record if
// it got that far, else its model version, found by the registration id it was tagged with.
// done is false when the dead request created nothing, and a must register from scratch.
func (h *Handler) resume(ctx, mctx context.Context, a *attempt) (out outcome, done bool, err error) {
	rec, err := h.store.Get(ctx, a.registrationID)
	switch {
	case err == nil:
		v, err := record.View(rec)
		return outcome{view: v}, true, err
	case !errors.Is(err, regstore.ErrNotFound):
		return outcome{}, false, record.StoreUnavailable(err)
	}
	found, err := h.mlflow.FindModelVersionsByTag(mctx, rules.TagRegistrationID, a.registrationID)
	if err != nil {
		return outcome{}, false, mlflowops.FromMLflow(err, nil)
	}
	if len(found) == 0 {
		if a.hold.CreateSent {
			// The create may still land (MLflow finishes a request its client left): creating
			// again could make two versions. The version is looked for again on every retry until
			// MLflow can no longer be committing it; this search, made after that, is the last
			// word: the version was not created.
			if h.now().Before(a.hold.CreateSentAt.Add(idempotency.CreateSettles(h.timeout))) {
				return outcome{}, false, idempotency.OutcomeUnknown()
			}
			return outcome{}, false, idempotency.OutcomeLost()
		}
		a.clean = true
		return outcome{}, false, nil
	}
	mv := &found[0] // at most one create was ever sent for this id (createOnce)
	src := mlflowops.Source{URI: mv.Source, RunID: mv.RunID}
	v, err := h.finish(ctx, a, src, mv)
	return outcome{view: v}, true, err
}

// createOnce: at most one CreateModelVersion is ever sent per registration id, which is what
// makes a double registration impossible rather than unlikely. MLflow offers nothing to make the
// create itself idempotent (no client-chosen version id, no conditional create, tags are not
// unique), and a create whose answer was lost may still be committed at any later time: MLflow
// finishes a request after its client gave up, and no lease or wait on our side bounds when.
// So no search, however late, can prove that a lost create will never land. Instead:
//   - an attempt holding the Idempotency-Key marks it create_sent (a conditional write on it
//     still holding the key) before it sends the create, and sends nothing if the mark fails;
//   - a take-over moves the key and reads the mark in one atomic update, so it sees the mark of
//     every holder that could have sent a create (a holder taken over from can no longer mark);
//   - an attempt that sees the mark never creates: it looks for the version by its
//     hokusai_registration_id tag and finishes the registration when it is there, or answers
//     409 REGISTRATION_OUTCOME_UNKNOWN (keeping the key) when it is not yet.
//
// Without an Idempotency-Key nothing is deduplicated, so there is nothing to mark.
func (h *Handler) markCreateSent(ctx context.Context, a *attempt) error {
	if a.hold == nil {
		return nil
	}
	return h.keys.MarkCreateSent(ctx, a.hold)
}

// finish records the registration of mv, publishes its events and returns the answer. The
// version is the caller's from now on (its name is already theirs).
func (h *Handler) finish(ctx context.Context, a *attempt, src mlflowops.Source, mv *mlflow.ModelVersion) (record.Registered, error) {
	if err := h.claimVersion(ctx, a.caller, mv.Name, mv.Version); err != nil {
		return record.Registered{}, err
	}
	at := a.start
	if mv.CreationTimestamp > 0 {
		at = time.UnixMilli(int64(mv.CreationTimestamp))
	}
	rec, err := record.FromRegister(a.req).Record(record.Landing{
		RegistrationID: a.registrationID, Version: mv.Version, RunID: src.RunID,
		ModelURI: "models:/" + mv.Name + "/" + mv.Version, At: at, UserID: a.caller.UserID, KeyID: a.caller.KeyID,
		Created:   &record.Created{Source: mv.Source, RunID: cmp.Or(mv.RunID, src.RunID), ModelID: cmp.Or(mv.ModelID, src.ModelID), Description: mv.Description},
		RequestID: apigw.RequestID(ctx),
	})
	if err != nil {
		return record.Registered{}, err
	}
	err = h.store.Create(ctx, rec)
	if errors.Is(err, regstore.ErrExists) {
		// Written by the request this one took over from, after all.
		existing, err := h.store.Get(ctx, a.registrationID)
		if err != nil {
			return record.Registered{}, record.StoreUnavailable(err)
		}
		return record.View(existing)
	}
	if err != nil {
		detail := "the model version was registered in MLflow but the registration could not be recorded"
		if a.hold != nil {
			detail += "; retry with the same Idempotency-Key to complete it"
		} else {
			detail += "; its events were not emitted (send an Idempotency-Key so that a retry can complete a registration)"
		}
		return record.Registered{}, httpapi.Unavailable(detail, 1, err)
	}
	h.publish(ctx, a.start, &rec)
	return record.View(&rec)
}
