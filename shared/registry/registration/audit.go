package registration

import (
	"context"
	"net/http"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// The audit log (issue 14, item 4): every call of the two registration routes, whatever its
// outcome, and every refusal of the registrations' read (a 401/403, or the 404 that hides another
// user's registration) yields one audit record.

// Auditor writes audit records; *audit.Writer satisfies it.
type Auditor interface {
	Write(audit.Record) error
}

// Audited operations: the gateway's own names for its routes.
const (
	OpRegisterModel   = "RegisterModel"
	OpAnnounceVersion = "AnnounceModelVersion"
	OpGetRegistration = "GetRegistration"
)

// auditNote is what a route learns of its call for the audit record as it runs.
type auditNote struct {
	resource audit.Resource
	refused  bool // answered as if absent, to hide what the caller may not see
}

type auditNoteKey struct{}

// noteResource records the resource the call addresses, once the body names it.
func noteResource(ctx context.Context, kind, id string) {
	if n, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		n.resource = audit.Resource{Kind: kind, ID: id}
	}
}

// noteRefused marks a call answered with a refusal disguised as another status.
func noteRefused(ctx context.Context) {
	if n, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		n.refused = true
	}
}

// auditOperation names the audited route of r; every is true when each of its calls is audited,
// false when only its refusals are.
func auditOperation(r *http.Request) (op string, every bool) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/models/register":
		return OpRegisterModel, true
	case r.Method == http.MethodPost && r.URL.Path == "/api/models/tokenized-registration-events":
		return OpAnnounceVersion, true
	case strings.HasPrefix(r.URL.Path, "/api/registrations/"):
		return OpGetRegistration, false
	}
	return "", false
}

// serveAudited serves r through next and writes its audit record when it is audited.
func (h *Handler) serveAudited(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if h.auditor == nil {
		next.ServeHTTP(w, r)
		return
	}
	note := &auditNote{}
	res := audit.NewResponse(w)
	next.ServeHTTP(res, r.WithContext(context.WithValue(r.Context(), auditNoteKey{}, note)))

	op, every := auditOperation(r)
	status := res.Status()
	if !every && !note.refused && status != http.StatusUnauthorized && status != http.StatusForbidden {
		return
	}
	outcome := audit.OutcomeOf(status)
	if note.refused {
		outcome = audit.Refused
	}
	caller, _ := access.From(r.Context())
	rec := audit.Record{
		RequestID: apigw.RequestID(r.Context()), UserID: caller.UserID, KeyID: caller.KeyID,
		Operation: op, Resource: note.resource, Method: r.Method, Outcome: outcome, Status: status, Reason: res.Reason(),
	}
	if err := h.auditor.Write(rec); err != nil {
		logging.FromContext(r.Context()).Error("audit record not written", "cause", err, "operation", op)
	}
}
