package mlflowproxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowgraphql"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/modelsource"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/searchfilter"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// DeadlineMargin is kept free before the invocation's deadline so the proxy's own 504 still
// reaches the client when MLflow is slow.
const DeadlineMargin = time.Second

// errHeaderTimeout marks an upstream call cancelled because MLflow's headers took too long.
var errHeaderTimeout = errors.New("MLflow did not answer in time")

// Handler is the MLflow proxy: an http.Handler for every MLflow mount of the gateway.
type Handler struct {
	router         Router
	proxy          *httputil.ReverseProxy
	adminEmails    []string
	adminOnly      bool
	serveArtifacts bool
	timeout        time.Duration
	owners         Owners
	store          Store
	publisher      Publisher // nil: every registry change goes to the outbox
	// sources resolves the runs:/ source of the SDK's model-versions/create (complete.go).
	sources modelsource.MLflow
	gateway GatewayOperations // the gateway-served operations (gateway.go)
	auditor Auditor           // nil: no audit records (WithAudit)
	// enforce checks per-resource permissions (enforce.go); nil: off. lookups resolve ids.
	enforce  *enforcement
	lookups  Lookups
	searches *searchfilter.Filter // nil: searches are relayed unfiltered (search.go)
}

// New builds the proxy. It owns one Transport for its whole life, which in Lambda is the
// container's: connections to MLflow are reused from one invocation to the next. store records
// who creates a registered model or version through MLflow (recordOwner) and the registry changes
// pub could not publish (announce); pub may be nil, and then every change goes to the outbox.
func New(cfg Config, creds upstream.Credentials, store Store, pub Publisher, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{
		router:         NewRouter(cfg.MLflowURL, cfg.AjaxAPI),
		adminEmails:    cfg.AdminEmails,
		adminOnly:      cfg.RegistryAdminOnly,
		serveArtifacts: cfg.ServeArtifacts,
		timeout:        time.Duration(cfg.Timeout),
		owners:         store,
		store:          store,
		publisher:      pub,
	}
	h.proxy = &httputil.ReverseProxy{
		Rewrite: h.rewrite,
		// The transport every function reaches MLflow through: it sets the upstream credentials.
		Transport: creds.Transport(nil),
		// Flush after every write: downloads stream as MLflow sends them, never accumulate.
		FlushInterval:  -1,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler:   h.handleError,
		ModifyResponse: h.modifyResponse,
	}
	// The same transport, so the resolution reaches MLflow with the same credentials.
	client := mlflow.New(cfg.MLflowURL, h.timeout, &http.Client{Transport: h.proxy.Transport})
	h.sources, h.lookups = client, client
	return h
}

// exchange is one proxied call's state, carried in the request's context from ServeHTTP to the
// ReverseProxy hooks.
type exchange struct {
	route      Route
	caller     principal.Principal
	clientPath string
	budget     time.Duration
	headers    *time.Timer // cancels the call when MLflow's headers are late
	bodyErr    error       // reading MLflow's body failed after the response started
	// operation is the RPC name of a registry write (registryOperation), whose requestBody is
	// buffered to announce the change; "" for every other call, whose body streams.
	operation   string
	requestBody []byte
	// resource is the experiment or registered model the call addresses, once known, and
	// decision what the permission check made of it (enforce.go); the audit log reads both.
	resource         permissions.Resource
	decision         string
	claimsExperiment bool // an experiments/create whose success makes the caller its owner
	// graphql is an admitted GraphQL query whose answer lists registered models' versions, to be
	// filtered (graphql.go); nil for every other call.
	graphql *mlflowgraphql.Judged
}

type exchangeKey struct{}

