package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/regstore"
)

// Ownership (issue 10, item 1). The first user to register a model name, or a version of it,
// through either route owns it: an owner item in the registrations table, written with a
// conditional put so that of two users racing exactly one wins. Another user's registration under
// that name, or announcement of that version, is refused 403 before anything is written to MLflow
// or the table, so nothing changes. Admins may act on anyone's. The name is claimed before the
// version, so whoever claims a version owns its name (or is an admin).

// claimModel makes caller the owner of the model name unless another user owns it.
func (h *Handler) claimModel(ctx context.Context, caller principal.Principal, name string) error {
	_, err := h.claimModelFor(ctx, caller, caller.UserID, name)
	return err
}

// claimModelFor makes userID the owner of the model name unless another user owns it, and
// returns its owner: userID, or (for an admin caller) the other user.
func (h *Handler) claimModelFor(ctx context.Context, caller principal.Principal, userID, name string) (string, error) {
	return h.claim(ctx, caller, userID, regstore.ModelOwnerPK(name), name, "", httpapi.NewError(http.StatusForbidden, CodeModelOwned,
		fmt.Sprintf("model %q is registered by another user; register your versions under a model name of your own", name)))
}

// claimVersion makes caller the owner of the model version unless another user owns it.
func (h *Handler) claimVersion(ctx context.Context, caller principal.Principal, name, version string) error {
	_, err := h.claimVersionFor(ctx, caller, caller.UserID, name, version)
	return err
}

func (h *Handler) claimVersionFor(ctx context.Context, caller principal.Principal, userID, name, version string) (string, error) {
	return h.claim(ctx, caller, userID, regstore.VersionOwnerPK(name, version), name, version, versionOwned(name, version))
}

func versionOwned(name, version string) *httpapi.Error {
	return httpapi.NewError(http.StatusForbidden, CodeVersionOwned,
		fmt.Sprintf("version %s of model %q is registered by another user; only they can announce it", version, name))
}

// claim makes userID (the caller, or the user an admin acts for) the owner of pk unless another
// user owns it, and returns the owner. Another user's is refused, unless the caller is an admin.
func (h *Handler) claim(ctx context.Context, caller principal.Principal, userID, pk, name, version string, refusal *httpapi.Error) (string, error) {
	owner, err := h.store.ClaimOwner(ctx, pk, userID, name, version, h.now())
	switch {
	case err == nil:
		return owner, nil
	case !errors.Is(err, regstore.ErrOwned):
		return "", storeUnavailable(err)
	case h.admin(caller):
		logging.FromContext(ctx).Info("admin acting on another user's model", "model_name", name, "version", version, "owner", owner)
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
// the version's, else the model's (an unowned version of a user's model is claimed for them).
func (h *Handler) ownAnnouncement(ctx context.Context, caller principal.Principal, name, version, registrationID string) (owner, error) {
	rec, err := h.store.Get(ctx, registrationID)
	recorded := err == nil
	switch {
	case recorded && rec.UserID != caller.UserID && !h.admin(caller):
		logging.FromContext(ctx).Warn("announcement refused: recorded for another user",
			"registration_id", registrationID, "owner", rec.UserID, "user_id", caller.UserID)
		return owner{}, versionOwned(name, version)
	case !recorded && !errors.Is(err, regstore.ErrNotFound):
		return owner{}, storeUnavailable(err)
	}
	forUser := caller.UserID
	if recorded {
		forUser = rec.UserID
	}
	modelOwner, err := h.claimModelFor(ctx, caller, forUser, name)
	if err != nil {
		return owner{}, err
	}
	if !recorded {
		forUser = modelOwner
	}
	versionOwner, err := h.claimVersionFor(ctx, caller, forUser, name, version)
	switch {
	case err != nil:
		return owner{}, err
	case recorded:
		return owner{UserID: rec.UserID, KeyID: rec.KeyID}, nil
	case versionOwner == caller.UserID:
		return owner{UserID: caller.UserID, KeyID: caller.KeyID}, nil
	}
	// No record of the owner's names their key.
	return owner{UserID: versionOwner}, nil
}
