package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// Ownership (issue 10, item 1). The first user to register a model name, or a version of it,
// through either route owns it: an owner item in the registrations table, written with a
// conditional put so that of two users racing exactly one wins. Another user's registration under
// that name, or announcement of that version, is refused 403 before anything is written to MLflow
// or the table, so nothing changes. Admins may act on anyone's. The name is claimed before the
// version, so whoever claims a version owns its name (or is an admin).

// claimModelFor makes userID the owner of the model name unless another user owns it, and
// returns its owner: userID, or (for a caller who may act for others) the other user.
func (h *Handler) claimModelFor(ctx context.Context, caller principal.Principal, forOthers bool, userID, name string) (string, error) {
	return h.claim(ctx, caller, forOthers, userID, regstore.ModelOwnerPK(name), name, "", modelOwned(name))
}

func modelOwned(name string) *httpapi.Error {
	return withLevel(httpapi.NewError(http.StatusForbidden, CodeModelOwned,
		fmt.Sprintf("model %q is registered by another user; registering or announcing under it needs %s on it, "+
			"which its owner may grant you; else register your versions under a model name of your own", name, needed)), name)
}

// claimVersion makes caller the owner of the model version unless another user owns it.
func (h *Handler) claimVersion(ctx context.Context, caller principal.Principal, name, version string) error {
	_, err := h.claimVersionFor(ctx, caller, h.admin(caller), caller.UserID, name, version)
	return err
}

func (h *Handler) claimVersionFor(ctx context.Context, caller principal.Principal, forOthers bool, userID, name, version string) (string, error) {
	return h.claim(ctx, caller, forOthers, userID, regstore.VersionOwnerPK(name, version), name, version, versionOwned(name, version))
}

func versionOwned(name, version string) *httpapi.Error {
	return withLevel(httpapi.NewError(http.StatusForbidden, CodeVersionOwned,
		fmt.Sprintf("version %s of model %q is registered by another user; only they, or a user with %s on the model, can announce it",
			version, name, needed)), name)
}

// claim makes userID (the caller, or the user an admin acts for) the owner of pk unless another
// user owns it, and returns the owner. Another user's is refused, unless the caller may act for
// others (forOthers: an admin, or a user with EDIT on the model).
func (h *Handler) claim(ctx context.Context, caller principal.Principal, forOthers bool, userID, pk, name, version string, refusal *httpapi.Error) (string, error) {
	owner, err := h.store.ClaimOwner(ctx, pk, userID, name, version, h.now())
	switch {
	case err == nil:
		return owner, nil
	case !errors.Is(err, regstore.ErrOwned):
		return "", record.StoreUnavailable(err)
	case forOthers:
		logging.FromContext(ctx).Info("acting on another user's model, with EDIT on it", "model_name", name, "version", version, "owner", owner)
		return owner, nil
	}
	logging.FromContext(ctx).Warn("registration refused: owned by another user",
		"model_name", name, "version", version, "owner", owner, "user_id", caller.UserID)
	return "", refusal
}

// owner is whose an announced version is: the user and key its record and events carry.
type owner struct{ UserID, KeyID string }

