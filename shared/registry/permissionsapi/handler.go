// Package permissionsapi serves the permission endpoints of MLflow's auth REST API from the
// gateway's own permission store, so MLflow's auth client (mlflow.server.get_app_client
// ("basic-auth", tracking_uri=<gateway>)) manages grants through the gateway with a Hokusai key:
// MLflow 3's users/permissions/{grant,revoke,get,list} and users/current/permissions, and MLflow
// 2's experiments/permissions/{create,get,update,delete} and registered-models/permissions/…, in
// MLflow's request and answer shapes and error codes. A username is a Hokusai user id.
//
// Changing a grant needs MANAGE on the resource (its owner, an admin, or a MANAGE grant); a grant
// on a name pattern (an id with "*") needs an admin key that is not narrowed. Users, their keys and
// roles are Hokusai's (its key API), not MLflow's: those endpoints answer why.
//
// The proxy calls it for the catalog's gateway-served operations (mlflowcatalog.Gateway) and never
// forwards them to MLflow. A change reaches the permission checks of every function within the
// permission cache's TTL (PERMISSIONS_CACHE_TTL); this package reads and writes the store directly,
// so it decides on current grants.
package permissionsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
)

// Store is what the handler needs of the permission store (*permstore.Store), uncached. Deletes
// answer permstore.ErrNotFound for a grant that is not there.
type Store interface {
	// Facts are the owner of r and the grants that apply to it: every user grant on it and every
	// pattern grant of its kind.
	Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error)
	SetGrant(ctx context.Context, r permissions.Resource, userID string, level permissions.Level) error
	DeleteGrant(ctx context.Context, r permissions.Resource, userID string) error
	SetPatternGrant(ctx context.Context, p permissions.Pattern, userID string, level permissions.Level) error
	DeletePatternGrant(ctx context.Context, p permissions.Pattern, userID string) error
	// GrantsOfUser are every grant held by the user, on names and on patterns.
	GrantsOfUser(ctx context.Context, userID string) ([]permissions.Grant, error)
}

// Handler serves the permission endpoints.
type Handler struct {
	store       Store
	policy      permissions.Policy
	adminEmails []string
	ops         map[string]http.Handler
}

// New builds the handler over the store, deciding with policy (its Default is the
// deployment-wide default); adminEmails are the callers treated as admins (ADMIN_EMAILS).
func New(store Store, policy permissions.Policy, adminEmails []string) *Handler {
	h := &Handler{store: store, policy: policy, adminEmails: adminEmails}
	exp := legacy{kind: permissions.Experiment, idParam: pExperimentID, idName: "experiment_id", answerKey: "experiment_permission", what: "Experiment"}
	model := legacy{kind: permissions.RegisteredModel, idParam: pName, idName: "name", answerKey: "registered_model_permission", what: "Registered model"}
	h.ops = map[string]http.Handler{
		"GrantUserPermission":        h.endpoint(h.grant),
		"RevokeUserPermission":       h.endpoint(h.revoke),
		"GetUserPermission":          h.endpoint(h.get),
		"ListUserPermissions":        h.endpoint(h.list),
		"ListCurrentUserPermissions": h.endpoint(h.listCurrent),
		"GetCurrentUser":             h.endpoint(h.currentUser),

		"CreateExperimentPermission":      h.endpoint(exp.create(h)),
		"GetExperimentPermission":         h.endpoint(exp.get(h)),
		"UpdateExperimentPermission":      h.endpoint(exp.update(h)),
		"DeleteExperimentPermission":      h.endpoint(exp.delete(h)),
		"CreateRegisteredModelPermission": h.endpoint(model.create(h)),
		"GetRegisteredModelPermission":    h.endpoint(model.get(h)),
		"UpdateRegisteredModelPermission": h.endpoint(model.update(h)),
		"DeleteRegisteredModelPermission": h.endpoint(model.delete(h)),
	}
	for _, name := range usersAndRoles {
		h.ops[name] = h.endpoint(notHokusais(name))
	}
	return h
}

// Operation is the handler for a catalog operation the gateway serves, by its catalog name.
func (h *Handler) Operation(name string) (http.Handler, bool) {
	op, ok := h.ops[name]
	return op, ok
}

