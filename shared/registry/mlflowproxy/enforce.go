package mlflowproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/searchfilter"
)

// Per-resource permissions (issue 14). After the scope check and before any MLflow call of the
// request itself, the proxy finds the experiment or registered model the operation addresses
// (resources.go), asks the permission store what it knows of it (its owner and the grants that
// apply: one cached read) and lets the call through only when the caller's effective level
// reaches the catalog's Needs for the operation; a create of an experiment or registered model
// checks Policy.CanCreate on its name. A refusal is MLflow's 403 PERMISSION_DENIED naming the
// level and the resource, so the stock client shows it, and MLflow is never called. Searches are
// filtered instead (SRCH), so they are not refused here.

// Permissions is what the proxy asks of the permission store: Facts from permstore.Cached, the
// owner claim from permstore.Store (PermissionStore joins them).
type Permissions interface {
	Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error)
	// ClaimExperimentOwner records userID as the owner of a new experiment and returns the owner;
	// losing to an earlier owner is permstore.ErrOwned.
	ClaimExperimentOwner(ctx context.Context, experimentID, userID string, now time.Time) (string, error)
	// SetGrant gives userID level on r (a renamed model keeps its grants under the new name).
	SetGrant(ctx context.Context, r permissions.Resource, userID string, level permissions.Level) error
	// Forget drops what is cached of r, so a change made here is seen at once here.
	Forget(r permissions.Resource)
}

// FactsSource is the cached read of a resource's facts (permstore.Cached).
type FactsSource interface {
	Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error)
	Forget(r permissions.Resource)
}

// OwnersAndGrants claims experiment owners and writes grants (permstore.Store).
type OwnersAndGrants interface {
	ClaimExperimentOwner(ctx context.Context, experimentID, userID string, now time.Time) (string, error)
	SetGrant(ctx context.Context, r permissions.Resource, userID string, level permissions.Level) error
}

// PermissionStore is the cached facts and the store's writes as one Permissions.
type PermissionStore struct {
	Cached FactsSource
	Owners OwnersAndGrants
}

func (s PermissionStore) Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error) {
	return s.Cached.Facts(ctx, r)
}

func (s PermissionStore) ClaimExperimentOwner(ctx context.Context, id, userID string, now time.Time) (string, error) {
	return s.Owners.ClaimExperimentOwner(ctx, id, userID, now)
}

func (s PermissionStore) SetGrant(ctx context.Context, r permissions.Resource, userID string, level permissions.Level) error {
	return s.Owners.SetGrant(ctx, r, userID, level)
}

func (s PermissionStore) Forget(r permissions.Resource) { s.Cached.Forget(r) }

// enforcement is the proxy's per-resource check; nil on a Handler: permissions are off.
type enforcement struct {
	perms    Permissions
	policy   permissions.Policy
	resolver *resolver
}

// WithPermissions turns per-resource enforcement on: perms is the permission store, policy the
// deployment's default, lookups the MLflow reads that resolve ids (nil: the proxy's own client,
// through its upstream transport).
func (h *Handler) WithPermissions(perms Permissions, policy permissions.Policy, lookups Lookups) *Handler {
	if lookups == nil {
		lookups = h.lookups
	}
	h.enforce = &enforcement{perms: perms, policy: policy, resolver: newResolver(lookups)}
	return h
}

// Decisions, recorded on the exchange for the audit log.
const (
	DecisionAllowed   = "allowed"
	DecisionRefused   = "refused"
	DecisionUnchecked = "unchecked" // no resource of the registry's, a search, or permissions off
)