func exchangeOf(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// ServeHTTP proxies one call: refused with an MLflow-shaped error when the path or the caller's
// scopes do not allow it, otherwise relayed to MLflow within the time budget and streamed back.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if loc, ok := mountRootRedirect(r); ok {
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusPermanentRedirect)
		return
	}
	call := h.startAudit(w, r) // audit.go: every write and refusal, once answered
	defer call.record()
	w = call.response
	ex, err := h.admit(r)
	call.admitted(ex, err)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if h.serveGateway(w, r, ex) {
		return
	}
	if op, ok := registryOperation(ex.route, r.Method); ok {
		if ex.requestBody, err = readRegistryBody(r); err != nil {
			writeError(w, r, err)
			return
		}
		ex.operation = op
	}
	ex.budget = h.budget(r.Context())
	if ex.budget <= 0 {
		writeError(w, r, timeoutError(ex.budget))
		return
	}
	if h.serveSearch(w, r, ex) {
		return
	}
	ctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), exchangeKey{}, ex))
	defer cancel(nil)
	// Bound the wait for MLflow's headers only: once it answers, a download may stream until
	// the invocation's own deadline.
	ex.headers = time.AfterFunc(ex.budget, func() { cancel(errHeaderTimeout) })
	defer ex.headers.Stop()
	if completes(ex.route, r) {
		if err := h.completeVersion(ctx, r); err != nil {
			writeError(w, r, err)
			return
		}
		if ex.operation != "" {
			// The change is what MLflow is sent: the completed source and ids.
			if ex.requestBody, err = readRegistryBody(r); err != nil {
				writeError(w, r, err)
				return
			}
		}
	}
	if ex.route.Service == ServiceOTLP {
		if err := checkOTLPBody(r); err != nil {
			writeError(w, r, err)
			return
		}
	}

	h.proxy.ServeHTTP(w, r.WithContext(ctx))

	if ex.bodyErr != nil {
		// net/http's contract: the response has started, so abort it instead of letting a short
		// body look complete. (Under an http.Server, ReverseProxy has already done so.)
		logging.FromContext(r.Context()).Warn("MLflow response ended early", "cause", ex.bodyErr)
		panic(http.ErrAbortHandler)
	}
}

// admit maps the request onto MLflow and checks the caller may make the call.
func (h *Handler) admit(r *http.Request) (*exchange, error) {
	route, err := h.route(r)
	if err != nil {
		return nil, err
	}
	op, err := route.Operation(r.Method)
	if err != nil {
		return nil, methodNotAllowed(r, err)
	}
	caller, err := h.authorize(r, route)
	if err != nil {
		return nil, err
	}
	if route.Service == ServiceArtifacts && !h.serveArtifacts {
		return nil, newError(http.StatusServiceUnavailable, "ARTIFACTS_DISABLED", "Artifact storage is not available through this gateway")
	}
	ex := &exchange{route: route, caller: caller, clientPath: r.URL.Path}
	if err := h.check(r, ex, op); err != nil {
		return ex, err
	}
	return ex, nil
}

// route maps the path and vets the query, which goes out exactly as received.
func (h *Handler) route(r *http.Request) (Route, error) {
	route, err := h.router.Route(r.URL.Path, r.URL.RawPath)
	if err != nil {
		var pe *PathError
		if errors.As(err, &pe) {
			switch pe.Err {
			case ErrUnsafePath:
				return route, newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid path: "+pe.Reason).withCause(err)
			case ErrInternalEndpoint:
				return route, newError(http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf(
					"%s is internal to the MLflow server (%s) and is not served through this gateway", displayPath(r.URL.Path), pe.Reason)).withCause(err)
			case ErrUnknownEndpoint:
				return route, newError(http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf(
					"%s is not an MLflow operation served through this gateway", displayPath(r.URL.Path))).withCause(err)
			}
		}
		return route, notFound(r.URL.Path).withCause(err)
	}
	// A raw space, # or control character cannot be sent in a request line. API Gateway hands
	// over decoded parameters, which apigw re-encodes, so this is defence in depth.
	if strings.ContainsFunc(r.URL.RawQuery, func(c rune) bool { return c == ' ' || c == '#' || isControl(c) }) {
		return route, newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid query string: a raw space, # or control character")
	}
	if name, ok := credentialInQuery(r.URL.RawQuery); ok {
		return route, newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf(
			"API keys are never accepted in the query string: remove query parameter %q and send the key as "+
				"Authorization: Bearer <key>", displayPath(name)))
	}
	return route, nil
}

// authorize applies SPEC section 4 to the call: REGISTRY_ADMIN_ONLY first, then the level the
// method and endpoint need.
func (h *Handler) authorize(r *http.Request, route Route) (principal.Principal, error) {
	caller, ok := access.From(r.Context())
	if !ok {
		// Only a route without the authorizer gets here.
		return caller, newError(http.StatusUnauthorized, "UNAUTHENTICATED", "Missing, invalid or revoked API key")
	}
	level := caller.Level(h.adminEmails)
	if h.adminOnly && level < principal.Admin {
		e := newError(http.StatusForbidden, "REGISTRY_ADMIN_REQUIRED", "MLflow access is restricted to administrators")
		e.extra = scopeFields(principal.Admin, caller)
		return caller, e
	}
	if need := route.Access(r.Method); level < need {
		e := newError(http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("This MLflow call needs %s scope", need))
		e.extra = scopeFields(need, caller)
		return caller, e
	}
	return caller, nil
}