// Names are the operations the handler serves, sorted.
func (h *Handler) Names() []string {
	out := make([]string, 0, len(h.ops))
	for n := range h.ops {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// endpoint adapts an operation: the caller from the authorizer, the answer as JSON or MLflow's
// error shape.
func (h *Handler) endpoint(fn func(*http.Request, permissions.Caller) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := access.From(r.Context())
		if !ok {
			writeError(w, r, &Error{Status: http.StatusUnauthorized, Code: "UNAUTHENTICATED", Message: "Missing, invalid or revoked API key"})
			return
		}
		// The key's narrowing is part of the caller: a key narrowed to patterns manages nothing
		// they do not name, and grants on no pattern, whoever holds it.
		answer, err := fn(r, p.Caller(h.adminEmails))
		if err != nil {
			writeError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, answer)
	})
}

// one is one grant a request names: whose, on what.
type one struct {
	user    string
	r       permissions.Resource
	pattern bool
}

func (o one) grant(l permissions.Level) permissions.Grant {
	return permissions.Grant{Kind: o.r.Kind, Target: o.r.ID, Pattern: o.pattern, UserID: o.user, Level: l}
}

// set stores g, on a name or on a pattern.
func (h *Handler) set(ctx context.Context, g permissions.Grant) error {
	if g.Pattern {
		return h.store.SetPatternGrant(ctx, permissions.Pattern{Kind: g.Kind, Glob: g.Target}, g.UserID, g.Level)
	}
	return h.store.SetGrant(ctx, permissions.Resource{Kind: g.Kind, ID: g.Target}, g.UserID, g.Level)
}

// remove deletes g; a grant already gone (a concurrent revoke) is o's RESOURCE_DOES_NOT_EXIST.
func (h *Handler) remove(ctx context.Context, g permissions.Grant, gone *Error) error {
	var err error
	if g.Pattern {
		err = h.store.DeletePatternGrant(ctx, permissions.Pattern{Kind: g.Kind, Glob: g.Target}, g.UserID)
	} else {
		err = h.store.DeleteGrant(ctx, permissions.Resource{Kind: g.Kind, ID: g.Target}, g.UserID)
	}
	if errors.Is(err, permstore.ErrNotFound) {
		return gone
	}
	if err != nil {
		return fmt.Errorf("delete the grant on %s %s: %w", g.Kind, shown(g.Target), err)
	}
	return nil
}

// held is the grant the store has for o, if any: the same user, kind and target (names compared
// folded, as the registry compares them).
func (o one) held(f permissions.Facts) (permissions.Grant, bool) {
	i := slices.IndexFunc(f.Grants, func(g permissions.Grant) bool {
		return g.UserID == o.user && g.Kind == o.r.Kind && g.Pattern == o.pattern &&
			permissions.FoldName(g.Target) == permissions.FoldName(o.r.ID)
	})
	if i < 0 {
		return permissions.Grant{}, false
	}
	return f.Grants[i], true
}

func describe(r permissions.Resource) string {
	if r.Kind == permissions.Experiment {
		return fmt.Sprintf("experiment '%s'", shown(r.ID))
	}
	return fmt.Sprintf("registered model '%s'", shown(r.ID))
}

// manage reads what is known of o's resource and checks c may change its grants: MANAGE on it, or
// for a pattern an admin key that is not narrowed.
func (h *Handler) manage(ctx context.Context, c permissions.Caller, o one) (permissions.Facts, error) {
	if o.pattern && (!c.Admin || len(c.Patterns) > 0) {
		return permissions.Facts{}, denied("A grant on the pattern '%s' (a %s name with *) needs an admin key", shown(o.r.ID), o.r.Kind)
	}
	f, err := h.store.Facts(ctx, o.r)
	if err != nil {
		return f, fmt.Errorf("read the permissions of %s: %w", describe(o.r), err)
	}
	if l := h.policy.Effective(c, o.r, f); !o.pattern && l < permissions.Manage {
		return f, denied("Managing permissions on %s needs MANAGE on it; this key has %s", describe(o.r), l)
	}
	return f, nil
}