// check applies the operation's permission to the request, filling ex.resource and ex.decision.
func (h *Handler) check(r *http.Request, ex *exchange, op mlflowcatalog.Operation) error {
	ex.decision = DecisionUnchecked
	if op.Name == graphqlOperation {
		return h.checkGraphQL(r, ex, op)
	}
	e := h.enforce
	if e == nil || op.Resource == mlflowcatalog.None || (op.Needs == permissions.NoPermissions && !op.Creates) ||
		searchfilter.Filters(op.Name) {
		return nil
	}
	var body []byte
	if r.Method != http.MethodGet && readsBody(op) {
		var err error
		if body, err = readBody(r, maxEnforcedBody); err != nil {
			return err
		}
	}
	ids, err := requestIDs(op, r, ex.route.Endpoint, body)
	if errors.Is(err, ErrNoResource) {
		return nil // MLflow refuses the call for its missing id
	}
	if err != nil {
		return newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "The request's ids could not be read: "+err.Error()).withCause(err)
	}
	caller := ex.caller.Caller(h.adminEmails) // a narrowed key brings its patterns
	ctx := r.Context()
	if op.Creates {
		res := permissions.Resource{Kind: createdKind(op), ID: ids[0].id}
		ex.resource = res
		if !e.policy.CanCreate(caller, res) {
			ex.decision = DecisionRefused
			return createDenied(op, res)
		}
		if res.Kind == permissions.RegisteredModel {
			if err := e.notAVariant(ctx, res.ID); err != nil {
				ex.decision = DecisionRefused
				return err
			}
		}
		ex.decision = DecisionAllowed
		ex.claimsExperiment = res.Kind == permissions.Experiment
		return nil
	}
	return e.checkEach(ctx, ex, op, caller, ids)
}

// checkEach applies op's level to the resource each id belongs to: the first is the exchange's
// resource unless one is refused, which ends the check, and the decision is made only once all
// are checked. An id MLflow does not know is left for MLflow to answer (RESOURCE_DOES_NOT_EXIST),
// so a check of none of them decides nothing.
func (e *enforcement) checkEach(ctx context.Context, ex *exchange, op mlflowcatalog.Operation, caller permissions.Caller, ids []named) error {
	checked := false
	for _, n := range ids {
		res, err := e.resolver.resource(ctx, n)
		if errors.Is(err, errUnresolved) {
			logging.FromContext(ctx).Info("permission not checked: MLflow does not know the id; it answers", "operation", op.Name, "cause", err)
			continue
		}
		if err != nil {
			return newError(http.StatusBadGateway, "BAD_GATEWAY", "MLflow is unreachable; retry later").withCause(err)
		}
		facts, err := e.perms.Facts(ctx, res)
		if errors.Is(err, permstore.ErrInvalid) {
			return newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Invalid %s id", kindName(res.Kind))).withCause(err)
		}
		if err != nil {
			return newError(http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "Permissions cannot be read now; retry later").withCause(err)
		}
		if !checked {
			ex.resource = res
		}
		checked = true
		if held := e.policy.Effective(caller, res, facts); held < op.Needs {
			ex.resource, ex.decision = res, DecisionRefused
			return denied(op, res, held)
		}
	}
	if checked {
		ex.decision = DecisionAllowed
	}
	return nil
}

// readsBody: the operation carries an id in its JSON body.
func readsBody(op mlflowcatalog.Operation) bool {
	for _, f := range op.IDs {
		if f.In == mlflowcatalog.Body {
			return true
		}
	}
	return false
}

func createdKind(op mlflowcatalog.Operation) permissions.Kind {
	if op.Resource == mlflowcatalog.Experiment {
		return permissions.Experiment
	}
	return permissions.RegisteredModel
}

// kindName is how a refusal names a kind of resource.
func kindName(k permissions.Kind) string {
	if k == permissions.RegisteredModel {
		return "registered model"
	}
	return string(k)
}

func denied(op mlflowcatalog.Operation, res permissions.Resource, held permissions.Level) *apiError {
	e := newError(http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf(
		"Permission denied: %s needs %s on %s '%s'; this key holds %s on it", op.Name, op.Needs, kindName(res.Kind), res.ID, held))
	e.extra = map[string]any{"required_permission": op.Needs.String(), "resource_type": string(res.Kind), "resource_id": res.ID}
	return e
}

func createDenied(op mlflowcatalog.Operation, res permissions.Resource) *apiError {
	e := newError(http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf(
		"Permission denied: this key may not create %s '%s' (it is narrowed to other names)", kindName(res.Kind), res.ID))
	e.extra = map[string]any{"resource_type": string(res.Kind), "resource_id": res.ID}
	return e
}

