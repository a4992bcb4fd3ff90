// Package faultproxy is an HTTP reverse proxy for a moto server that can make one AWS service
// unreachable, slow or throttled while requests for every other service pass through untouched.
// moto serves all services on one port, so failing at the TCP level would take them all down; the
// proxy instead tells services apart per request, the way moto itself routes them.
package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Unknown is the service name of requests that carry no recognisable AWS service.
const Unknown = "unknown"

// Fault is what happens to a service's requests. Delay applies first and combines with any one of
// the others; of those, Unreachable wins over Throttle, and Throttle over Status. Hold combines
// with none of them. The zero Fault forwards the request unchanged.
type Fault struct {
	// PathSuffix, when set, limits the fault to requests whose URL path ends with it (for example
	// "/model-versions/create"); the service's other requests pass untouched.
	PathSuffix string
	// Delay is waited before the request is forwarded or failed; a client that leaves meanwhile
	// ends the request, which is then never forwarded.
	Delay time.Duration
	// Hold, when non-nil, keeps each request until Hold is closed and then forwards it even if
	// its client has gone by then: the upstream carries the request out late, as a slow server
	// finishes a request its client gave up on (and the client never learns the outcome). The
	// body is read before holding, so it survives the client's connection.
	Hold <-chan struct{}
	// OnHold, when set, is called with each request once it is held, so that a test can wait for
	// the request to arrive instead of sleeping. It must not block.
	OnHold func(*http.Request)
	// Unreachable closes the client connection without a response, which the client sees as a
	// transport error (EOF or connection reset), as if the service had gone away mid-request.
	Unreachable bool
	// Throttle answers with the service's throttling error in its own protocol, one the AWS SDKs
	// classify as a throttle and retry with backoff.
	Throttle bool
	// Status, if non-zero, answers with this HTTP status and a small JSON body.
	Status int
}

// Proxy forwards requests to one target and injects faults per service. Service names are SigV4
// signing names ("dynamodb", "events", "sqs", "s3", "secretsmanager"); "eventbridge" is accepted as
// an alias of "events". Safe for concurrent use.
type Proxy struct {
	rp *httputil.ReverseProxy

	mu     sync.Mutex
	faults map[string]Fault
	counts map[string]int
	ops    map[string]int

	// service, when set, names every request's service (a non-AWS upstream such as MLflow).
	service string
	observe func(*http.Request)
}

// NewService returns a proxy to a non-AWS upstream whose requests all count as service; its
// Operations are keyed "METHOD /path".
func NewService(target *url.URL, service string) *Proxy {
	p := New(target)
	p.service = service
	return p
}

// Observe calls fn with each request before it is forwarded (tests inspect what reached the
// upstream). fn must not keep or modify the request.
func (p *Proxy) Observe(fn func(*http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.observe = fn
}

// New returns a proxy to target, e.g. moto's URL.
func New(target *url.URL) *Proxy {
	return &Proxy{
		rp: &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				// Keep the Host the client signed: SigV4 covers it, so the request stays valid if
				// moto's signature checks are ever turned on.
				r.Out.Host = r.In.Host
			},
			FlushInterval: -1, // stream, e.g. S3 bodies, instead of buffering
			// An upstream that is down must look down: the client sees the transport error it
			// would get from the dead host itself, never an answer the proxy made up.
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { drop(w) },
		},
		faults: map[string]Fault{},
		counts: map[string]int{},
		ops:    map[string]int{},
	}
}

// SetFault makes every later request for service fail as f describes.
func (p *Proxy) SetFault(service string, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[canonical(service)] = f
}

// Clear removes the fault of service.
func (p *Proxy) Clear(service string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.faults, canonical(service))
}

// ClearAll removes all faults.
func (p *Proxy) ClearAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.faults)
}

// Counts returns how many requests the proxy has seen per service, faulted ones included. SDK
// retries count as separate requests.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Operations returns how many requests the proxy has seen per JSON-protocol operation, keyed by
// X-Amz-Target ("DynamoDB_20120810.GetItem"), so tests can count one caller's calls when several
// functions share a service.
func (p *Proxy) Operations() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.ops)
}

// ResetCounts sets all counts back to zero.
func (p *Proxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
	clear(p.ops)
}