// mayView is whether c may read o.user's permission on o.r: an admin, the user themselves, or a
// manager of the resource. It returns the facts it read.
func (h *Handler) mayView(ctx context.Context, c permissions.Caller, o one) (permissions.Facts, error) {
	f, err := h.store.Facts(ctx, o.r)
	if err != nil {
		return f, fmt.Errorf("read the permissions of %s: %w", describe(o.r), err)
	}
	if c.Admin && len(c.Patterns) == 0 || c.UserID == o.user || !o.pattern && h.policy.Effective(c, o.r, f) == permissions.Manage {
		return f, nil
	}
	return f, denied("Reading another user's permission on %s needs MANAGE on it", describe(o.r))
}

// read3 is the (username, resource_type, resource_id) of MLflow 3's calls.
func read3(r *http.Request, extra ...string) (one, map[string]string, error) {
	ps, err := params(r, append([]string{pUsername, pResourceType, pResourceID}, extra...)...)
	if err != nil {
		return one{}, nil, err
	}
	user, err := userID(ps[pUsername])
	if err != nil {
		return one{}, nil, err
	}
	kind, err := kindOf(ps[pResourceType])
	if err != nil {
		return one{}, nil, err
	}
	res, pattern, err := target(kind, pResourceID, ps[pResourceID])
	if err != nil {
		return one{}, nil, err
	}
	return one{user: user, r: res, pattern: pattern}, ps, nil
}

func exists(o one) *Error {
	return alreadyExists("Permission for user=%s on resource_type=%s, resource_id=%s already exists.", shown(o.user), o.r.Kind, shown(o.r.ID))
}

func missing(o one) *Error {
	return doesNotExist("Permission for user=%s on resource_type=%s, resource_id=%s not found.", shown(o.user), o.r.Kind, shown(o.r.ID))
}

// grant is users/permissions/grant: a new grant, RESOURCE_ALREADY_EXISTS if the user has one
// there (MLflow's contract: revoke first to change it).
func (h *Handler) grant(r *http.Request, c permissions.Caller) (any, error) {
	o, ps, err := read3(r, pPermission)
	if err != nil {
		return nil, err
	}
	l, err := level(ps[pPermission])
	if err != nil {
		return nil, err
	}
	f, err := h.manage(r.Context(), c, o)
	if err != nil {
		return nil, err
	}
	if _, ok := o.held(f); ok {
		return nil, exists(o)
	}
	if err := h.set(r.Context(), o.grant(l)); err != nil {
		return nil, fmt.Errorf("grant %s on %s: %w", l, describe(o.r), err)
	}
	return struct{}{}, nil
}

