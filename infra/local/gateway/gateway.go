// Package gateway serves a REST API the way API Gateway does, from the routes, authorizers and
// gateway responses of the synthesized template: Lambda proxy events in the v1 format, the
// REQUEST authorizer with its cache, response streaming, CORS preflight, and AWS's limits.
package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// API Gateway's fixed limits.
const (
	MaxRequestBytes    = 10 << 20 // 10 MB request payload
	IntegrationTimeout = 29 * time.Second
	// StreamDuration bounds a streamed response after its first byte.
	StreamDuration  = 15 * time.Minute
	maxPreludeBytes = 64 << 10
)

// Invoker runs a function of the template by logical id.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) (*lambdart.Result, error)
	InvokeStream(ctx context.Context, function string, payload []byte) (*lambdart.Result, error)
}

// Options tune the gateway; zero values are API Gateway's.
type Options struct {
	Log *slog.Logger
	// AccessLog receives one JSON line per request, with the fields the stack's access log has.
	AccessLog io.Writer
	// IntegrationTimeout overrides 29 s (tests).
	IntegrationTimeout time.Duration
	APIID              string
	Now                func() time.Time
}

// Gateway is an http.Handler serving one REST API stage.
type Gateway struct {
	api       *template.RestAPI
	inv       Invoker
	opts      Options
	log       *slog.Logger
	router    *router
	authCache authCache
	bucket    *tokenBucket
	now       func() time.Time
	logMu     sync.Mutex
}

// New builds the gateway for api.
func New(api *template.RestAPI, inv Invoker, opts Options) *Gateway {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.IntegrationTimeout == 0 {
		opts.IntegrationTimeout = IntegrationTimeout
	}
	if opts.APIID == "" {
		opts.APIID = "local"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Gateway{api: api, inv: inv, opts: opts, log: opts.Log, router: newRouter(api.Routes), now: opts.Now}
	if api.ThrottleRate > 0 {
		g.bucket = newTokenBucket(api.ThrottleRate, api.ThrottleBurst, opts.Now)
	}
	return g
}

// status records what the gateway answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	errTyp string
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	requestID := newUUID()
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("x-amzn-RequestId", requestID)
	rt, principal := g.serve(sw, r, requestID)
	g.accessLog(r, sw, requestID, rt, principal, start)
}

func (g *Gateway) serve(w *statusWriter, r *http.Request, requestID string) (*template.Route, string) {
	fail := func(e gatewayError) {
		w.errTyp = e.Type
		g.writeGatewayError(w, requestID, e)
	}
	if g.bucket != nil && !g.bucket.take() {
		fail(errThrottled)
		return nil, ""
	}
	if r.ContentLength > MaxRequestBytes {
		fail(errRequestTooLarge)
		return nil, ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		fail(gatewayError{"DEFAULT_4XX", 400, "Could not read the request body"})
		return nil, ""
	}
	if len(body) > MaxRequestBytes {
		fail(errRequestTooLarge)
		return nil, ""
	}

	path := requestPath(r)
	rt, params := g.router.match(r.Method, path)
	if rt == nil {
		fail(errMissingAuthToken)
		return nil, ""
	}
	if rt.Integration.Type == "MOCK" {
		g.serveMock(w, rt)
		return rt, ""
	}

	ev := g.proxyEvent(r, path, rt, params, body, requestID)
	methodArn := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s/%s", template.Region, template.AccountID,
		g.opts.APIID, g.api.StageName, r.Method, strings.TrimPrefix(path, "/"))

	principal := ""
	if rt.AuthorizationType == "CUSTOM" && rt.Authorizer != nil {
		a, gerr := g.authorize(r.Context(), rt, r, &ev, methodArn)
		if gerr != nil {
			fail(*gerr)
			return rt, ""
		}
		if !a.permits(methodArn) {
			fail(errAccessDenied)
			return rt, a.PrincipalID
		}
		principal = a.PrincipalID
		authCtx := map[string]any{"principalId": a.PrincipalID}
		for k, v := range a.Context {
			authCtx[k] = v
		}
		ev.RequestContext.Authorizer = authCtx
	}

	payload, err := json.Marshal(ev)
	if err != nil {
		fail(errLambdaFailed)
		return rt, principal
	}
	if rt.Integration.Stream {
		g.serveStream(w, r, rt, payload, fail)
	} else {
		g.serveBuffered(w, r, rt, payload, fail)
	}
	return rt, principal
}

func (g *Gateway) serveMock(w http.ResponseWriter, rt *template.Route) {
	status := http.StatusOK
	if m := rt.Integration.Mock; m != nil {
		for k, v := range m.Headers {
			w.Header().Set(k, v)
		}
		if m.Status != 0 {
			status = m.Status
		}
	}
	w.WriteHeader(status)
}

// requestPath is the path as the client wrote it on the request line, still percent-encoded:
// what a REST API gives a proxy integration in path, requestContext.path and pathParameters
// (HTTP APIs decode; REST APIs do not). net/http has already decoded r.URL.Path, and
// r.URL.EscapedPath re-encodes whenever RawPath is not one of Go's valid encodings, so neither
// is the client's spelling.
func requestPath(r *http.Request) string {
	if p, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(p, "/") {
		return p
	}
	return r.URL.EscapedPath() // absolute-form request line (http://host/path)
}

