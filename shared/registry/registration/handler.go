// Package registration is the registration API of SPEC section 5: POST /api/models/register
// registers a logged model in MLflow exactly as mlflow.register_model would, POST
// /api/models/tokenized-registration-events announces a version the client registered itself,
// and GET /api/registrations/{registration_id} shows a registration and its events.
//
// Each registration is a record in DynamoDB holding the events it owes (model_registered and,
// when the model qualifies, model_ready_to_deploy). The handler publishes them through an
// EventPublisher when it has one; what does not go out stays pending for the outbox function.
package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/idempotency"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/mlflowops"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// GatewayTimeout is API Gateway's integration timeout: every answer must be sent before it.
const GatewayTimeout = 29 * time.Second

// answerMargin is kept free of MLflow calls before the deadline, for the record write, the
// publication of the events and the answer itself.
const answerMargin = 1500 * time.Millisecond

// publishMargin is kept free of event publication before the deadline: events that are not out by
// then stay pending for the outbox rather than delay the answer past the gateway's timeout.
const publishMargin = 500 * time.Millisecond

// MLflow is the part of the MLflow API the handler uses; *mlflow.Client satisfies it.
type MLflow interface {
	mlflowops.MLflow
	// FindRegisteredModel is the registered model MLflow holds under name as the gateway folds
	// it, "" if none: whether an unowned name existed before the gateway knew it.
	FindRegisteredModel(ctx context.Context, name string) (string, error)
}

// Store is the part of the registrations table the handler uses; *regstore.Store satisfies it.
type Store interface {
	Create(ctx context.Context, rec regstore.Registration) error
	ReplaceOwn(ctx context.Context, rec regstore.Registration) error
	ClaimOwner(ctx context.Context, pk, userID, modelName, version string, now time.Time) (string, error)
	OwnerOf(ctx context.Context, pk string) (string, error)
	Get(ctx context.Context, registrationID string) (*regstore.Registration, error)
	MarkPublished(ctx context.Context, registrationID string, eventIDs []string) error
	idempotency.Store
}

// EventPublisher sends a registration's pending events (one PutEvents) and returns the ids of
// those that went out; the rest stay pending for the outbox.
type EventPublisher interface {
	Publish(ctx context.Context, evs []regstore.Event) (published []string, err error)
}

// Deps is what the handler works with.
type Deps struct {
	MLflow MLflow
	Store  Store
	// Publisher publishes events as soon as their record is written. Nil leaves every event
	// pending, for the outbox function to publish.
	Publisher EventPublisher
	// AdminEmails are callers treated as admins (they may read anyone's registration).
	AdminEmails []string
	// MLflowTimeout is the per-call timeout the MLflow client applies: how long MLflow may still
	// be working on a call the handler gave up on.
	MLflowTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit receives a record of every registration call and refusal (audit.go); nil writes none.
	Audit Auditor
	// Permissions brings the grants on registered models (permission.go); nil knows none, so only
	// owners and admins act on a model.
	Permissions Permissions
	// Policy is the deployment's default level (PERMISSIONS_DEFAULT).
	Policy permissions.Policy
}

// Handler serves the registration API.
type Handler struct {
	mlflow    MLflow
	store     Store
	publisher EventPublisher
	keys      idempotency.Keys
	ops       mlflowops.Ops
	policy    access.Policy
	timeout   time.Duration
	now       func() time.Time
	mux       *httpapi.Mux
	auditor   Auditor
	perms     perms
}

// perms is the permission store and the deployment's policy.
type perms struct {
	store  Permissions
	policy permissions.Policy
}

// New builds the handler.
func New(d Deps) *Handler {
	h := &Handler{
		mlflow: d.MLflow, store: d.Store, publisher: d.Publisher,
		policy: access.Policy{AdminEmails: d.AdminEmails}, timeout: d.MLflowTimeout, now: d.Now,
		auditor: d.Audit, perms: perms{store: d.Permissions, policy: d.Policy},
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.keys = idempotency.Keys{Store: d.Store, Now: h.now}
	h.ops = mlflowops.Ops{MLflow: d.MLflow}
	h.mux = httpapi.NewMux()
	h.mux.Handle("POST /api/models/register", httpapi.Endpoint(h.register))
	h.mux.Handle("POST /api/models/tokenized-registration-events", httpapi.Endpoint(h.announce))
	h.mux.Handle("GET /api/registrations/{registration_id}", httpapi.Endpoint(h.get))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Answers are per user and per moment (event statuses change): no cache may keep them.
	w.Header().Set("Cache-Control", "no-store")
	h.serveAudited(w, r, h.mux)
}

// MaxBodyBytes is the largest request body either registration route reads.
const MaxBodyBytes = 256 << 10

// readBody reads at most MaxBodyBytes of r's body (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return jsonbody.Read(w, r, MaxBodyBytes, httpapi.TooLarge(fmt.Sprintf("the request body is limited to %d KB; "+
		"send large schemas or documents as MLflow artifacts and refer to them (eval_spec, api_schema)", MaxBodyBytes>>10)))
}

// deadline is when this request's answer must be on its way: the invocation's deadline or the
// gateway's timeout, whichever comes first.
func deadline(ctx context.Context, start time.Time) time.Time {
	d := start.Add(GatewayTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	return d
}

// mlflowContext bounds every MLflow call of a request so that the answer, 504 included, still
// goes out before the gateway gives up.
func mlflowContext(ctx context.Context, start time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, deadline(ctx, start).Add(-answerMargin))
}

// get is GET /api/registrations/{registration_id}: the caller's own registrations (an admin's:
// anyone's), with their events' current statuses. Anything else is the same 404, so ids of other
// users' registrations cannot be probed.
func (h *Handler) get(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	caller, err := h.policy.Require(r, principal.Read)
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("registration_id")
	missing := mlflowops.NotFound(CodeRegistrationNotFound, "no such registration among yours")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return 0, nil, missing
	}
	rec, err := h.store.Get(r.Context(), id)
	if errors.Is(err, regstore.ErrNotFound) {
		return 0, nil, missing
	}
	if err != nil {
		return 0, nil, record.StoreUnavailable(err)
	}
	if rec.UserID != caller.UserID && !h.admin(caller) {
		logging.FromContext(r.Context()).Info("registration of another user requested", "registration_id", id)
		noteRefused(r.Context())
		return 0, nil, missing
	}
	v, err := record.View(rec)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}

// admin reports whether caller may act on any user's registrations.
func (h *Handler) admin(caller principal.Principal) bool {
	return caller.Level(h.policy.AdminEmails) >= principal.Admin
}
