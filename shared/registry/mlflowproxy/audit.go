package mlflowproxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// The audit log (issue 14, item 4). Every write (an operation the catalog says needs write or
// admin access), whatever its outcome, and every refusal (the proxy's own 4xx while admitting a
// call, any 401 or 403) yields one audit record; a read that succeeds yields none. The record is
// written after the answer, from what the client was answered (audit.Response).

// Auditor writes audit records; *audit.Writer satisfies it.
type Auditor interface {
	Write(audit.Record) error
}

// WithAudit makes h write an audit record for every write and refusal to a.
func (h *Handler) WithAudit(a Auditor) *Handler {
	h.auditor = a
	return h
}

// auditBodyLimit is how much of a request body is read for the ids an audit record names; a
// longer body is relayed whole all the same, and the record names no id from it.
const auditBodyLimit = 64 << 10

// auditCall is one call's audit state, from ServeHTTP's start to its end.
type auditCall struct {
	h        *Handler
	r        *http.Request
	response *audit.Response
	body     []byte // the request body's start, when the operation carries ids in it
	ex       *exchange
	admitErr error
}

// startAudit wraps w, and reads the ids a request body carries before anything else reads it.
func (h *Handler) startAudit(w http.ResponseWriter, r *http.Request) *auditCall {
	a := &auditCall{h: h, r: r, response: audit.NewResponse(w)}
	if h.auditor == nil {
		return a
	}
	if op, _, ok := h.auditOperation(r, nil); ok && carriesBodyIDs(op) {
		a.body = peekBody(r, auditBodyLimit)
	}
	return a
}

// admitted records admit's verdict: an error there is the gateway's refusal.
func (a *auditCall) admitted(ex *exchange, err error) { a.ex, a.admitErr = ex, err }

// record writes the call's audit record, if it is audited.
func (a *auditCall) record() {
	if a.h.auditor == nil {
		return
	}
	status := a.response.Status()
	op, route, known := a.h.auditOperation(a.r, a.ex)
	refusedHere := a.admitErr != nil && status >= 400 && status < 500
	write := known && op.Access >= principal.Write
	if !refusedHere && !write && status != http.StatusUnauthorized && status != http.StatusForbidden {
		return
	}
	caller, _ := access.From(a.r.Context())
	rec := audit.Record{
		RequestID: apigw.RequestID(a.r.Context()),
		UserID:    caller.UserID,
		KeyID:     caller.KeyID,
		Operation: op.Name,
		Method:    a.r.Method,
		Outcome:   audit.OutcomeOf(status),
		Status:    status,
		Reason:    a.response.Reason(),
	}
	if known {
		rec.Resource = requestResource(op, route, a.r, a.body)
	}
	if err := a.h.auditor.Write(rec); err != nil {
		logging.FromContext(a.r.Context()).Error("audit record not written", "cause", err, "operation", op.Name)
	}
}

// auditOperation is the catalog's operation for the call: the admitted route's, or, for a call
// refused before it was routed, the path's if it names one.
func (h *Handler) auditOperation(r *http.Request, ex *exchange) (mlflowcatalog.Operation, Route, bool) {
	route := Route{}
	if ex != nil {
		route = ex.route
	} else {
		var err error
		if route, err = h.router.Route(r.URL.Path, r.URL.RawPath); err != nil {
			return mlflowcatalog.Operation{}, route, false
		}
	}
	op, err := route.Operation(r.Method)
	return op, route, err == nil
}

func carriesBodyIDs(op mlflowcatalog.Operation) bool {
	for _, id := range op.IDs {
		if id.In == mlflowcatalog.Body {
			return true
		}
	}
	return false
}

// peekBody returns up to limit bytes of r's body and gives r a body that replays them before the
// rest, so what follows reads the body exactly as sent.
func peekBody(r *http.Request, limit int) []byte {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	rest := io.Reader(r.Body)
	if err != nil {
		rest = failedReader{err}
	}
	r.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(head), rest), Closer: r.Body}
	if err != nil || len(head) > limit {
		return nil // not whole: no id is read from a part of a body
	}
	return head
}

// requestResource is the resource a call addresses as the request names it (requestIDs, the
// enforcement's reading of the catalog's IDs): the kind of the operation's resource and its ids,
// a model version's as name/version. A request that names none, or that MLflow could not read,
// names no id.
func requestResource(op mlflowcatalog.Operation, route Route, r *http.Request, body []byte) audit.Resource {
	res := audit.Resource{}
	if op.Resource != mlflowcatalog.None {
		res.Kind = op.Resource.String()
	}
	ids, err := requestIDs(op, r, route.Endpoint, body)
	if err != nil {
		return res
	}
	parts := make([]string, len(ids))
	for i, n := range ids {
		parts[i] = n.id
	}
	res.ID = strings.Join(parts, ",")
	if op.Resource == mlflowcatalog.ModelVersion && res.ID != "" {
		if v := versionOf(r, body); v != "" {
			res.ID += "/" + v
		}
	}
	return res
}

// versionOf is the model version a registry call names, from its query or its body.
func versionOf(r *http.Request, body []byte) string {
	if v := r.URL.Query().Get("version"); v != "" {
		return v
	}
	if body == nil {
		return ""
	}
	fields, err := changes.ReadFields(body)
	if err != nil {
		return ""
	}
	v, _ := fields.String("version")
	return v
}
