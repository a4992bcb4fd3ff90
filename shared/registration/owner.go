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
	return h.claim(ctx, caller, regstore.ModelOwnerPK(name), name, "", httpapi.NewError(http.StatusForbidden, CodeModelOwned,
		fmt.Sprintf("model %q is registered by another user; register your versions under a model name of your own", name)))
}

// claimVersion makes caller the owner of the model version unless another user owns it.
func (h *Handler) claimVersion(ctx context.Context, caller principal.Principal, name, version string) error {
	return h.claim(ctx, caller, regstore.VersionOwnerPK(name, version), name, version, versionOwned(name, version))
}

func versionOwned(name, version string) *httpapi.Error {
	return httpapi.NewError(http.StatusForbidden, CodeVersionOwned,
		fmt.Sprintf("version %s of model %q is registered by another user; only they can announce it", version, name))
}

func (h *Handler) claim(ctx context.Context, caller principal.Principal, pk, name, version string, refusal *httpapi.Error) error {
	owner, err := h.store.ClaimOwner(ctx, pk, caller.UserID, name, version, h.now())
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, regstore.ErrOwned):
		return storeUnavailable(err)
	case h.admin(caller):
		logging.FromContext(ctx).Info("admin acting on another user's model", "model_name", name, "version", version, "owner", owner)
		return nil
	}
	logging.FromContext(ctx).Warn("registration refused: owned by another user",
		"model_name", name, "version", version, "owner", owner, "user_id", caller.UserID)
	return refusal
}

// ownAnnouncement checks, before anything is written, that caller may announce the version: its
// record (announcements recorded before owner items existed carry their user) and its name and
// version are theirs, or unowned and now claimed.
func (h *Handler) ownAnnouncement(ctx context.Context, caller principal.Principal, name, version, registrationID string) error {
	rec, err := h.store.Get(ctx, registrationID)
	switch {
	case err == nil && rec.UserID != caller.UserID && !h.admin(caller):
		logging.FromContext(ctx).Warn("announcement refused: recorded for another user",
			"registration_id", registrationID, "owner", rec.UserID, "user_id", caller.UserID)
		return versionOwned(name, version)
	case err != nil && !errors.Is(err, regstore.ErrNotFound):
		return storeUnavailable(err)
	}
	if err := h.claimModel(ctx, caller, name); err != nil {
		return err
	}
	return h.claimVersion(ctx, caller, name, version)
}