func scopeFields(need principal.Level, p principal.Principal) map[string]any {
	return map[string]any{"required_scope": need.String(), "current_scopes": append([]string{}, p.Scopes...)}
}

// methodNotAllowed is MLflow's own answer to a method its route is not served with, 405 with
// Allow, in its error shape (the code MLflow's client gives an unparseable 405, BAD_REQUEST).
func methodNotAllowed(r *http.Request, err error) *apiError {
	var me *MethodError
	if !errors.As(err, &me) {
		return newError(http.StatusInternalServerError, "INTERNAL_ERROR", "internal error").withCause(err)
	}
	e := newError(http.StatusMethodNotAllowed, "BAD_REQUEST", fmt.Sprintf("%s does not accept %s; it accepts %s",
		displayPath(r.URL.Path), displayPath(me.Method), strings.Join(me.Allow, ", "))).withCause(err)
	e.allow = me.Allow
	return e
}

func notFound(path string) *apiError {
	return newError(http.StatusNotFound, "RESOURCE_NOT_FOUND", "The requested resource was not found: "+displayPath(path))
}

func timeoutError(budget time.Duration) *apiError {
	return newError(http.StatusGatewayTimeout, "TIMEOUT",
		fmt.Sprintf("MLflow did not answer within %s", max(budget, 0).Round(time.Millisecond)))
}

// budget is how long MLflow may take to answer: MLFLOW_TIMEOUT, cut short by the invocation's
// deadline less DeadlineMargin.
func (h *Handler) budget(ctx context.Context) time.Duration {
	d := h.timeout
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(deadline)-DeadlineMargin)
	}
	return d
}

// After MLflow has answered a write, the proxy still records what it did: owners, carried
// permissions, the registry change. Those calls outlive the request (the change is made whether or
// not the client waits), but not the invocation: Lambda freezes it at its deadline, mid-call. So
// each is bounded by the deadline too, and the last, the outbox item that makes a change's event
// certain, always has time kept for it.
const (
	// outboxReserve is kept before the deadline, by every call that comes first, for the one
	// PutItem that records an unpublished change.
	outboxReserve = 500 * time.Millisecond
	// answerMargin is kept after every call, for the answer itself to leave.
	answerMargin = 100 * time.Millisecond
)

// afterAnswer is the context of a call made after MLflow answered: not cancelled with the request,
// ending within d, and reserve plus answerMargin before the invocation's deadline. ok is false
// when that leaves no time at all.
func afterAnswer(ctx context.Context, d, reserve time.Duration) (_ context.Context, _ context.CancelFunc, ok bool) {
	end := time.Now().Add(d)
	if deadline, has := ctx.Deadline(); has {
		if last := deadline.Add(-reserve - answerMargin); last.Before(end) {
			end = last
		}
	}
	c, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	return c, cancel, time.Until(end) > 0
}

// rewrite is ReverseProxy's Rewrite hook. Out already lacks hop-by-hop and X-Forwarded-* headers.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeOf(pr.In.Context())
	u := *ex.route.URL
	u.RawQuery = pr.In.URL.RawQuery // exactly as received: order and repeated keys kept
	pr.Out.URL = &u
	pr.Out.Host = "" // MLflow's own host, which its Host-header check accepts
	h.setHeaders(pr.Out.Header, ex.caller)
}

// setHeaders keeps only the headers MLflow needs (filterHeaders), so no credential or identity the
// caller sends reaches it under any spelling, then adds the authorizer's identity. MLflow's
// credentials are not set here: the upstream transport sets Authorization on every call.
func (h *Handler) setHeaders(hdr http.Header, caller principal.Principal) {
	// Authorization never passes here: the upstream transport sets what MLflow gets (the
	// caller's own only in forward mode).
	filterHeaders(hdr)
	if caller.UserID != "" {
		hdr.Set("X-Hokusai-User-Id", caller.UserID)
	}
	if caller.KeyID != "" {
		hdr.Set("X-Hokusai-API-Key-Id", caller.KeyID)
	}
}

