package keysapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// The audit log (issue 14, item 4): every key creation and revocation, whatever its outcome, and
// every refusal (any 4xx) the keys API answers yield one audit record. A listing that succeeds
// yields none. The resource is the key by its id; the key itself is in no record (Created is
// never looked at, and an id from the path is named only when it is one we could have issued).

// Auditor writes audit records; *audit.Writer satisfies it.
type Auditor interface {
	Write(audit.Record) error
}

// WithAudit makes h write an audit record for every creation, revocation and refusal to a.
func (h *Handler) WithAudit(a Auditor) *Handler {
	h.auditor = a
	return h
}

// Audited operations: the gateway's own names for its key routes.
const (
	OpCreateAPIKey      = "CreateAPIKey"
	OpRevokeAPIKey      = "RevokeAPIKey"
	OpListAPIKeys       = "ListAPIKeys"
	OpBootstrapAdminKey = "BootstrapAdminKey"
	// ResourceAPIKey is the records' resource kind.
	ResourceAPIKey = "api_key"
)

// auditNote is what a route learns of its call for the audit record as it runs: the id of the
// key it created.
type auditNote struct{ keyID string }

type auditNoteKey struct{}

func noteKeyID(ctx context.Context, id string) {
	if n, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		n.keyID = id
	}
}

// auditOperation names the route of r; every is true when each of its calls is audited, false
// when only its refusals are (a listing, and anything no route serves).
func auditOperation(r *http.Request) (op string, every bool) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/keys":
		return OpCreateAPIKey, true
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/keys/"):
		return OpRevokeAPIKey, true
	case r.Method == http.MethodGet && r.URL.Path == "/api/keys":
		return OpListAPIKeys, false
	}
	return "", false
}

// issuedID is id when it is one the API could have issued (a canonical UUID), else "": a client
// may paste a key where its id belongs, and that text is not written anywhere.
func issuedID(id string) string {
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return ""
	}
	return id
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
	if !every && (status < 400 || status >= 500) {
		return
	}
	rec := audit.Record{
		RequestID: apigw.RequestID(r.Context()), Operation: op, Method: r.Method,
		Outcome: audit.OutcomeOf(status), Status: status, Reason: res.Reason(),
	}
	if caller, ok := access.From(r.Context()); ok {
		rec.UserID, rec.KeyID = caller.UserID, caller.KeyID
	}
	switch op {
	case OpCreateAPIKey:
		rec.Resource = audit.Resource{Kind: ResourceAPIKey, ID: note.keyID}
	case OpRevokeAPIKey:
		rec.Resource = audit.Resource{Kind: ResourceAPIKey, ID: issuedID(keyID(r))}
	case OpListAPIKeys:
		rec.Resource = audit.Resource{Kind: ResourceAPIKey}
	}
	h.writeAudit(r.Context(), rec)
}

func (h *Handler) writeAudit(ctx context.Context, rec audit.Record) {
	if h.auditor == nil {
		return
	}
	if err := h.auditor.Write(rec); err != nil {
		logging.FromContext(ctx).Error("audit record not written", "cause", err, "operation", rec.Operation)
	}
}
