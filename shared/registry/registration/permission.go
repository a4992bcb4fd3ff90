package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/mlflowops"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// Per-resource permissions (issue 14): the Hokusai endpoints obey the proxy's rules. Registering
// a version needs EDIT on its registered model, or the right to create it when the gateway knows
// no owner of the name and MLflow does not hold it yet (Policy.CanCreate; the registration then
// claims it, issue 10); announcing needs EDIT on the version's model. A registered model MLflow
// held before the gateway knew it stays unowned whoever acts on it (only an admin's act claims
// it): a user needs EDIT on it through the default or a grant, else PERMISSION_DENIED. The owner
// holds MANAGE, an admin everything, and a user the owner granted EDIT (or a pattern grant naming
// the model) may register and announce under it. A key narrowed to patterns acts only on the
// models they name. The owner case keeps issue 10's
// codes (MODEL_OWNED_BY_ANOTHER_USER, MODEL_VERSION_OWNED_BY_ANOTHER_USER); a narrowed key's
// refusal is MLflow's PERMISSION_DENIED, as the proxy answers it.

// Permissions is what the registration asks of the permission store: a resource's owner and the
// grants that apply (permstore.Cached).
type Permissions interface {
	Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error)
}

// CodePermissionDenied is MLflow's code for a refusal of the level a resource needs (403).
const CodePermissionDenied = "PERMISSION_DENIED"

// needed is the level both Hokusai endpoints need on the registered model.
const needed = permissions.Edit

func modelResource(name string) permissions.Resource {
	return permissions.Resource{Kind: permissions.RegisteredModel, ID: name}
}

// withLevel names the level a refusal needs, in the answer's fields as the proxy's refusals do.
func withLevel(e *httpapi.Error, name string) *httpapi.Error {
	e.Extra = map[string]any{"required_permission": needed.String(), "resource_type": string(permissions.RegisteredModel), "resource_id": name}
	return e
}

// narrowedAway refuses a key narrowed to patterns none of which name the model: such a key may
// neither create it nor, whoever owns it, edit it.
func (h *Handler) narrowedAway(ctx context.Context, caller principal.Principal, name string) error {
	if h.perms.policy.CanCreate(caller.Caller(h.policy.AdminEmails), modelResource(name)) {
		return nil
	}
	logging.FromContext(ctx).Warn("registration refused: the key is narrowed to other names", "model_name", name, "user_id", caller.UserID)
	return withLevel(httpapi.NewError(http.StatusForbidden, CodePermissionDenied, fmt.Sprintf(
		"Permission denied: registering under model %q needs %s on it, and this key is narrowed to other names", name, needed)), name)
}

// mayEdit reports whether caller holds EDIT on the model owner owns: an admin, the owner, or a
// user granted it. owner is the claim's answer, which is never stale; the cached facts bring the
// grants.
func (h *Handler) mayEdit(ctx context.Context, caller principal.Principal, name, owner string) (bool, error) {
	c := caller.Caller(h.policy.AdminEmails)
	if c.Admin || owner != "" && owner == caller.UserID {
		return h.perms.policy.Effective(c, modelResource(name), permissions.Facts{Owner: owner}) >= needed, nil
	}
	var facts permissions.Facts
	if h.perms.store != nil {
		var err error
		if facts, err = h.perms.store.Facts(ctx, modelResource(name)); errors.Is(err, permstore.ErrInvalid) {
			return false, httpapi.Validation(httpapi.FieldError{Field: "model_name", Message: "not a registered model name MLflow accepts"})
		} else if err != nil {
			return false, httpapi.Unavailable("permissions cannot be read now; retry later", 1, err)
		}
	}
	if owner != "" {
		facts.Owner = owner
	}
	return h.perms.policy.Effective(c, modelResource(name), facts) >= needed, nil
}

// mayRegister checks, before MLflow's first write, that caller may register a version under the
// model name: a name nobody owns is claimed for them when MLflow does not hold it yet (they may
// create it); a registered model MLflow held before the gateway knew it stays unowned and needs
// EDIT (preexisting); an owned one needs EDIT on the owner's model.
func (h *Handler) mayRegister(ctx, mctx context.Context, caller principal.Principal, name string) error {
	if err := h.narrowedAway(ctx, caller, name); err != nil {
		return err
	}
	owner, err := h.store.OwnerOf(ctx, regstore.ModelOwnerPK(name))
	if err != nil {
		return record.StoreUnavailable(err)
	}
	if owner == "" {
		held, err := h.heldByMLflow(mctx, name)
		if err != nil {
			return err
		}
		if held != "" && !h.admin(caller) {
			return h.preexisting(ctx, caller, name, held)
		}
		// A new name, or an admin's (who manages everything, and owns what they register as
		// before): claimed, unless another user claimed it since the read.
		owner, err = h.store.ClaimOwner(ctx, regstore.ModelOwnerPK(name), caller.UserID, name, "", h.now())
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, regstore.ErrOwned):
			return record.StoreUnavailable(err)
		}
	}
	if owner == caller.UserID {
		return nil
	}
	ok, err := h.mayEdit(ctx, caller, name, owner)
	if err != nil {
		return err
	}
	if ok {
		logging.FromContext(ctx).Info("registering under another user's model, with EDIT on it", "model_name", name, "owner", owner)
		return nil
	}
	logging.FromContext(ctx).Warn("registration refused: owned by another user",
		"model_name", name, "owner", owner, "user_id", caller.UserID)
	return modelOwned(name)
}

// heldByMLflow is the registered model MLflow holds under the unowned name (as the gateway folds
// names), "" if none. A search too wide to tell counts as held: the caller then needs EDIT.
func (h *Handler) heldByMLflow(mctx context.Context, name string) (string, error) {
	held, err := h.mlflow.FindRegisteredModel(mctx, name)
	if errors.Is(err, mlflow.ErrInconclusive) {
		logging.FromContext(mctx).Warn("whether MLflow holds the model is inconclusive; taken as held", "model_name", name)
		return name, nil
	}
	if err != nil {
		return "", mlflowops.FromMLflow(err, nil)
	}
	return held, nil
}

// preexisting decides a non-admin's act on a registered model MLflow held before the gateway
// knew it (held, as MLflow spells it): it has no owner and nobody may claim it by acting on it
// (only admins manage it, SPEC's model); the caller needs EDIT through the default or a grant.
func (h *Handler) preexisting(ctx context.Context, caller principal.Principal, name, held string) error {
	ok, err := h.mayEdit(ctx, caller, name, "")
	if err != nil {
		return err
	}
	if ok {
		logging.FromContext(ctx).Info("acting on a model that predates the gateway, with EDIT on it; not claimed",
			"model_name", name, "held_as", held, "user_id", caller.UserID)
		return nil
	}
	logging.FromContext(ctx).Warn("refused: the model predates the gateway and has no owner",
		"model_name", name, "held_as", held, "user_id", caller.UserID)
	return unownedRefusal(name)
}

func unownedRefusal(name string) *httpapi.Error {
	return withLevel(httpapi.NewError(http.StatusForbidden, CodePermissionDenied, fmt.Sprintf(
		"Permission denied: model %q existed in MLflow before the registry knew it and has no owner; registering or "+
			"announcing under it needs %s on it, which an admin may grant you", name, needed)), name)
}
