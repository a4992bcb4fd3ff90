package mlflowproxy

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// ServiceUI is MLflow's web app outside its API roots: the page, its static files and the artifact
// views it links to (mlflowcatalog.UI). Its data calls go to ServiceTracking under ajax-api/.
const ServiceUI = mlflowcatalog.UI

// MLflow's UI needs nothing configured to live under a prefix (read in MLflow 3.17.2): index.html
// names its files relatively ("static-files/static/js/main.<hash>.js") and the app builds every call
// as new URL("ajax-api/…", window.location.href), with hash routes (#/experiments/1/runs/<id>), so
// the page works under whatever path it is served at, as long as that path ends in "/". MLflow's
// own prefix (--static-prefix, _MLFLOW_STATIC_PREFIX) moves its routes on its own host; the
// gateway strips its mount and reaches MLflow's root (or MLFLOW_URL's base path), so it is not set.

// identifyUI recognises the web UI's routes in the decoded path after the mount: the page (the
// mount's root, "/" left as one empty segment), static-files/<file>, the artifact views and the
// UI's GraphQL (POST graphql).
func identifyUI(segs []string) (Route, bool) {
	switch {
	case len(segs) == 1 && segs[0] == "":
		return Route{Service: ServiceUI, Endpoint: ""}, true
	case len(segs) >= 1 && segs[0] == "static-files",
		len(segs) == 1 && segs[0] == "get-artifact",
		len(segs) == 1 && segs[0] == "graphql",
		len(segs) == 2 && segs[0] == "model-versions" && segs[1] == "get-artifact":
		return Route{Service: ServiceUI, Endpoint: strings.Join(segs, "/")}, true
	}
	return Route{}, false
}

// mountRoots are the tracking-URI mounts whose page a browser may ask for without the final "/":
// relative references resolve against the page's URL, so the page must be asked for with it.
var mountRoots = map[string]string{"/api/mlflow": "mlflow/", "/mlflow": "mlflow/"}

// mountRootRedirect is where a GET of a mount root without its "/" is sent: a relative Location,
// which keeps whatever prefix (an API Gateway stage) the browser's URL has before the mount.
func mountRootRedirect(r *http.Request) (string, bool) {
	loc, ok := mountRoots[r.URL.Path]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return "", false
	}
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	return loc, true
}

// Caching of the UI's files. MLflow's build names its scripts, styles, workers and media by their
// content ("main.c2f5f8d4.js", "3254.9017d695.chunk.js", "logo.4b3a3c8e1d7f5a2e9c10.svg"), so such
// a file never changes under its name: a year, immutable. Every other file (the page,
// manifest.json, favicon.ico) revalidates each time (MLflow sends ETag and Last-Modified). private:
// the files are behind the authorizer, so no shared cache may answer them to someone without a key.
const (
	CacheImmutable   = "private, max-age=31536000, immutable"
	CacheRevalidate  = "no-cache"
	CacheErrorAnswer = "no-store"
)

// contentHashed matches a file name carrying a content hash: a dot-separated run of at least 8
// hex digits before the extension.
var contentHashed = regexp.MustCompile(`\.[0-9a-f]{8,}\.[A-Za-z0-9.]+$`)

// ContentSecurityPolicy is the policy of the UI's page, found by loading MLflow's UI in Chromium and
// reading the console for violations (docs/architecture.md): its scripts, styles, workers and
// calls are its own; its components inject style elements and style attributes (Emotion,
// 'unsafe-inline' for styles only); icons and charts use data: and blob: images; the artifact
// viewer frames its own files. No script runs that the gateway did not serve from MLflow's build.
const ContentSecurityPolicy = "default-src 'self'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; " +
	"font-src 'self' data:; " +
	"connect-src 'self'; " +
	"worker-src 'self' blob:; " +
	"frame-src 'self' blob:; " +
	"object-src 'none'; " +
	"base-uri 'self'; " +
	"form-action 'self'; " +
	"frame-ancestors 'none'"

// setUIHeaders sets the caching and security headers of a UI route's answer, whatever MLflow sent.
func setUIHeaders(route Route, status int, hdr http.Header) {
	if route.Service != ServiceUI {
		return
	}
	hdr.Set("X-Content-Type-Options", "nosniff")
	switch {
	case status >= http.StatusBadRequest:
		hdr.Set("Cache-Control", CacheErrorAnswer)
	case route.Endpoint == "":
		hdr.Set("Cache-Control", CacheRevalidate)
		hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
		hdr.Set("Referrer-Policy", "same-origin")
		hdr.Set("X-Frame-Options", "DENY") // frame-ancestors 'none', for browsers that predate it
	case strings.HasPrefix(route.Endpoint, "static-files/") && contentHashed.MatchString(route.Endpoint):
		hdr.Set("Cache-Control", CacheImmutable)
	case strings.HasPrefix(route.Endpoint, "static-files/"):
		hdr.Set("Cache-Control", CacheRevalidate)
	default:
		// An artifact view: a run's file, which may change (a re-logged artifact) and is per user.
		hdr.Set("Cache-Control", "private, no-cache")
	}
}
