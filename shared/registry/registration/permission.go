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
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// Per-resource permissions (issue 14): the Hokusai endpoints obey the proxy's rules. Registering
// a version needs EDIT on its registered model, or the right to create it when the gateway knows
// no owner of the name (Policy.CanCreate; the registration then claims it, issue 10); announcing
// needs EDIT on the version's model. The owner holds MANAGE, an admin everything, and a user the
// owner granted EDIT (or a pattern grant naming the model) may register and announce under it. A
// key narrowed to patterns acts only on the models they name. The owner case keeps issue 10's
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
// model name: the name is claimed for them when nobody owns it (they may create it), else they
// need EDIT on the owner's model.
func (h *Handler) mayRegister(ctx context.Context, caller principal.Principal, name string) error {
	if err := h.narrowedAway(ctx, caller, name); err != nil {
		return err
	}
	owner, err := h.store.ClaimOwner(ctx, regstore.ModelOwnerPK(name), caller.UserID, name, "", h.now())
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, regstore.ErrOwned):
		return record.StoreUnavailable(err)
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