// claimExperimentOwner makes the caller the owner of the experiment MLflow's answer to
// experiments/create names ({"experiment_id": …}); it never fails the call (as recordOwner).
func (h *Handler) claimExperimentOwner(ex *exchange, res *http.Response) {
	ctx := res.Request.Context()
	log := logging.FromContext(ctx)
	answer, whole, err := readAnswer(res)
	if !whole {
		log.Warn("experiment owner not recorded: MLflow's answer could not be read", "cause", err)
		return
	}
	body, err := contentcoding.Decode(answer, res.Header.Get("Content-Encoding"), ownedBodyLimit)
	var created struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err == nil {
		err = json.Unmarshal(body, &created)
	}
	if err != nil || created.ExperimentID == "" || ex.caller.UserID == "" {
		log.Warn("experiment owner not recorded: MLflow's answer names no experiment", "cause", err)
		return
	}
	cctx, cancel, _ := afterAnswer(ctx, claimTimeout, outboxReserve)
	defer cancel()
	if owner, err := h.enforce.perms.ClaimExperimentOwner(cctx, created.ExperimentID, ex.caller.UserID, time.Now()); errors.Is(err, permstore.ErrOwned) {
		log.Info("new experiment already owned; not claimed", "experiment_id", created.ExperimentID, "owner", owner, "user_id", ex.caller.UserID)
	} else if err != nil {
		log.Error("experiment owner not recorded", "experiment_id", created.ExperimentID, "user_id", ex.caller.UserID, "cause", err)
	}
}

// carryModelPermissions gives a registered model MLflow has just renamed the owner and the user
// grants its old name had, as MLflow's basic-auth app renames its permission rows: otherwise the
// new name would be unowned, and its owner could no longer delete it. Pattern grants follow names
// and need nothing. Like the owner claims, it never fails the call; what it could not carry is
// logged, and an admin can grant it again.
func (h *Handler) carryModelPermissions(ex *exchange, res *http.Response) {
	ctx, cancel, _ := afterAnswer(res.Request.Context(), claimTimeout, outboxReserve)
	defer cancel()
	log := logging.FromContext(ctx)
	fields, err := changes.ReadFields(ex.requestBody)
	var from, to string
	if err == nil {
		from, err = fields.String("name")
	}
	if err == nil {
		to, err = fields.String("new_name")
	}
	if err != nil || from == "" || to == "" {
		log.Warn("renamed model's permissions not carried: the request names no names", "cause", err)
		return
	}
	old := permissions.Resource{Kind: permissions.RegisteredModel, ID: from}
	renamed := permissions.Resource{Kind: permissions.RegisteredModel, ID: to}
	facts, err := h.enforce.perms.Facts(ctx, old)
	if err != nil {
		log.Error("renamed model's permissions not carried", "model_name", from, "new_name", to, "cause", err)
		return
	}
	if facts.Owner != "" {
		if owner, err := h.owners.ClaimOwner(ctx, permstore.ModelOwnerPK(to), facts.Owner, to, "", time.Now()); err != nil {
			log.Error("renamed model's owner not carried", "model_name", from, "new_name", to, "owner", facts.Owner, "held_by", owner, "cause", err)
		}
	}
	for _, g := range facts.Grants {
		if g.Pattern || g.Target != from {
			continue
		}
		if err := h.enforce.perms.SetGrant(ctx, renamed, g.UserID, g.Level); err != nil {
			log.Error("renamed model's grant not carried", "model_name", from, "new_name", to, "user_id", g.UserID, "cause", err)
		}
	}
	h.enforce.perms.Forget(renamed)
}

// notAVariant refuses to create a registered model whose name MLflow holds under another spelling
// the registry takes for the same (permissions.FoldName: owner and grant items fold names). On a
// case-sensitive database MLflow would keep both, and the new one would claim the existing one's
// owner item: its creator would manage a model that is not theirs. The exact name is left to MLflow,
// which refuses it itself. One MLflow read, for a registered-model create only.
func (e *enforcement) notAVariant(ctx context.Context, name string) error {
	held, err := e.resolver.mlflow.FindRegisteredModel(ctx, name)
	if err != nil {
		return newError(http.StatusBadGateway, "BAD_GATEWAY", "MLflow is unreachable; retry later").withCause(err)
	}
	if held != "" && held != name {
		return newError(http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", fmt.Sprintf(
			"Registered model %q already exists as %q: the registry compares model names ignoring case", name, held))
	}
	return nil
}