// modifyResponse is ReverseProxy's ModifyResponse hook: MLflow has answered in time. Successful
// answers and 4xx JSON pass through untouched; a 5xx, JSON or not, is replaced by INTERNAL_ERROR
// with the request id (its text logged), and any other 4xx (an HTML page) by MLflow-shaped JSON.
func (h *Handler) modifyResponse(res *http.Response) error {
	ex := exchangeOf(res.Request.Context())
	if !ex.headers.Stop() {
		return errHeaderTimeout // the timer fired as the headers arrived; the call is cancelled
	}
	res.Header.Del("X-Request-Id") // ours, set by the Lambda adapter, identifies the request
	setUIHeaders(ex.route, res.StatusCode, res.Header)
	ctx := res.Request.Context()
	switch {
	case res.StatusCode >= http.StatusInternalServerError:
		// MLflow's 5xx text is its exception: bucket names, boto's and Python's messages. It is
		// logged for the operator; the client gets the request id to quote.
		text, err := errorText(res)
		logging.FromContext(ctx).Error("MLflow failed", upstreamAttrs(res, text, err)...)
		replaceBody(res, internalError(res.StatusCode, apigw.RequestID(ctx)))
		return nil
	case res.StatusCode >= http.StatusBadRequest:
		// MLflow's 4xx JSON passes unchanged; anything else (an HTML page, a traceback labelled
		// JSON) is replaced, so no page of MLflow's or of a server in front of it reaches the client.
		labelledJSON := isJSON(res.Header.Get("Content-Type"))
		if labelledJSON && res.Request.Method == http.MethodHead {
			break // no body to judge
		}
		var body []byte
		var err error
		if labelledJSON {
			if body, err = validJSONError(res); err == nil {
				return nil
			}
		}
		logging.FromContext(ctx).Warn("MLflow answered an error without JSON", upstreamAttrs(res, truncate(body), err)...)
		replaceBody(res, upstreamError(res.StatusCode, ex.clientPath))
		return nil
	}
	if ex.graphql != nil && res.StatusCode >= 200 && res.StatusCode < 300 {
		h.filterGraphQL(ex, res)
	}
	if ex.claimsExperiment && res.StatusCode >= 200 && res.StatusCode < 300 {
		h.claimExperimentOwner(ex, res)
	}
	if h.enforce != nil && ex.operation == "RenameRegisteredModel" && res.StatusCode >= 200 && res.StatusCode < 300 {
		h.carryModelPermissions(ex, res)
	}
	if ex.operation != "" && res.StatusCode >= 200 && res.StatusCode < 300 {
		answer, whole, err := readAnswer(res)
		if !whole {
			logging.FromContext(ctx).Warn("MLflow's answer to a registry write could not be read whole",
				"operation", ex.operation, "bytes_read", len(answer), "cause", err)
			answer = nil
		}
		if whole && recordsOwner(ex, res) {
			h.recordOwner(ex, res, answer)
		}
		h.announce(ex, res, answer)
	}
	res.Body = &watchedBody{ReadCloser: res.Body, err: &ex.bodyErr}
	return nil
}

// internalError is the answer to a 5xx of MLflow's: its status, MLflow's error shape, no text of
// its own.
func internalError(status int, requestID string) *apiError {
	msg := "MLflow failed to handle the request; the gateway logged its answer"
	if requestID != "" {
		msg += " under request id " + requestID
	}
	e := newError(status, "INTERNAL_ERROR", msg)
	if requestID != "" {
		e.extra = map[string]any{"request_id": requestID}
	}
	return e
}

// errorBodyLimit bounds how much of an error answer is read: MLflow's are a few hundred bytes; a
// longer one is not relayed (4xx) and is logged truncated.
const errorBodyLimit = 64 << 10

// logTextLimit is how much of an upstream error body goes into a log line.
const logTextLimit = 2 << 10

// validJSONError reads a JSON error answer and, when it is whole and valid JSON once decoded
// (decodedBody), puts it back as res.Body byte for byte, with its Content-Encoding unchanged.
// Otherwise it returns what it decoded, and res.Body is left to replaceBody.
func validJSONError(res *http.Response) ([]byte, error) {
	raw, complete, err := readErrorBody(res)
	if err != nil {
		return raw, err
	}
	if !complete {
		return raw, fmt.Errorf("error body over %d bytes", errorBodyLimit)
	}
	body, complete, err := decodedBody(res, raw, errorBodyLimit)
	switch {
	case err != nil:
		return body, err
	case !complete:
		return body, fmt.Errorf("error body over %d bytes decompressed", errorBodyLimit)
	case !json.Valid(body):
		return body, errors.New("error body labelled JSON is not JSON")
	}
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(raw))
	return body, nil
}