// ServeHTTP counts r, applies its service's fault and, unless the fault answers for it, forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service := p.service
	if service == "" {
		service = ServiceOf(r)
	}
	p.mu.Lock()
	p.counts[service]++
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		p.ops[target]++
	} else if p.service != "" {
		p.ops[r.Method+" "+r.URL.Path]++
	}
	f := p.faults[service]
	observe := p.observe
	p.mu.Unlock()
	if observe != nil {
		observe(r)
	}
	if f.PathSuffix != "" && !strings.HasSuffix(r.URL.Path, f.PathSuffix) {
		f = Fault{}
	}
	if f.Hold != nil {
		p.hold(w, r, f)
		return
	}

	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case f.Unreachable:
		drop(w)
	case f.Throttle:
		writeThrottle(w, r, service)
	case f.Status != 0:
		writeJSON(w, f.Status, "application/json", "", fmt.Sprintf("faultproxy: injected HTTP %d", f.Status))
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// maxHold bounds how long a held request may wait and then take upstream, so that a test that
// never releases it leaves no goroutine behind for long.
const maxHold = 5 * time.Minute

// hold keeps r until f.Hold is closed, then forwards it detached from its client: neither the
// client leaving nor its deadline cancels the upstream call.
func (p *Proxy) hold(w http.ResponseWriter, r *http.Request, f Fault) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		drop(w)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), maxHold)
	defer cancel()
	out := r.Clone(ctx)
	out.Body = io.NopCloser(bytes.NewReader(body))
	if f.OnHold != nil {
		f.OnHold(r)
	}
	select {
	case <-f.Hold:
	case <-ctx.Done():
		return
	}
	// Answering the client is best effort: it may have gone, and then the answer is lost, the
	// way a lost answer is lost in production.
	p.rp.ServeHTTP(w, out)
}

// drop resets the client connection without writing a response, as a host whose server died
// does (connection reset).
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, or headers already sent): aborting the handler ends the
		// stream or connection instead.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

// Server is a Proxy listening on a local address.
type Server struct {
	// URL is the proxy's base URL, to use as the AWS endpoint, e.g. http://127.0.0.1:41234.
	URL string
	srv *http.Server
}

// Start serves p on addr; "" means a free port on 127.0.0.1.
func (p *Proxy) Start(addr string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	s := &Server{
		URL: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second},
	}
	go s.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return s, nil
}

// Close stops listening and closes all connections, including requests waiting out a Delay. A
// held request (Fault.Hold) outlives it until it is released or maxHold passes.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("faultproxy: close: %w", err)
	}
	return nil
}

// targetPrefixes maps the X-Amz-Target prefix of JSON-protocol services to signing names, for
// requests without a SigV4 Authorization header.
var targetPrefixes = map[string]string{
	"DynamoDB_20120810":        "dynamodb",
	"DynamoDBStreams_20120810": "dynamodb",
	"AWSEvents":                "events",
	"AmazonSQS":                "sqs",
	"secretsmanager":           "secretsmanager",
	"AmazonSSM":                "ssm",
	"TrentService":             "kms",
}

// ServiceOf returns the signing name of the AWS service r is for: the service in the SigV4
// credential scope (Authorization header, or X-Amz-Credential of a presigned URL), else derived
// from the X-Amz-Target header, else Unknown.
func ServiceOf(r *http.Request) string {
	if s := scopeService(credential(r.Header.Get("Authorization"))); s != "" {
		return s
	}
	if s := scopeService(r.URL.Query().Get("X-Amz-Credential")); s != "" {
		return s
	}
	prefix, _, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	if s, ok := targetPrefixes[prefix]; ok {
		return s
	}
	return Unknown
}

// credential extracts the Credential value of a SigV4 or SigV4a Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=...".
func credential(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	return strings.TrimSpace(cred)
}

// scopeService returns the service of a credential AKID/date/region/service/aws4_request (SigV4a
// omits the region).
func scopeService(cred string) string {
	parts := strings.Split(cred, "/")
	if len(parts) < 4 || parts[len(parts)-1] != "aws4_request" {
		return ""
	}
	return strings.ToLower(parts[len(parts)-2])
}

func canonical(service string) string {
	s := strings.ToLower(service)
	if s == "eventbridge" {
		return "events"
	}
	return s
}