// proxyEvent builds the Lambda proxy event in the v1 format API Gateway sends; path is the
// request's path as the client encoded it.
func (g *Gateway) proxyEvent(r *http.Request, path string, rt *template.Route, params map[string]string, body []byte, requestID string) events.APIGatewayProxyRequest {
	sourceIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		sourceIP = r.RemoteAddr
	}
	headers := map[string]string{}
	multi := map[string][]string{}
	for k, vs := range r.Header {
		multi[k] = append([]string(nil), vs...)
		headers[k] = vs[len(vs)-1]
	}
	if r.Host != "" {
		headers["Host"], multi["Host"] = r.Host, []string{r.Host}
	}
	// API Gateway appends the caller's address, so a client cannot choose what the function sees last.
	xff := sourceIP
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + sourceIP
	}
	headers["X-Forwarded-For"], multi["X-Forwarded-For"] = xff, []string{xff}
	headers["X-Forwarded-Proto"], multi["X-Forwarded-Proto"] = "http", []string{"http"}

	var query map[string]string
	var multiQuery map[string][]string
	if q := r.URL.Query(); len(q) > 0 {
		query, multiQuery = map[string]string{}, map[string][]string{}
		for k, vs := range q {
			multiQuery[k] = vs
			query[k] = vs[len(vs)-1]
		}
	}
	var pathParams map[string]string
	if len(params) > 0 {
		pathParams = params
	}
	now := g.now().UTC()
	ev := events.APIGatewayProxyRequest{
		Resource:                        rt.Path,
		Path:                            path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  pathParams,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:    template.AccountID,
			ResourceID:   "local",
			Stage:        g.api.StageName,
			RequestID:    requestID,
			ResourcePath: rt.Path,
			HTTPMethod:   r.Method,
			APIID:        g.opts.APIID,
			// The path as the client wrote it. This gateway serves the stage at the root, as API
			// Gateway serves a custom domain whose base path mapping is empty, and reports it so;
			// on the execute-api domain it would carry "/<stage>" in front.
			Path:             path,
			Protocol:         r.Proto,
			RequestTime:      now.Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			DomainName:       r.Host,
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP, UserAgent: r.UserAgent()},
		},
	}
	if len(body) > 0 {
		if g.binary(r.Header.Get("Content-Type")) {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		} else {
			ev.Body = string(body)
		}
	}
	return ev
}

// binary reports whether a media type is one of the API's binary media types, which API
// Gateway base64-encodes towards the function and decodes on the way back.
func (g *Gateway) binary(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.TrimSpace(strings.Split(contentType, ";")[0])
	}
	for _, b := range g.api.BinaryMediaTypes {
		b = strings.ReplaceAll(b, "~1", "/") // the template escapes / in media types
		switch {
		case b == "*/*", b == mt:
			return true
		case strings.HasSuffix(b, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(b, "*")):
			return true
		}
	}
	return false
}