// revoke is users/permissions/revoke: RESOURCE_DOES_NOT_EXIST if there is no such grant.
func (h *Handler) revoke(r *http.Request, c permissions.Caller) (any, error) {
	o, _, err := read3(r)
	if err != nil {
		return nil, err
	}
	f, err := h.manage(r.Context(), c, o)
	if err != nil {
		return nil, err
	}
	g, ok := o.held(f)
	if !ok {
		return nil, missing(o)
	}
	if err := h.remove(r.Context(), g, missing(o)); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// get is users/permissions/get: the user's effective permission on the resource, as a call of
// theirs would be decided ({"allowed": at least USE, "permission": the level}). Asking about
// oneself applies the calling key (admin, narrowing); about another user, their grants, ownership
// and the default (whether they are an admin comes with their key, which the gateway does not see
// here).
func (h *Handler) get(r *http.Request, c permissions.Caller) (any, error) {
	o, _, err := read3(r)
	if err != nil {
		return nil, err
	}
	f, err := h.mayView(r.Context(), c, o)
	if err != nil {
		return nil, err
	}
	subject := permissions.Caller{UserID: o.user}
	if o.user == c.UserID {
		subject = c
	}
	l := h.policy.Effective(subject, o.r, f)
	return map[string]any{"allowed": l >= permissions.Use, "permission": l.String()}, nil
}

// permissionRow is one row of users/permissions/list in MLflow 3's shape. The gateway has no roles:
// every grant is a direct one, shown as MLflow shows direct grants, on the user's synthetic role
// "__user_<id>__" (role_id 0) in the default workspace.
type permissionRow struct {
	RoleID          int    `json:"role_id"`
	RoleName        string `json:"role_name"`
	Workspace       string `json:"workspace"`
	ResourceType    string `json:"resource_type"`
	ResourcePattern string `json:"resource_pattern"`
	Permission      string `json:"permission"`
}

type listAnswer struct {
	IsAdmin     bool            `json:"is_admin"`
	Permissions []permissionRow `json:"permissions"`
}

func (h *Handler) listOf(ctx context.Context, user string, admin bool) (listAnswer, error) {
	grants, err := h.store.GrantsOfUser(ctx, user)
	if err != nil {
		return listAnswer{}, fmt.Errorf("list the grants of a user: %w", err)
	}
	out := listAnswer{IsAdmin: admin, Permissions: []permissionRow{}}
	for _, g := range grants {
		out.Permissions = append(out.Permissions, permissionRow{
			RoleName: "__user_" + user + "__", Workspace: "default",
			ResourceType: string(g.Kind), ResourcePattern: g.Target, Permission: g.Level.String(),
		})
	}
	slices.SortFunc(out.Permissions, func(a, b permissionRow) int {
		return strings.Compare(a.ResourceType+"\x00"+a.ResourcePattern, b.ResourceType+"\x00"+b.ResourcePattern)
	})
	return out, nil
}

// list is users/permissions/list?username=: an admin's or the user's own view of their grants.
// is_admin is known only of the calling key: false for another user.
func (h *Handler) list(r *http.Request, c permissions.Caller) (any, error) {
	ps, err := params(r, pUsername)
	if err != nil {
		return nil, err
	}
	user, err := userID(ps[pUsername])
	if err != nil {
		return nil, err
	}
	if user != c.UserID && !c.Admin {
		return nil, denied("Listing another user's permissions needs an admin key")
	}
	return h.listOf(r.Context(), user, user == c.UserID && c.Admin)
}

// listCurrent is users/current/permissions: the caller's own grants.
func (h *Handler) listCurrent(r *http.Request, c permissions.Caller) (any, error) {
	if _, err := params(r); err != nil {
		return nil, err
	}
	return h.listOf(r.Context(), c.UserID, c.Admin)
}

// currentUser is users/current: who the key belongs to, in MLflow's shape (the web UI asks).
func (h *Handler) currentUser(r *http.Request, c permissions.Caller) (any, error) {
	if _, err := params(r); err != nil {
		return nil, err
	}
	return map[string]any{
		"user":          map[string]any{"id": c.UserID, "username": c.UserID, "is_admin": c.Admin},
		"is_basic_auth": false,
	}, nil
}

// legacy is MLflow 2's per-kind permission API: experiments/permissions/… (experiment_id) and
// registered-models/permissions/… (name). create and get answer {"<kind>_permission": {<id>,
// user_id, permission}}; update and delete {}.
type legacy struct {
	kind      permissions.Kind
	idParam   string
	idName    string // the id's member in the answer
	answerKey string
	what      string // "Experiment", "Registered model": MLflow's not-found wording
}

func (lg legacy) read(r *http.Request, extra ...string) (one, map[string]string, error) {
	ps, err := params(r, append([]string{lg.idParam, pUsername}, extra...)...)
	if err != nil {
		return one{}, nil, err
	}
	user, err := userID(ps[pUsername])
	if err != nil {
		return one{}, nil, err
	}
	res, pattern, err := target(lg.kind, lg.idParam, ps[lg.idParam])
	if err != nil {
		return one{}, nil, err
	}
	return one{user: user, r: res, pattern: pattern}, ps, nil
}

func (lg legacy) answer(g permissions.Grant) any {
	return map[string]any{lg.answerKey: map[string]string{lg.idName: g.Target, "user_id": g.UserID, "permission": g.Level.String()}}
}

func (lg legacy) notFound(o one) *Error {
	return doesNotExist("%s permission with %s=%s and username=%s not found", lg.what, lg.idName, shown(o.r.ID), shown(o.user))
}

func (lg legacy) create(h *Handler) func(*http.Request, permissions.Caller) (any, error) {
	return func(r *http.Request, c permissions.Caller) (any, error) {
		o, ps, err := lg.read(r, pPermission)
		if err != nil {
			return nil, err
		}
		l, err := level(ps[pPermission])
		if err != nil {
			return nil, err
		}
		f, err := h.manage(r.Context(), c, o)
		if err != nil {
			return nil, err
		}
		if _, ok := o.held(f); ok {
			return nil, alreadyExists("%s permission (%s=%s, username=%s) already exists", lg.what, lg.idName, shown(o.r.ID), shown(o.user))
		}
		g := o.grant(l)
		if err := h.set(r.Context(), g); err != nil {
			return nil, fmt.Errorf("grant %s on %s: %w", l, describe(o.r), err)
		}
		return lg.answer(g), nil
	}
}

func (lg legacy) get(h *Handler) func(*http.Request, permissions.Caller) (any, error) {
	return func(r *http.Request, c permissions.Caller) (any, error) {
		o, _, err := lg.read(r)
		if err != nil {
			return nil, err
		}
		f, err := h.mayView(r.Context(), c, o)
		if err != nil {
			return nil, err
		}
		g, ok := o.held(f)
		if !ok {
			return nil, lg.notFound(o)
		}
		return lg.answer(g), nil
	}
}

func (lg legacy) update(h *Handler) func(*http.Request, permissions.Caller) (any, error) {
	return func(r *http.Request, c permissions.Caller) (any, error) {
		o, ps, err := lg.read(r, pPermission)
		if err != nil {
			return nil, err
		}
		l, err := level(ps[pPermission])
		if err != nil {
			return nil, err
		}
		f, err := h.manage(r.Context(), c, o)
		if err != nil {
			return nil, err
		}
		g, ok := o.held(f)
		if !ok {
			return nil, lg.notFound(o)
		}
		g.Level = l
		if err := h.set(r.Context(), g); err != nil {
			return nil, fmt.Errorf("update the grant on %s: %w", describe(o.r), err)
		}
		return struct{}{}, nil
	}
}

func (lg legacy) delete(h *Handler) func(*http.Request, permissions.Caller) (any, error) {
	return func(r *http.Request, c permissions.Caller) (any, error) {
		o, _, err := lg.read(r)
		if err != nil {
			return nil, err
		}
		f, err := h.manage(r.Context(), c, o)
		if err != nil {
			return nil, err
		}
		g, ok := o.held(f)
		if !ok {
			return nil, lg.notFound(o)
		}
		if err := h.remove(r.Context(), g, lg.notFound(o)); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	}
}

// usersAndRoles are the basic-auth app's user and role management operations: Hokusai's, not
// MLflow's, to manage.
var usersAndRoles = []string{
	"CreateUser", "GetUser", "ListUsers", "UpdateUserPassword", "UpdateUserAdmin", "DeleteUser",
	"CreateRole", "GetRole", "ListRoles", "UpdateRole", "DeleteRole",
	"AddRolePermission", "RemoveRolePermission", "ListRolePermissions", "UpdateRolePermission",
	"AssignRole", "UnassignRole", "ListUserRoles", "ListRoleUsers",
}

// notHokusais answers a user or role management call with where that is done instead.
func notHokusais(name string) func(*http.Request, permissions.Caller) (any, error) {
	msg := "Users, their passwords and admin rights are managed by Hokusai, not through MLflow's auth API: " +
		"a username is a Hokusai user id, and API keys are created and revoked with Hokusai's key API (/api/v1/keys)"
	if strings.Contains(name, "Role") {
		msg = "Roles are not supported by this gateway: grant a permission to a user, or to a name pattern " +
			"(a resource_id with *, admins only), with users/permissions/grant"
	}
	return func(*http.Request, permissions.Caller) (any, error) {
		return nil, &Error{Status: http.StatusNotFound, Code: "ENDPOINT_NOT_FOUND", Message: msg}
	}
}
