package mlflowproxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// Path errors. Route returns them in a *PathError with the reason.
var (
	// ErrUnsafePath is a path that tries to leave MLflow's API: traversal, an encoded separator,
	// a backslash, a control character, an absolute URL. Answered 400.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrNotMLflowAPI is a safe path that names no MLflow API endpoint. Answered 404.
	ErrNotMLflowAPI = errors.New("not an MLflow API path")
	// ErrInternalEndpoint is an endpoint of MLflow's API that only its own UI or the server's
	// host may call (mlflowcatalog.Refused). Answered 404 ENDPOINT_NOT_FOUND.
	ErrInternalEndpoint = errors.New("an MLflow server-internal endpoint")
	// ErrUnknownEndpoint is a path under one of MLflow's API roots that names no operation in the
	// catalog, in that API version. Answered 404 ENDPOINT_NOT_FOUND, as MLflow's client expects
	// of an endpoint its server lacks.
	ErrUnknownEndpoint = errors.New("not an MLflow operation")
	// ErrMethodNotAllowed is an operation's endpoint called with a method it is not served with.
	// Answered 405 with Allow, as MLflow does.
	ErrMethodNotAllowed = errors.New("method not allowed")
)

// PathError is why Route refused a path, or Operation a method.
type PathError struct {
	Err    error
	Reason string
}

func (e *PathError) Error() string { return e.Err.Error() + ": " + e.Reason }
func (e *PathError) Unwrap() error { return e.Err }

func unsafePath(reason string) error { return &PathError{Err: ErrUnsafePath, Reason: reason} }
func notAPI(reason string) error     { return &PathError{Err: ErrNotMLflowAPI, Reason: reason} }
func internal(reason string) error   { return &PathError{Err: ErrInternalEndpoint, Reason: reason} }
func unknown(reason string) error    { return &PathError{Err: ErrUnknownEndpoint, Reason: reason} }

// MethodError is a method the route's endpoint is not served with; Allow are those it is.
type MethodError struct {
	Method string
	Allow  []string
}

func (e *MethodError) Error() string {
	return fmt.Sprintf("%s: %s (allowed: %s)", ErrMethodNotAllowed, e.Method, strings.Join(e.Allow, ", "))
}
func (e *MethodError) Unwrap() error { return ErrMethodNotAllowed }

// Service is the MLflow REST service a route reaches: the catalog's.
type Service = mlflowcatalog.Service

// Services reachable through the proxy.
const (
	// ServiceTracking is api/<2.0|3.0>/mlflow/: tracking, model registry, logged models, traces…
	ServiceTracking = mlflowcatalog.Tracking
	// ServiceArtifacts is api/2.0/mlflow-artifacts/: MLflow's proxied artifact storage.
	ServiceArtifacts = mlflowcatalog.Artifacts
	// ServiceVersion is /version, which the client calls to learn the server's release.
	ServiceVersion = mlflowcatalog.Version
	// ServiceOTLP is v1/traces, MLflow's OpenTelemetry span ingestion (POST), where MLflow 3's
	// client exports a trace's spans once /version says the server takes them.
	ServiceOTLP = mlflowcatalog.OTLP
)

// Route is a client request path mapped onto MLflow.
type Route struct {
	// URL is the upstream URL, without a query.
	URL     *url.URL
	Service Service
	// Version is the REST API version, "2.0" or "3.0"; empty for ServiceVersion and ServiceOTLP.
	Version string
	// Endpoint is the decoded endpoint after the API prefix, as MLflow routes it ("runs/search").
	Endpoint string
}

// Router maps the gateway's MLflow mounts onto one MLflow server.
type Router struct {
	base    *url.URL
	ajaxAPI bool
}

// NewRouter returns a Router for the server at base (scheme, host and an optional base path).
// With ajaxAPI, api/<v>/mlflow[-artifacts]/ calls go to MLflow's ajax-api/ twins.
func NewRouter(base *url.URL, ajaxAPI bool) Router {
	return Router{base: &url.URL{Scheme: base.Scheme, Host: base.Host, Path: base.Path, RawPath: base.RawPath}, ajaxAPI: ajaxAPI}
}

