package mlflowproxy

import (
	"bytes"
	"context"
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

	"github.com/hokusai-protocol/registry-gateway/shared/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/upstream"
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
}

// New builds the proxy. It owns one Transport for its whole life, which in Lambda is the
// container's: connections to MLflow are reused from one invocation to the next.
func New(cfg Config, creds upstream.Credentials, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{
		router:         NewRouter(cfg.MLflowURL, cfg.AjaxAPI),
		adminEmails:    cfg.AdminEmails,
		adminOnly:      cfg.RegistryAdminOnly,
		serveArtifacts: cfg.ServeArtifacts,
		timeout:        time.Duration(cfg.Timeout),
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
}

type exchangeKey struct{}

func exchangeOf(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// ServeHTTP proxies one call: refused with an MLflow-shaped error when the path or the caller's
// scopes do not allow it, otherwise relayed to MLflow within the time budget and streamed back.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex, err := h.admit(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ex.budget = h.budget(r.Context())
	if ex.budget <= 0 {
		writeError(w, r, timeoutError(ex.budget))
		return
	}
	ctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), exchangeKey{}, ex))
	defer cancel(nil)
	// Bound the wait for MLflow's headers only: once it answers, a download may stream until
	// the invocation's own deadline.
	ex.headers = time.AfterFunc(ex.budget, func() { cancel(errHeaderTimeout) })
	defer ex.headers.Stop()

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
	caller, err := h.authorize(r, route)
	if err != nil {
		return nil, err
	}
	if route.Service == ServiceArtifacts && !h.serveArtifacts {
		return nil, newError(http.StatusServiceUnavailable, "ARTIFACTS_DISABLED", "Artifact storage is not available through this gateway")
	}
	return &exchange{route: route, caller: caller, clientPath: r.URL.Path}, nil
}

// route maps the path and vets the query, which goes out exactly as received.
func (h *Handler) route(r *http.Request) (Route, error) {
	route, err := h.router.Route(r.URL.Path, r.URL.RawPath)
	if err != nil {
		var pe *PathError
		if errors.As(err, &pe) && pe.Err == ErrUnsafePath {
			return route, newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid path: "+pe.Reason).withCause(err)
		}
		return route, notFound(r.URL.Path).withCause(err)
	}
	// A raw space, # or control character cannot be sent in a request line. API Gateway hands
	// over decoded parameters, which apigw re-encodes, so this is defence in depth.
	if strings.ContainsFunc(r.URL.RawQuery, func(c rune) bool { return c == ' ' || c == '#' || isControl(c) }) {
		return route, newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid query string: a raw space, # or control character")
	}
	return route, nil
}

// authorize applies SPEC section 4 to the call: REGISTRY_ADMIN_ONLY first, then the level the
// method and endpoint need.
func (h *Handler) authorize(r *http.Request, route Route) (principal.Principal, error) {
	caller, ok := principal.From(r.Context())
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

func notFound(path string) *apiError {
	return newError(http.StatusNotFound, "RESOURCE_NOT_FOUND", "The requested resource was not found: "+path)
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

// rewrite is ReverseProxy's Rewrite hook. Out already lacks hop-by-hop and X-Forwarded-* headers.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeOf(pr.In.Context())
	u := *ex.route.URL
	u.RawQuery = pr.In.URL.RawQuery // exactly as received: order and repeated keys kept
	pr.Out.URL = &u
	pr.Out.Host = "" // MLflow's own host, which its Host-header check accepts
	h.setHeaders(pr.Out.Header, ex.caller)
}

// setHeaders removes the caller's credentials and any identity it claims, then adds the
// authorizer's identity and the proxy's own credentials.
func (h *Handler) setHeaders(hdr http.Header, caller principal.Principal) {
	for k := range hdr {
		switch lk := strings.ToLower(k); {
		case lk == "x-api-key", strings.HasPrefix(lk, "x-hokusai-"):
			delete(hdr, k)
		case lk == "authorization":
			// The upstream transport sets what MLflow gets (the caller's only in forward mode).
			delete(hdr, k)
		case lk == "expect":
			// The body is already in memory; waiting for 100-continue only adds a round trip.
			delete(hdr, k)
		}
	}
	if caller.UserID != "" {
		hdr.Set("X-Hokusai-User-Id", caller.UserID)
	}
	if caller.KeyID != "" {
		hdr.Set("X-Hokusai-API-Key-Id", caller.KeyID)
	}
}

// modifyResponse is ReverseProxy's ModifyResponse hook: MLflow has answered in time; its JSON
// and successful answers pass through untouched, other errors (HTML pages) become MLflow-shaped
// JSON.
func (h *Handler) modifyResponse(res *http.Response) error {
	ex := exchangeOf(res.Request.Context())
	if !ex.headers.Stop() {
		return errHeaderTimeout // the timer fired as the headers arrived; the call is cancelled
	}
	res.Header.Del("X-Request-Id") // ours, set by the Lambda adapter, identifies the request
	if res.StatusCode >= http.StatusBadRequest && !isJSON(res.Header.Get("Content-Type")) {
		logging.FromContext(res.Request.Context()).Warn("MLflow answered an error without JSON", "status", res.StatusCode)
		replaceBody(res, upstreamError(res.StatusCode, ex.clientPath))
		return nil
	}
	res.Body = &watchedBody{ReadCloser: res.Body, err: &ex.bodyErr}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// upstreamCodes name MLflow's own error codes for statuses its non-JSON answers carry.
var upstreamCodes = map[int]string{
	http.StatusBadRequest:            "BAD_REQUEST",
	http.StatusUnauthorized:          "UNAUTHENTICATED",
	http.StatusForbidden:             "PERMISSION_DENIED",
	http.StatusNotFound:              "RESOURCE_NOT_FOUND",
	http.StatusRequestEntityTooLarge: "PAYLOAD_TOO_LARGE",
	http.StatusTooManyRequests:       "REQUEST_LIMIT_EXCEEDED",
	http.StatusServiceUnavailable:    "TEMPORARILY_UNAVAILABLE",
}

// upstreamError describes an error MLflow answered without JSON, keeping its status. The page
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
		if status >= http.StatusInternalServerError {
			code = "INTERNAL_ERROR"
		}
	}
	return newError(status, code, fmt.Sprintf("MLflow answered %d %s for %s", status, http.StatusText(status), path))
}

// errorPageLimit is how much of an error page is drained so its connection can be reused.
const errorPageLimit = 64 << 10

func replaceBody(res *http.Response, e *apiError) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, errorPageLimit))
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