// ownAnnouncement checks, before anything is written, that caller may announce the version, and
// returns whose it is. A user may announce what is theirs (its record, name and version are
// theirs, or unowned and now claimed); an admin may announce anyone's, and it stays its owner's:
// the record's owner (announcements recorded before owner items existed carry their user), else
// the version's legacy owner (legacyOwner), else the version's, else the model's (an unowned
// version of a user's model is claimed for them).
// A user with EDIT on the model (forOthers, as an admin) may announce its owner's versions too.
func (h *Handler) ownAnnouncement(ctx context.Context, caller principal.Principal, forOthers bool, mv *mlflow.ModelVersion, registrationID string) (owner, error) {
	name, version := mv.Name, mv.Version
	rec, err := h.store.Get(ctx, registrationID)
	recorded := err == nil
	switch {
	case recorded && rec.UserID != caller.UserID && !forOthers:
		logging.FromContext(ctx).Warn("announcement refused: recorded for another user",
			"registration_id", registrationID, "owner", rec.UserID, "user_id", caller.UserID)
		return owner{}, versionOwned(name, version)
	case !recorded && !errors.Is(err, regstore.ErrNotFound):
		return owner{}, record.StoreUnavailable(err)
	}
	forUser := caller.UserID
	var legacy owner
	if recorded {
		forUser = rec.UserID
	} else if legacy, err = h.legacyOwner(ctx, mv); err != nil {
		return owner{}, err
	}
	unowned, err := h.unownedModel(ctx, caller, name, version, recorded || legacy.UserID != "")
	switch {
	case err != nil:
		return owner{}, err
	case unowned && !forOthers:
		logging.FromContext(ctx).Warn("announcement refused: the model predates the gateway and has no owner",
			"model_name", name, "user_id", caller.UserID)
		return owner{}, unownedRefusal(name)
	}
	if legacy.UserID != "" {
		// The version is its registrant's, whoever announces it: claimed for them first (a no-op
		// when an owner is recorded), then decided like any other, below.
		forUser, err = h.store.ClaimOwner(ctx, regstore.VersionOwnerPK(name, version), legacy.UserID, name, version, h.now())
		if err != nil && !errors.Is(err, regstore.ErrOwned) {
			return owner{}, record.StoreUnavailable(err)
		}
	}
	// For a user, forUser is the caller (claim refuses another's), except for a legacy version,
	// claimed for its registrant: its name and version must then be the caller's too.
	// A model that predates the gateway stays unowned: the caller's EDIT (forOthers) lets them
	// announce under it, and they claim only the version.
	var modelOwner string
	if !unowned {
		if modelOwner, err = h.claimModelFor(ctx, caller, forOthers, forUser, name); err != nil {
			return owner{}, err
		}
	}
	if modelOwner != caller.UserID && !forOthers {
		logging.FromContext(ctx).Warn("announcement refused: a model registered by another user",
			"model_name", name, "owner", modelOwner, "user_id", caller.UserID)
		return owner{}, modelOwned(name)
	}
	// An admin's announcement of an unowned version is the model owner's; a grantee's their own.
	if !recorded && legacy.UserID == "" && h.admin(caller) {
		forUser = modelOwner
	}
	versionOwner, err := h.claimVersionFor(ctx, caller, forOthers, forUser, name, version)
	switch {
	case err != nil:
		return owner{}, err
	case versionOwner != caller.UserID && !forOthers:
		logging.FromContext(ctx).Warn("announcement refused: a version registered by another user",
			"model_name", name, "version", version, "owner", versionOwner, "user_id", caller.UserID)
		return owner{}, versionOwned(name, version)
	case recorded:
		return owner{UserID: rec.UserID, KeyID: rec.KeyID}, nil
	case versionOwner == caller.UserID:
		return owner{UserID: caller.UserID, KeyID: caller.KeyID}, nil
	case versionOwner == legacy.UserID:
		return legacy, nil
	}
	// No record of the owner's names their key.
	return owner{UserID: versionOwner}, nil
}

// unownedModel reports whether a non-admin announces under a registered model that predates the
// gateway: MLflow holds it (the announced version is its) and nobody owns its name. Such a name
// is not claimed by announcing under it (mayRegister's rule). The one exception is a legacy
// version (vouched: a registration record of the registry's names its user, issue 10, item 2),
// registered before owner items existed: its name is still claimed for that user. A version
// registered since has its own owner item, written before its record (finish, ownAnnouncement),
// so a record of a version with an owner item vouches for nothing: it may be a grantee's, under a
// model that predates the gateway.
func (h *Handler) unownedModel(ctx context.Context, caller principal.Principal, name, version string, vouched bool) (bool, error) {
	if h.admin(caller) {
		return false, nil
	}
	modelOwner, err := h.store.OwnerOf(ctx, regstore.ModelOwnerPK(name))
	if err != nil || modelOwner != "" || !vouched {
		return err == nil && modelOwner == "", wrapStore(err)
	}
	versionOwner, err := h.store.OwnerOf(ctx, regstore.VersionOwnerPK(name, version))
	return err == nil && versionOwner != "", wrapStore(err)
}

func wrapStore(err error) error {
	if err == nil {
		return nil
	}
	return record.StoreUnavailable(err)
}

// legacyOwner is whose a version registered through POST /api/models/register before owner items
// existed is (issue 10, item 2): such a version has no owner item, but the registry tagged it with
// user_id and hokusai_registration_id, and that registration's record, which only the registry
// writes, names the same user, model and version. Tags alone are not trusted (a write key may set
// tags through MLflow); without a matching record the version has no legacy owner. A legacy
// model name is claimed through its versions: for the user of the legacy version announced first.
func (h *Handler) legacyOwner(ctx context.Context, mv *mlflow.ModelVersion) (owner, error) {
	tags := mlflow.TagMap(mv.Tags)
	userID, registrationID := tags[rules.TagUserID], tags[rules.TagRegistrationID]
	if userID == "" || uuid.Validate(registrationID) != nil {
		return owner{}, nil
	}
	rec, err := h.store.Get(ctx, registrationID)
	switch {
	case errors.Is(err, regstore.ErrNotFound):
		return owner{}, nil
	case err != nil:
		return owner{}, record.StoreUnavailable(err)
	case rec.UserID != userID || rec.ModelName != mv.Name || rec.Version != mv.Version:
		return owner{}, nil
	}
	return owner{UserID: rec.UserID, KeyID: rec.KeyID}, nil
}