// mounts are the gateway paths that reach MLflow. The tracking-URI mounts (MLFLOW_TRACKING_URI=
// https://<api>/api/mlflow) pass what follows them; the bare-host mounts are MLflow's own paths,
// for a tracking URI that is just the gateway's host. A prefix ending in "/" covers what is below
// it; any other is that one path (the client's calls outside MLflow's API roots).
var mounts = []struct {
	prefix string
	strip  bool
}{
	{"/api/mlflow/", true},
	{"/mlflow/", true},
	{"/api/2.0/mlflow/", false},
	{"/api/2.0/mlflow-artifacts/", false},
	{"/api/3.0/mlflow/", false},
	{"/version", false},
	{"/v1/traces", false},
	// The web UI on the bare host (ui.go); under the other mounts it is below their prefix.
	{"/ajax-api/", false},
	{"/static-files/", false},
	{"/get-artifact", false},
	{"/model-versions/get-artifact", false},
	{"/graphql", false},
}

// apis are MLflow's REST API roots: <root>/<version>/<name>/<endpoint>. MLflow registers every
// endpoint under both api/ and ajax-api/ (mlflow/server/handlers.py, _get_paths).
var apis = []struct {
	version, name string
	service       Service
}{
	{"2.0", "mlflow", ServiceTracking},
	{"3.0", "mlflow", ServiceTracking},
	{"2.0", "mlflow-artifacts", ServiceArtifacts},
}

// Route maps a request path onto MLflow. path is the request's path and rawPath, when set, its
// original encoding (http.Request.URL.Path and RawPath).
//
// API Gateway REST APIs deliver the path still percent-encoded while net/http and the local
// harness decode it, so the path is read as encoded text: percent escapes are honoured and any
// character that cannot appear literally in an encoded path is escaped. Every segment is checked
// at every level of decoding, so no encoding of a traversal gets through, and the result can only
// name an endpoint of MLflow's API under the configured base URL.
func (rt Router) Route(path, rawPath string) (Route, error) {
	segs, err := splitPath(path, rawPath)
	if err != nil {
		return Route{}, err
	}
	rest, ok := unmount(segs)
	if !ok {
		return Route{}, notAPI("no MLflow mount")
	}
	decoded := make([]string, len(rest))
	for i, s := range rest {
		decoded[i], _ = url.PathUnescape(s) // splitPath left only valid escapes
	}
	if len(decoded) > 0 && strings.Contains(decoded[0], ":") {
		return Route{}, unsafePath("an absolute URL")
	}
	route, ok := identifyUI(decoded)
	if !ok {
		route, ok = identify(decoded)
	}
	if !ok {
		return Route{}, notAPI("not an MLflow API endpoint")
	}
	if decoded[0] == "api" && mlflowcatalog.UIOnly(route.Service, route.Version, route.Endpoint) {
		return Route{}, unknown("MLflow serves this endpoint under ajax-api/ only")
	}
	// Admission is the catalog's: refused routes say why, and an endpoint no operation has is
	// unknown, whatever MLflow would answer.
	if r, ok := mlflowcatalog.Refused(route.Service, route.Endpoint); ok {
		return Route{}, internal(r.Why)
	}
	if len(mlflowcatalog.Methods(route.Service, route.Version, route.Endpoint)) == 0 {
		return Route{}, unknown("no MLflow operation has this endpoint")
	}
	if rt.ajaxAPI && decoded[0] == "api" {
		rest[0] = "ajax-api"
	}
	route.URL = rt.upstream(rest)
	return route, nil
}

// identify recognises the API endpoint a decoded path names.
func identify(segs []string) (Route, bool) {
	if len(segs) == 1 && segs[0] == "version" {
		return Route{Service: ServiceVersion, Endpoint: "version"}, true
	}
	// OTLP_TRACES_PATH of mlflow/tracing/utils/otlp.py, which the client appends to the tracking
	// URI. Only traces: MLflow's server ingests no other OTLP signal.
	if len(segs) == 2 && segs[0] == "v1" && segs[1] == "traces" {
		return Route{Service: ServiceOTLP, Endpoint: "v1/traces"}, true
	}
	if len(segs) < 4 || (segs[0] != "api" && segs[0] != "ajax-api") || segs[3] == "" {
		return Route{}, false
	}
	for _, a := range apis {
		if segs[1] == a.version && segs[2] == a.name {
			return Route{Service: a.service, Version: a.version, Endpoint: strings.Join(segs[3:], "/")}, true
		}
	}
	return Route{}, false
}