func (g *Gateway) serveBuffered(w *statusWriter, r *http.Request, rt *template.Route, payload []byte, fail func(gatewayError)) {
	ctx, cancel := context.WithTimeout(r.Context(), g.timeout(rt))
	defer cancel()
	res, err := g.inv.Invoke(ctx, rt.Integration.Function, payload)
	g.logColdStart(rt, res)
	if gerr := g.invokeFailure(ctx, rt, res, err); gerr != nil {
		fail(*gerr)
		return
	}
	var out events.APIGatewayProxyResponse
	if err := json.Unmarshal(res.Payload, &out); err != nil || out.StatusCode < 100 || out.StatusCode > 599 {
		g.log.Warn("malformed Lambda proxy response", "function", rt.Integration.Function)
		fail(errMalformedResponse)
		return
	}
	body := []byte(out.Body)
	if out.IsBase64Encoded && g.binary(firstAccept(r.Header.Get("Accept"))) {
		decoded, err := base64.StdEncoding.DecodeString(out.Body)
		if err != nil {
			fail(errMalformedResponse)
			return
		}
		body = decoded
	}
	for k, v := range out.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range out.MultiValueHeaders {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(out.StatusCode)
	_, _ = w.Write(body)
}

// logColdStart reports each new function instance's init time, as Lambda's REPORT line does.
func (g *Gateway) logColdStart(rt *template.Route, res *lambdart.Result) {
	if res != nil && res.InitDuration > 0 {
		g.log.Info("cold start", "function", rt.Integration.Function, "init_ms", float64(res.InitDuration.Microseconds())/1000)
	}
}

func (g *Gateway) timeout(rt *template.Route) time.Duration {
	if rt.Integration.Timeout > 0 && rt.Integration.Timeout < g.opts.IntegrationTimeout {
		return rt.Integration.Timeout
	}
	return g.opts.IntegrationTimeout
}

// invokeFailure maps an invocation's failure to the gateway's answer, nil when it succeeded. As
// AWS documents it, an invocation Lambda rejects (an event over the 6 MB invocation payload,
// RequestEntityTooLargeException) is a 500 and a function that fails a 502, both
// {"message": "Internal server error"} unless the INTEGRATION_FAILURE (else DEFAULT_5XX) gateway
// response shapes them.
func (g *Gateway) invokeFailure(ctx context.Context, rt *template.Route, res *lambdart.Result, err error) *gatewayError {
	var ie *lambdart.InvokeError
	switch {
	case err != nil && ctx.Err() == context.DeadlineExceeded:
		return &errIntegrationTime
	case errors.As(err, &ie):
		g.log.Warn("Lambda rejected the invocation", "function", rt.Integration.Function, "type", ie.Type, "error", ie.Message)
		return &errInvokeRejected
	case err != nil:
		g.log.Warn("invocation failed", "function", rt.Integration.Function, "error", err)
		return &errLambdaFailed
	case res.FunctionError != nil:
		if res.FunctionError.Type == "Sandbox.Timedout" && ctx.Err() != nil {
			return &errIntegrationTime
		}
		g.log.Warn("function failed", "function", rt.Integration.Function, "type", res.FunctionError.Type)
		return &errLambdaFailed
	}
	return nil
}

// serveStream relays a STREAM integration: the function's JSON prelude, eight NUL bytes, then
// the body, flushed as it arrives. The 29 s limit applies until the prelude; the body may take
// StreamDuration.
func (g *Gateway) serveStream(w *statusWriter, r *http.Request, rt *template.Route, payload []byte, fail func(gatewayError)) {
	ctx, cancel := context.WithTimeout(r.Context(), StreamDuration)
	defer cancel()
	firstByte := time.AfterFunc(g.timeout(rt), cancel)
	res, err := g.inv.InvokeStream(ctx, rt.Integration.Function, payload)
	g.logColdStart(rt, res)
	if gerr := g.invokeFailure(ctx, rt, res, err); gerr != nil {
		firstByte.Stop()
		fail(*gerr)
		return
	}
	var stream io.ReadCloser
	if res.Stream != nil {
		stream = res.Stream
	} else {
		stream = io.NopCloser(bytes.NewReader(res.Payload))
	}
	defer stream.Close()
	br := bufio.NewReaderSize(stream, 32<<10)
	prelude, err := readPrelude(br)
	if !firstByte.Stop() {
		fail(errIntegrationTime)
		return
	}
	if err != nil {
		g.log.Warn("malformed streaming prelude", "function", rt.Integration.Function, "error", err)
		fail(errMalformedResponse)
		return
	}
	for k, v := range prelude.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range prelude.MultiValueHeaders {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range prelude.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	status := prelude.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	buf := make([]byte, 64<<10)
	for {
		n, rerr := br.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			w.Flush()
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			// Headers are gone; as API Gateway does, end the connection so the client sees an
			// incomplete body rather than a clean end.
			g.log.Warn("stream ended with an error", "function", rt.Integration.Function, "error", rerr)
			panic(http.ErrAbortHandler)
		}
	}
}

type prelude struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
}

var preludeEnd = []byte{0, 0, 0, 0, 0, 0, 0, 0}

func readPrelude(br *bufio.Reader) (prelude, error) {
	var p prelude
	var buf []byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return p, fmt.Errorf("stream ended before the prelude: %w", err)
		}
		buf = append(buf, b)
		if bytes.HasSuffix(buf, preludeEnd) {
			break
		}
		if len(buf) > maxPreludeBytes {
			return p, errors.New("no prelude separator in the first 64 KB")
		}
	}
	if err := json.Unmarshal(buf[:len(buf)-len(preludeEnd)], &p); err != nil {
		return p, fmt.Errorf("prelude is not JSON: %w", err)
	}
	return p, nil
}

func firstAccept(accept string) string {
	first, _, _ := strings.Cut(accept, ",")
	return strings.TrimSpace(first)
}

func (g *Gateway) accessLog(r *http.Request, w *statusWriter, requestID string, rt *template.Route, principal string, start time.Time) {
	if g.opts.AccessLog == nil {
		return
	}
	resource := ""
	if rt != nil {
		resource = rt.Path
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	line, _ := json.Marshal(map[string]any{
		"requestId": requestID, "ip": sourceIP, "requestTime": start.UTC().Format(time.RFC3339Nano),
		"httpMethod": r.Method, "resourcePath": resource, "status": w.status, "protocol": r.Proto,
		"responseLength": w.bytes, "responseLatency": g.now().Sub(start).Milliseconds(),
		"principalId": principal, "errorType": w.errTyp,
	})
	g.logMu.Lock()
	defer g.logMu.Unlock()
	_, _ = g.opts.AccessLog.Write(append(line, '\n'))
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// tokenBucket is the stage's default throttle (rate per second, burst).
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newTokenBucket(rate float64, burst int, now func() time.Time) *tokenBucket {
	if burst <= 0 {
		burst = int(rate)
	}
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now(), now: now}
}

func (t *tokenBucket) take() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.rate)
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}
