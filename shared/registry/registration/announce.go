package registration

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/mlflowops"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// AnnouncementNamespace is the UUID namespace of the registration ids of announced versions:
// registration_id = UUIDv5(AnnouncementNamespace, model_id), so a repeated announcement finds
// its record (and re-publishes the same events). Fixed forever.
var AnnouncementNamespace = uuid.MustParse("0b7c2f5e-9d41-5a63-8e27-4c1f0a9b3d52")

// AnnouncementID is the registration id of the announcement of modelID.
func AnnouncementID(modelID string) string {
	return uuid.NewSHA1(AnnouncementNamespace, []byte(modelID)).String()
}

// EventEmitted is the answer to POST /api/models/tokenized-registration-events, as the Hokusai
// SDK expects it.
type EventEmitted struct {
	Status       string  `json:"status"`
	ModelID      string  `json:"model_id"`
	ModelName    string  `json:"model_name"`
	Version      string  `json:"version"`
	EventEmitted bool    `json:"event_emitted"`
	Detail       *string `json:"detail"`
}

// announce is POST /api/models/tokenized-registration-events: the client registered the version
// in MLflow itself; the registry checks it exists, mirrors the metadata tags onto it and its run,
// records the registration and emits its events. A repeat by the same user re-records and
// re-publishes the same events under the same ids; another user's is refused (ownAnnouncement).
// An admin's, or that of a user with EDIT on the model, stays the owner's: record and events keep
// the owner's user_id and key_id under the same event ids, and the caller is recorded as the actor.
func (h *Handler) announce(w http.ResponseWriter, r *http.Request) (int, any, error) {
	start := h.now()
	caller, err := h.policy.Require(r, principal.Write)
	if err != nil {
		return 0, nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return 0, nil, err
	}
	req, err := rules.DecodeEvent(body)
	if req.ModelName != "" {
		noteResource(r.Context(), "model_version", req.ModelName+"/"+req.Version)
	}
	if err != nil {
		return 0, nil, err
	}
	a := record.FromEvent(req)
	if err := a.CheckDetailSize(caller.UserID, caller.KeyID, req.ModelURI); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	// Before MLflow is called: a key narrowed to other names is refused, and a caller with EDIT
	// on the model (an admin, or a user its owner granted it) may announce its owner's versions.
	if err := h.narrowedAway(ctx, caller, req.ModelName); err != nil {
		return 0, nil, err
	}
	forOthers, err := h.mayEdit(ctx, caller, req.ModelName, "")
	if err != nil {
		return 0, nil, err
	}
	mctx, cancel := mlflowContext(ctx, start)
	defer cancel()
	mv, err := h.mlflow.GetModelVersion(mctx, req.ModelName, req.Version)
	if err != nil {
		return 0, nil, mlflowops.FromMLflow(err, mlflowops.NotFound(CodeModelVersionNotFound,
			fmt.Sprintf("MLflow has no version %s of model %q; register it first", req.Version, req.ModelName)))
	}
	runID := cmp.Or(req.RunID, mv.RunID)
	if req.RunID != "" && mv.RunID != "" && req.RunID != mv.RunID {
		return 0, nil, httpapi.Validation(httpapi.FieldError{Field: "mlflow_run_id",
			Message: fmt.Sprintf("version %s of %q was registered from run %s, not this one", req.Version, req.ModelName, mv.RunID)})
	}
	modelID := record.ModelID(req.ModelName, req.Version, req.TokenID)
	registrationID := AnnouncementID(modelID)
	// The registry's values win over the client's copies of its tags; a contradicting copy is
	// refused before anything is written. The announcement of a caller who may act for others
	// carries its owner's user_id, known only once ownAnnouncement has found the owner.
	sys := rules.AnnouncedTags(req, mv, runID, registrationID)
	var later []string
	if forOthers {
		later = []string{rules.TagUserID}
	} else {
		sys[rules.TagUserID] = caller.UserID
	}
	if err := rules.CheckSystemTags(req.Tags, sys, later...); err != nil {
		return 0, nil, err
	}
	own, err := h.ownAnnouncement(ctx, caller, forOthers, mv, registrationID)
	if err != nil {
		return 0, nil, err
	}
	sys[rules.TagUserID] = own.UserID
	if err := rules.CheckSystemTags(req.Tags, sys); err != nil {
		return 0, nil, err
	}
	req.Tags = rules.WithSystemTags(req.Tags, sys)
	if err := h.ops.Mirror(mctx, req.Metadata, mv, runID); err != nil {
		return 0, nil, err
	}
	rec, err := record.FromEvent(req).Record(record.Landing{
		RegistrationID: registrationID, Version: req.Version, RunID: runID,
		ModelURI: cmp.Or(req.ModelURI, "models:/"+req.ModelName+"/"+req.Version),
		At:       start, UserID: own.UserID, KeyID: own.KeyID,
	})
	if err != nil {
		return 0, nil, err
	}
	if own.UserID != caller.UserID {
		rec.ActorUserID, rec.ActorKeyID = caller.UserID, caller.KeyID
	}
	// The record stays its owner's: a record of another user's written since ownAnnouncement
	// read it fails the write.
	if err := h.store.ReplaceOwn(ctx, rec); errors.Is(err, regstore.ErrOwned) {
		return 0, nil, versionOwned(req.ModelName, req.Version)
	} else if err != nil {
		if !h.publishUnrecorded(ctx, start, rec) {
			return 0, nil, httpapi.NewError(http.StatusBadGateway, CodeEventEmitFailed,
				"Failed to emit model registration event").WithCause(err)
		}
	} else {
		h.publish(ctx, start, &rec)
	}
	logging.FromContext(ctx).Info("registration announced", "registration_id", rec.RegistrationID, "model_id", modelID,
		"user_id", own.UserID, "actor_user_id", caller.UserID)
	return http.StatusOK, EventEmitted{Status: "ok", ModelID: modelID, ModelName: req.ModelName, Version: req.Version, EventEmitted: true}, nil
}

// publishUnrecorded is the last resort when the record could not be written: the events go out
// directly, or the announcement fails (no event may be lost silently).
func (h *Handler) publishUnrecorded(ctx context.Context, start time.Time, rec regstore.Registration) bool {
	if h.publisher == nil {
		return false
	}
	pending := pendingEvents(&rec)
	pctx, cancel := context.WithDeadline(ctx, deadline(ctx, start).Add(-publishMargin))
	defer cancel()
	published, err := h.publisher.Publish(pctx, pending)
	if err != nil {
		logging.FromContext(ctx).Error("events neither recorded nor published", "registration_id", rec.RegistrationID, "cause", err)
	}
	for _, e := range pending {
		if !slices.Contains(published, e.EventID) {
			return false
		}
	}
	return true
}