// Operation is the catalog's operation for the route called with method (HEAD as GET), or a
// *MethodError naming the methods its endpoint is served with.
func (r Route) Operation(method string) (mlflowcatalog.Operation, error) {
	if op, ok := mlflowcatalog.Lookup(r.Service, r.Version, method, r.Endpoint); ok {
		return op, nil
	}
	return mlflowcatalog.Operation{}, &MethodError{Method: method, Allow: mlflowcatalog.Methods(r.Service, r.Version, r.Endpoint)}
}

// upstream joins the encoded segments to the base URL.
func (rt Router) upstream(segs []string) *url.URL {
	raw := strings.TrimSuffix(rt.base.EscapedPath(), "/") + "/" + strings.Join(segs, "/")
	path, _ := url.PathUnescape(raw) // the base's EscapedPath and the segments are valid encodings
	return &url.URL{Scheme: rt.base.Scheme, Host: rt.base.Host, Path: path, RawPath: raw}
}

// unmount strips the mount from the encoded segments of an absolute path, returning what goes
// under MLflow's base URL.
func unmount(segs []string) ([]string, bool) {
	joined := "/" + strings.Join(segs, "/")
	if joined == "/" {
		return segs, true // the bare host's root: the UI's page
	}
	for _, m := range mounts {
		if !strings.HasPrefix(joined, m.prefix) || !strings.HasSuffix(m.prefix, "/") && joined != m.prefix {
			continue
		}
		n := strings.Count(m.prefix, "/") - 1 // segments in the prefix
		if m.strip {
			return segs[n:], true
		}
		return segs, true
	}
	return nil, false
}

// splitPath validates an absolute path segment by segment and returns its segments encoded as
// they will be sent. An empty segment is allowed only last (a trailing slash).
func splitPath(path, rawPath string) ([]string, error) {
	src := path
	if rawPath != "" {
		// net/http sets RawPath only when it is a valid encoding of Path; anything else was forged.
		if dec, err := url.PathUnescape(rawPath); err != nil || dec != path {
			return nil, unsafePath("inconsistent path encoding")
		}
		src = rawPath
	}
	if !strings.HasPrefix(src, "/") {
		return nil, unsafePath("not an absolute path")
	}
	segs := strings.Split(src[1:], "/")
	for i, s := range segs {
		if s == "" && i < len(segs)-1 {
			return nil, unsafePath("an empty path segment")
		}
		if err := checkSegment(s); err != nil {
			return nil, err
		}
		segs[i] = escapeSegment(s)
	}
	return segs, nil
}

// maxDecodes bounds how many layers of percent-encoding a segment may carry. Real names carry
// one; decoding strictly shortens the text, so the bound only caps the work on hostile input.
const maxDecodes = 8

// checkSegment rejects a segment that is, or decodes at any depth to, a dot segment, a separator
// (/ or \) or a control character: whichever layer some server along the way decodes, it must
// not find a way out of the path.
func checkSegment(seg string) error {
	for depth := 0; ; depth++ {
		switch {
		case seg == "." || seg == "..":
			return unsafePath("a dot segment")
		case strings.ContainsAny(seg, `/\`):
			return unsafePath("an encoded separator or backslash")
		case strings.ContainsFunc(seg, isControl):
			return unsafePath("a control character")
		}
		next := httpapi.LenientUnescape(seg)
		if next == seg {
			return nil
		}
		if depth == maxDecodes {
			return unsafePath("too many layers of encoding")
		}
		seg = next
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// escapeSegment returns s as valid encoded path text: valid escapes and RFC 3986 pchar
// characters stay, everything else (a space, a lone %, a decoded ? or #, non-ASCII bytes) is
// escaped. An already-encoded segment comes back unchanged.
func escapeSegment(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteString(s[i : i+3])
			i += 2
		case isPchar(c):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// isPchar reports whether c may appear literally in a path segment (RFC 3986: unreserved,
// sub-delims, ':' and '@').
func isPchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