// readErrorBody reads up to errorBodyLimit of an error answer, reporting whether that was all of it.
func readErrorBody(res *http.Response) ([]byte, bool, error) {
	body, err := io.ReadAll(io.LimitReader(res.Body, errorBodyLimit+1))
	if len(body) > errorBodyLimit {
		return body[:errorBodyLimit], false, err
	}
	return body, err == nil, err
}

// decodedBody is raw, an error answer's body as sent, decoded as its Content-Encoding says (none
// or gzip: what MLflow's server sends), at most limit bytes of it; complete reports whether that
// was all. The decoding is only for judging and logging the answer: what is relayed is raw. An
// encoding it cannot decode is an error, so the answer is not judged valid.
func decodedBody(res *http.Response, raw []byte, limit int) (body []byte, complete bool, err error) {
	switch enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		body = raw
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, false, fmt.Errorf("gzip error body: %w", err)
		}
		// Bounded: a small answer may decompress to far more (a gzip bomb).
		body, err = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
		if err != nil && len(body) <= limit {
			return body, false, fmt.Errorf("gzip error body: %w", err)
		}
	default:
		return nil, false, fmt.Errorf("error body in Content-Encoding %q", enc)
	}
	if len(body) > limit {
		return body[:limit], false, nil
	}
	return body, true, nil
}

// errorText is the start of an error answer, for the log, decoded (decodedBody).
func errorText(res *http.Response) (string, error) {
	raw, _, err := readErrorBody(res)
	// logTextLimit+1, so that truncate marks a longer text as cut. A truncated gzip stream still
	// yields what it holds.
	body, _, derr := decodedBody(res, raw, logTextLimit+1)
	if body == nil {
		body = raw
	}
	return truncate(body), errors.Join(err, derr)
}

func upstreamAttrs(res *http.Response, text string, err error) []any {
	attrs := []any{"status", res.StatusCode, "content_type", res.Header.Get("Content-Type"), "upstream_body", text}
	if err != nil {
		attrs = append(attrs, "read_error", err)
	}
	return attrs
}

func truncate(b []byte) string {
	if len(b) > logTextLimit {
		return strings.ToValidUTF8(string(b[:logTextLimit]), "?") + "…[truncated]"
	}
	return strings.ToValidUTF8(string(b), "?")
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// upstreamCodes name MLflow's own error codes for the 4xx statuses its non-JSON answers carry.
var upstreamCodes = map[int]string{
	http.StatusBadRequest:            "BAD_REQUEST",
	http.StatusUnauthorized:          "UNAUTHENTICATED",
	http.StatusForbidden:             "PERMISSION_DENIED",
	http.StatusNotFound:              "RESOURCE_NOT_FOUND",
	http.StatusRequestEntityTooLarge: "PAYLOAD_TOO_LARGE",
	http.StatusTooManyRequests:       "REQUEST_LIMIT_EXCEEDED",
}

// upstreamError describes a 4xx MLflow answered without JSON, keeping its status. The page
// itself is never relayed: it may hold a stack trace.
func upstreamError(status int, path string) *apiError {
	switch status {
	case http.StatusNotFound:
		return notFound(path)
	case http.StatusRequestEntityTooLarge:
		return newError(status, upstreamCodes[status], "MLflow rejected the request body as too large; for MLflow artifacts "+MultipartHint)
	}
	code, ok := upstreamCodes[status]
	if !ok {
		code = "BAD_REQUEST"
	}
	return newError(status, code, fmt.Sprintf("MLflow answered %d %s for %s", status, http.StatusText(status), displayPath(path)))
}

func replaceBody(res *http.Response, e *apiError) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, errorBodyLimit))
	_ = res.Body.Close()
	body := e.body()
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.TransferEncoding = nil
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	res.Header.Set("Content-Type", "application/json")
	res.Header.Del("Content-Encoding")
}

// handleError is ReverseProxy's ErrorHandler: MLflow gave no usable answer.
func (h *Handler) handleError(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeOf(r.Context())
	if errors.Is(context.Cause(r.Context()), errHeaderTimeout) || errors.Is(err, errHeaderTimeout) || errors.Is(err, context.DeadlineExceeded) {
		writeError(w, r, timeoutError(ex.budget).withCause(err))
		return
	}
	writeError(w, r, newError(http.StatusBadGateway, "BAD_GATEWAY", "MLflow is unreachable; retry later").withCause(err))
}

// watchedBody records the first failure reading MLflow's body, which ReverseProxy only logs.
type watchedBody struct {
	io.ReadCloser
	err *error
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && *b.err == nil {
		*b.err = err
	}
	return n, err
}
