package mlflowproxy_test

import (
	"bufio"
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
)

func router(t testing.TB, base string, ajax bool) mlflowproxy.Router {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return mlflowproxy.NewRouter(u, ajax)
}

func TestRouteMounts(t *testing.T) {
	const base = "http://mlflow.internal:5000/base"
	for _, tc := range []struct {
		name          string
		path, rawPath string
		ajax          bool
		want          string // upstream URL
		service       mlflowproxy.Service
		version       string
		endpoint      string
	}{
		// MLFLOW_TRACKING_URI=https://<api>/api/mlflow: the client's own paths follow the mount.
		{"tracking URI mount", "/api/mlflow/api/2.0/mlflow/experiments/get", "", false,
			base + "/api/2.0/mlflow/experiments/get", mlflowproxy.ServiceTracking, "2.0", "experiments/get"},
		{"short mount", "/mlflow/api/2.0/mlflow/runs/search", "", false,
			base + "/api/2.0/mlflow/runs/search", mlflowproxy.ServiceTracking, "2.0", "runs/search"},
		{"artifacts under the tracking URI", "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/1/abc/artifacts/model.pkl"},
		{"multipart upload control call", "/api/mlflow/api/2.0/mlflow-artifacts/mpu/create/1/abc/artifacts/big.bin", "", false,
			base + "/api/2.0/mlflow-artifacts/mpu/create/1/abc/artifacts/big.bin", mlflowproxy.ServiceArtifacts, "2.0", "mpu/create/1/abc/artifacts/big.bin"},
		{"API 3.0", "/api/mlflow/api/3.0/mlflow/traces/search", "", false,
			base + "/api/3.0/mlflow/traces/search", mlflowproxy.ServiceTracking, "3.0", "traces/search"},
		{"server-info probe", "/api/mlflow/api/3.0/mlflow/server-info", "", false,
			base + "/api/3.0/mlflow/server-info", mlflowproxy.ServiceTracking, "3.0", "server-info"},
		{"version probe", "/api/mlflow/version", "", false,
			base + "/version", mlflowproxy.ServiceVersion, "", "version"},
		{"span export under the tracking URI", "/api/mlflow/v1/traces", "", false,
			base + "/v1/traces", mlflowproxy.ServiceOTLP, "", "v1/traces"},
		{"span export under the short mount", "/mlflow/v1/traces", "", false,
			base + "/v1/traces", mlflowproxy.ServiceOTLP, "", "v1/traces"},
		{"ajax-api called directly", "/api/mlflow/ajax-api/2.0/mlflow/experiments/search", "", false,
			base + "/ajax-api/2.0/mlflow/experiments/search", mlflowproxy.ServiceTracking, "2.0", "experiments/search"},
		// MLFLOW_TRACKING_URI=https://<api>: MLflow's own paths, kept whole.
		{"bare host", "/api/2.0/mlflow/runs/create", "", false,
			base + "/api/2.0/mlflow/runs/create", mlflowproxy.ServiceTracking, "2.0", "runs/create"},
		{"bare host artifacts", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/1/r/artifacts/a.txt"},
		{"bare host 3.0", "/api/3.0/mlflow/traces/search", "", false,
			base + "/api/3.0/mlflow/traces/search", mlflowproxy.ServiceTracking, "3.0", "traces/search"},
		{"bare host version", "/version", "", false,
			base + "/version", mlflowproxy.ServiceVersion, "", "version"},
		{"bare host span export", "/v1/traces", "", false,
			base + "/v1/traces", mlflowproxy.ServiceOTLP, "", "v1/traces"},
		// MLFLOW_AJAX_API=true.
		{"ajax rewrite", "/api/mlflow/api/2.0/mlflow/runs/get", "", true,
			base + "/ajax-api/2.0/mlflow/runs/get", mlflowproxy.ServiceTracking, "2.0", "runs/get"},
		{"ajax rewrite of artifacts", "/api/2.0/mlflow-artifacts/artifacts/x.txt", "", true,
			base + "/ajax-api/2.0/mlflow-artifacts/artifacts/x.txt", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/x.txt"},
		{"ajax rewrite of 3.0", "/api/3.0/mlflow/traces/search", "", true,
			base + "/ajax-api/3.0/mlflow/traces/search", mlflowproxy.ServiceTracking, "3.0", "traces/search"},
		{"ajax leaves ajax alone", "/mlflow/ajax-api/2.0/mlflow/runs/get", "", true,
			base + "/ajax-api/2.0/mlflow/runs/get", mlflowproxy.ServiceTracking, "2.0", "runs/get"},
		{"ajax leaves version alone", "/mlflow/version", "", true,
			base + "/version", mlflowproxy.ServiceVersion, "", "version"},
		{"ajax leaves span export alone", "/v1/traces", "", true,
			base + "/v1/traces", mlflowproxy.ServiceOTLP, "", "v1/traces"},
		// The web UI under each tracking-URI mount and the bare host: the page at the mount's root,
		// its files and data calls relative to it (ui.go).
		{"UI page under the tracking URI", "/api/mlflow/", "", false, base + "/", mlflowproxy.ServiceUI, "", ""},
		{"UI page under the short mount", "/mlflow/", "", false, base + "/", mlflowproxy.ServiceUI, "", ""},
		{"UI page on the bare host", "/", "", false, base + "/", mlflowproxy.ServiceUI, "", ""},
		{"UI page with MLFLOW_AJAX_API", "/api/mlflow/", "", true, base + "/", mlflowproxy.ServiceUI, "", ""},
		{"UI static file", "/api/mlflow/static-files/static/js/main.c2f5f8d4.js", "", false,
			base + "/static-files/static/js/main.c2f5f8d4.js", mlflowproxy.ServiceUI, "", "static-files/static/js/main.c2f5f8d4.js"},
		{"UI static file on the bare host", "/static-files/favicon.ico", "", false,
			base + "/static-files/favicon.ico", mlflowproxy.ServiceUI, "", "static-files/favicon.ico"},
		{"UI artifact view", "/mlflow/get-artifact", "", false, base + "/get-artifact", mlflowproxy.ServiceUI, "", "get-artifact"},
		{"UI model-version artifact view", "/model-versions/get-artifact", "", false,
			base + "/model-versions/get-artifact", mlflowproxy.ServiceUI, "", "model-versions/get-artifact"},
		{"UI GraphQL", "/api/mlflow/graphql", "", false, base + "/graphql", mlflowproxy.ServiceUI, "", "graphql"},
		{"UI GraphQL under /mlflow", "/mlflow/graphql", "", true, base + "/graphql", mlflowproxy.ServiceUI, "", "graphql"},
		{"UI GraphQL on the bare host", "/graphql", "", false, base + "/graphql", mlflowproxy.ServiceUI, "", "graphql"},
		{"UI data call on the bare host", "/ajax-api/2.0/mlflow/experiments/search", "", false,
			base + "/ajax-api/2.0/mlflow/experiments/search", mlflowproxy.ServiceTracking, "2.0", "experiments/search"},
		{"UI-only data call", "/api/mlflow/ajax-api/2.0/mlflow/metrics/get-history-bulk", "", false,
			base + "/ajax-api/2.0/mlflow/metrics/get-history-bulk", mlflowproxy.ServiceTracking, "2.0", "metrics/get-history-bulk"},
		{"UI-only data call on the bare host", "/ajax-api/3.0/mlflow/get-trace-artifact", "", true,
			base + "/ajax-api/3.0/mlflow/get-trace-artifact", mlflowproxy.ServiceTracking, "3.0", "get-trace-artifact"},
		// Encodings: API Gateway's still-encoded path, net/http's decoded one, and RawPath.
		{"encoded path (API Gateway)", "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/my%20file.txt", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/my%20file.txt", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/my file.txt"},
		{"decoded path (harness)", "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/my file.txt", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/my%20file.txt", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/my file.txt"},
		{"RawPath wins", "/api/2.0/mlflow-artifacts/artifacts/a+b?.txt", "/api/2.0/mlflow-artifacts/artifacts/a+b%3F.txt", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/a+b%3F.txt", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/a+b?.txt"},
		{"lone percent", "/api/2.0/mlflow-artifacts/artifacts/100%.txt", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/100%25.txt", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/100%.txt"},
		{"non-ASCII", "/api/2.0/mlflow-artifacts/artifacts/模型.txt", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/%E6%A8%A1%E5%9E%8B.txt", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/模型.txt"},
		{"dots inside a name are fine", "/api/2.0/mlflow-artifacts/artifacts/model..v2.tar.gz", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/model..v2.tar.gz", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/model..v2.tar.gz"},
		{"trailing slash kept", "/api/2.0/mlflow-artifacts/artifacts/dir/", "", false,
			base + "/api/2.0/mlflow-artifacts/artifacts/dir/", mlflowproxy.ServiceArtifacts, "2.0", "artifacts/dir/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			route, err := router(t, base, tc.ajax).Route(tc.path, tc.rawPath)
			if err != nil {
				t.Fatal(err)
			}
			if got := route.URL.String(); got != tc.want {
				t.Errorf("upstream %s\n            want %s", got, tc.want)
			}
			if route.Service != tc.service || route.Version != tc.version || route.Endpoint != tc.endpoint {
				t.Errorf("route %v %q %q, want %v %q %q", route.Service, route.Version, route.Endpoint, tc.service, tc.version, tc.endpoint)
			}
		})
	}
}

func TestRouteBaseURLForms(t *testing.T) {
	for base, want := range map[string]string{
		"http://m:5000":         "http://m:5000/api/2.0/mlflow/runs/get",
		"http://m:5000/":        "http://m:5000/api/2.0/mlflow/runs/get",
		"https://h/a/b/":        "https://h/a/b/api/2.0/mlflow/runs/get",
		"https://h/with%20sp/x": "https://h/with%20sp/x/api/2.0/mlflow/runs/get",
	} {
		route, err := router(t, base, false).Route("/api/mlflow/api/2.0/mlflow/runs/get", "")
		if err != nil || route.URL.String() != want {
			t.Errorf("base %s: %v %v, want %s", base, route.URL, err, want)
		}
	}
}

// unsafePaths must all be refused as unsafe, whatever the mount.
var unsafePaths = []struct{ name, path, rawPath string }{
	{"dot-dot", "/api/mlflow/api/2.0/mlflow/../../admin", ""},
	{"dot-dot under the bare mount", "/api/2.0/mlflow-artifacts/artifacts/../../../etc/passwd", ""},
	{"dot segment", "/api/mlflow/./api/2.0/mlflow/runs/get", ""},
	{"dot-dot last", "/api/2.0/mlflow/runs/..", ""},
	{"encoded dot-dot", "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/%2e%2e/%2E%2E/secret", ""},
	{"half-encoded dot-dot", "/api/2.0/mlflow-artifacts/artifacts/.%2e/x", ""},
	{"encoded slash", "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/a%2F..%2F..%2Fb", ""},
	{"encoded slash alone", "/api/2.0/mlflow/runs%2fget", ""},
	{"double-encoded dot-dot", "/api/2.0/mlflow-artifacts/artifacts/%252e%252e/x", ""},
	{"double-encoded slash", "/api/2.0/mlflow-artifacts/artifacts/a%252fb", ""},
	{"triple-encoded dot-dot", "/api/2.0/mlflow-artifacts/artifacts/%25252e%25252e/x", ""},
	{"encoding hidden behind a bad escape", "/api/2.0/mlflow-artifacts/artifacts/%%32%65%%32%65/x", ""},
	{"backslash", `/api/mlflow/api/2.0/mlflow-artifacts/artifacts/..\..\x`, ""},
	{"encoded backslash", "/api/2.0/mlflow-artifacts/artifacts/..%5c..%5Cx", ""},
	{"protocol-relative", "/api/mlflow//evil.com/api/2.0/mlflow/runs/get", ""},
	{"leading double slash", "//evil.com/api/2.0/mlflow/runs/get", ""},
	{"absolute URL", "/api/mlflow/http://evil.com/x", ""},
	{"absolute URL without slashes", "/api/mlflow/http:evil.com", ""},
	{"encoded absolute URL", "/api/mlflow/https%3A%2F%2Fevil.com", ""},
	{"scheme-like first segment", "/mlflow/javascript:alert(1)", ""},
	{"NUL", "/api/2.0/mlflow-artifacts/artifacts/a\x00.txt", ""},
	{"encoded NUL", "/api/2.0/mlflow-artifacts/artifacts/a%00.txt", ""},
	{"control character", "/api/2.0/mlflow/runs/get\r\nX-Injected: 1", ""},
	{"empty segment", "/api/2.0/mlflow//runs/get", ""},
	{"relative path", "api/2.0/mlflow/runs/get", ""},
	{"RawPath hides traversal", "/api/2.0/mlflow-artifacts/artifacts/a/b", "/api/2.0/mlflow-artifacts/artifacts/%2e%2e%2fb"},
	{"RawPath disagrees with Path", "/api/2.0/mlflow/runs/get", "/api/2.0/mlflow/runs/delete"},
}

func TestRouteRefusesUnsafePaths(t *testing.T) {
	for _, ajax := range []bool{false, true} {
		for _, tc := range unsafePaths {
			_, err := router(t, "http://m:5000/base", ajax).Route(tc.path, tc.rawPath)
			if !errors.Is(err, mlflowproxy.ErrUnsafePath) {
				t.Errorf("%s (%q): err %v, want ErrUnsafePath", tc.name, tc.path, err)
			}
		}
	}
}

func TestRouteRefusesWhatIsNotMLflowsAPI(t *testing.T) {
	for _, path := range []string{
		"/api/mlflow/index.html",              // the page is served at the mount's root only
		"/api/mlflow/static/js/main.js",       // the UI's files are under static-files/
		"/mlflow/graphql/x",                   // GraphQL is the one path
		"/api/mlflow/health",                  // not part of the API
		"/api/mlflow/api/2.0/mlflow",          // no endpoint
		"/api/mlflow/api/2.0/mlflow/",         // no endpoint
		"/api/mlflow/api/2.1/unity-catalog/x", // another service
		"/api/mlflow/api/4.0/mlflow/traces/x", // Databricks only
		"/api/mlflow/api/2.0/preview/mlflow/x",
		"/api/mlflow/api/3.0/mlflow-artifacts/artifacts/x",
		"/api/models/register", // another function's route
		"/api/mlflowx/api/2.0/mlflow/runs/get",
		"/api/2.0/mlflowx/runs/get",
		"/api/mlflow/version/x",
		"/version/",
		"/version/x",
		"/versions",
		// Only MLflow's span ingestion under v1/: no other OTLP signal, nothing below it.
		"/api/mlflow/v1/metrics",
		"/mlflow/v1/logs",
		"/v1/metrics",
		"/v1",
		"/v1/",
		"/v1/traces/",
		"/v1/traces/x",
		"/api/mlflow/v1/traces/x",
		"/api/mlflow/v1",
		"/api/mlflow/ajax-api/v1/traces",
		"/api/mlflow/api/v1/traces",
		"/index.html",
		"/favicon.ico",
	} {
		if _, err := router(t, "http://m", false).Route(path, ""); !errors.Is(err, mlflowproxy.ErrNotMLflowAPI) {
			t.Errorf("%q: err %v, want ErrNotMLflowAPI", path, err)
		}
	}
}

// TestEveryClientEndpointMaps asks the installed MLflow for the REST endpoints its client calls
// (the services' protobuf routes, the paths rest_store.py, http_artifact_repo.py and
// server_info.py build by hand, /version and the OTLP span export) and checks each the MLflow server serves maps,
// under the tracking-URI mount and, where the gateway routes it, from the bare host. The list
// pairs every method with every API version; the pairs the server itself answers 404 (runs/search
// under 3.0, server-features) are answered 404 ENDPOINT_NOT_FOUND by the gateway too, which the
// client reads the same way.
func TestEveryClientEndpointMaps(t *testing.T) {
	out := runPython(t, "", "-W", "ignore", "-c", clientEndpoints)
	rt := router(t, "https://mlflow.internal/base", false)
	n, unserved := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		endpoint, served, _ := strings.Cut(sc.Text(), "\t")
		n++
		if served != "served" {
			unserved++
			if _, err := rt.Route("/api/mlflow"+endpoint, ""); !errors.Is(err, mlflowproxy.ErrUnknownEndpoint) {
				t.Errorf("%s, which MLflow does not serve: err %v, want ErrUnknownEndpoint", endpoint, err)
			}
			continue
		}
		route, err := rt.Route("/api/mlflow"+endpoint, "")
		if err != nil {
			t.Errorf("%s: %v", endpoint, err)
			continue
		}
		if want := "https://mlflow.internal/base" + endpoint; route.URL.String() != want {
			t.Errorf("%s maps to %s", endpoint, route.URL)
		}
		if route, err := rt.Route(endpoint, ""); err != nil {
			t.Errorf("bare host %s: %v", endpoint, err)
		} else if want := "https://mlflow.internal/base" + endpoint; route.URL.String() != want {
			t.Errorf("bare host %s maps to %s", endpoint, route.URL)
		}
	}
	if n-unserved < 100 {
		t.Errorf("only %d served endpoints listed:\n%s", n-unserved, out)
	}
	t.Logf("%d client endpoints map, %d the server does not serve are refused", n-unserved, unserved)
}

// clientEndpoints prints one path per line, path parameters filled in.
const clientEndpoints = `
import pathlib, re
import mlflow
from mlflow.utils.rest_utils import extract_all_api_info_for_service, _REST_API_PATH_PREFIX, _V3_REST_API_PATH_PREFIX
from mlflow.protos.service_pb2 import MlflowService
from mlflow.protos.model_registry_pb2 import ModelRegistryService
from mlflow.protos.mlflow_artifacts_pb2 import MlflowArtifactsService
from mlflow.protos.webhooks_pb2 import WebhookService
from mlflow.utils.server_info import SERVER_INFO_ENDPOINT, SERVER_FEATURES_ENDPOINT
import mlflow.store.tracking.rest_store as rs
from mlflow.tracing.utils.otlp import OTLP_TRACES_PATH
from mlflow.store.artifact.mlflow_artifacts_repo import _ARTIFACTS_SERVICE_ROOT

# The client calls an RPC only if its code names the request message (mlflow.protos and
# mlflow.server are not the client): prompt-optimization jobs, for one, are the server's UI's.
root = pathlib.Path(mlflow.__file__).parent
client_names = {name for p in root.rglob("*.py") if not {"protos", "server"} & set(p.relative_to(root).parts)
                for name in re.findall(r"\w+", p.read_text(errors="replace"))}
paths = set()
def add(p):
    paths.add(re.sub(r"{[^}]*}|<[^>]*>", "x", p))
# The tracking store calls MlflowService under 2.0, and some of it (gateway, traces) under 3.0.
for svc, prefixes in [(MlflowService, [_REST_API_PATH_PREFIX, _V3_REST_API_PATH_PREFIX]),
                      (ModelRegistryService, [_REST_API_PATH_PREFIX]),
                      (MlflowArtifactsService, [_REST_API_PATH_PREFIX]),
                      (WebhookService, [_REST_API_PATH_PREFIX])]:
    for prefix in prefixes:
        for request, endpoints in extract_all_api_info_for_service(svc, prefix).items():
            if request.__name__ not in client_names:
                continue
            for path, _ in endpoints:
                # A typo in MLflow's own proto (no leading slash) that neither client uses.
                if "0mlflow/" not in path:
                    add(path)
for prefix in [rs._V3_TRACE_REST_API_PATH_PREFIX, rs._V3_ISSUES_REST_API_PATH_PREFIX,
               rs._V3_LABEL_SCHEMAS_REST_API_PATH_PREFIX, rs._V3_REVIEW_QUEUES_REST_API_PATH_PREFIX]:
    add(prefix + "/search")
add(SERVER_INFO_ENDPOINT)
add(SERVER_FEATURES_ENDPOINT)
add(_ARTIFACTS_SERVICE_ROOT + "/1/abc/artifacts/model.pkl")
for p in ["presigned", "mpu/create", "mpu/complete", "mpu/abort"]:
    add("/api/2.0/mlflow-artifacts/" + p + "/1/abc/artifacts/model.pkl")
add("/version")
add(OTLP_TRACES_PATH)  # rest_store.log_spans: the span export, appended to the tracking URI

# Whether the server "mlflow server" runs serves the path: its FastAPI routes, then Flask's.
from werkzeug.exceptions import NotFound
from mlflow.server import app as flask_app
from mlflow.server.fastapi_app import app as fastapi_app
fast = [c for r in fastapi_app.routes for c in getattr(r, "effective_route_contexts", lambda: ())()]
flask_urls = flask_app.url_map.bind("localhost")
def served(p):
    if any(c.path_regex.match(p) for c in fast):
        return True
    try:
        flask_urls.match(p, method="GET")
    except NotFound:
        return False
    except Exception:  # MethodNotAllowed: the path is served with another method
        pass
    return True
print("\n".join(p + "\t" + ("served" if served(p) else "unserved") for p in sorted(paths)))
`

// internalRoutes are MLflow 3.17's localhost-only and server-internal routes under its API roots
// (the UI's own data routes are served: TestRouteMounts), each as a client would send it through
// the tracking-URI mount: refused for everyone.
var internalRoutes = []struct{ method, path string }{
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/assistant/message"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/assistant/config"},
	{"PUT", "/api/mlflow/ajax-api/3.0/mlflow/assistant/config"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/assistant/sessions/s1/stream"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/assistant/skills/install"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/assistant/providers"},
	{"POST", "/api/mlflow/ajax-api/2.0/mlflow/gateway-proxy"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/gateway/supported-providers"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/gateway/supported-models"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/gateway/provider-config"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/gateway/secrets/config"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/jobs/j1"},
	{"PATCH", "/api/mlflow/ajax-api/3.0/mlflow/jobs/cancel/j1"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/scorer/invoke"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/issues/invoke"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/genai/evaluate/invoke"},
	{"POST", "/api/mlflow/ajax-api/2.0/mlflow/runs/create-promptlab-run"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/demo/generate"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/demo/delete"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/ui-telemetry"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/ui-telemetry"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/prompt-optimization/jobs"},
	{"GET", "/api/mlflow/ajax-api/3.0/mlflow/prompt-optimization/jobs/j-1"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/prompt-optimization/jobs/search"},
	{"POST", "/api/mlflow/ajax-api/3.0/mlflow/prompt-optimization/jobs/j-1/cancel"},
	{"DELETE", "/api/mlflow/ajax-api/3.0/mlflow/prompt-optimization/jobs/j-1"},
	// Outside the API roots the gateway routes at all.
	{"POST", "/api/mlflow/ajax-api/3.0/jobs/"},
	{"POST", "/api/mlflow/ajax-api/3.0/jobs/search"},
	{"POST", "/api/mlflow/gateway/openai/v1/chat/completions"},
	{"POST", "/api/mlflow/gateway/proxy/e1/anything"},
	{"POST", "/api/mlflow/gateway/e1/mlflow/invocations"},
	{"GET", "/api/mlflow/health"},
}

// variants are the other ways a client can spell an internal route: the api/ twin (which
// MLFLOW_AJAX_API sends to ajax-api/), the bare-host mount, a trailing slash, an encoded letter.
func variants(path string) []string {
	out := []string{path}
	if rest, ok := strings.CutPrefix(path, "/api/mlflow/ajax-api/"); ok {
		out = append(out, "/api/mlflow/api/"+rest, "/mlflow/ajax-api/"+rest, "/api/"+rest)
		if !strings.HasSuffix(path, "/") {
			out = append(out, path+"/")
		}
		if i := strings.LastIndexByte(path, '/'); i >= 0 && i+1 < len(path) {
			out = append(out, path[:i+1]+"%"+strings.ToUpper(strconv.FormatInt(int64(path[i+1]), 16))+path[i+2:])
		}
	}
	return out
}

// The UI's own data routes are MLflow's under ajax-api/ alone: their api/ spelling is no operation,
// with or without MLFLOW_AJAX_API (which would otherwise send it to the ajax-api/ twin).
func TestRouteServesUIOnlyRoutesUnderAjaxAPIOnly(t *testing.T) {
	for _, ajax := range []bool{false, true} {
		rt := router(t, "http://m:5000", ajax)
		for _, path := range []string{
			"/api/mlflow/api/2.0/mlflow/metrics/get-history-bulk",
			"/api/2.0/mlflow/upload-artifact",
			"/mlflow/api/3.0/mlflow/get-trace-artifact",
			"/api/2.0/mlflow/logged-models/m-1/artifacts/files",
			"/api/2.0/mlflow/experiments/search-datasets",
		} {
			if _, err := rt.Route(path, ""); !errors.Is(err, mlflowproxy.ErrUnknownEndpoint) {
				t.Errorf("ajax=%v %s: err %v, want ErrUnknownEndpoint", ajax, path, err)
			}
			ajaxPath := strings.Replace(path, "/api/2.0/", "/ajax-api/2.0/", 1)
			ajaxPath = strings.Replace(ajaxPath, "/api/3.0/", "/ajax-api/3.0/", 1)
			if _, err := rt.Route(ajaxPath, ""); err != nil {
				t.Errorf("ajax=%v %s: %v", ajax, ajaxPath, err)
			}
		}
	}
}

func TestRouteRefusesMLflowInternalEndpoints(t *testing.T) {
	for _, ajax := range []bool{false, true} {
		rt := router(t, "http://m:5000", ajax)
		for _, tc := range internalRoutes {
			for _, path := range variants(tc.path) {
				_, err := rt.Route(path, "")
				if !errors.Is(err, mlflowproxy.ErrInternalEndpoint) && !errors.Is(err, mlflowproxy.ErrNotMLflowAPI) {
					t.Errorf("ajax=%v %s %s: err %v, want it refused", ajax, tc.method, path, err)
				}
			}
		}
	}
}

// TestInternalEndpointsOfTheInstalledMLflow asks the installed MLflow for the routes the gateway
// must refuse and checks the proxy refuses every one: the routes only its UI or its host may use
// (registered under ajax-api/ alone, and the routers of the assistant, jobs, the AI gateway and
// OTLP, less the span export the client calls), and every route, under api/ as well, whose handler runs work on the MLflow server (it
// reaches MLflow's job runner or starts a process, found by reading the handlers' source).
func TestInternalEndpointsOfTheInstalledMLflow(t *testing.T) {
	out := runPython(t, "", "-W", "ignore", "-c", serverInternalRoutes)
	rt := router(t, "http://m:5000", false)
	n, executing, uiServed := 0, map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, why, _ := strings.Cut(sc.Text(), "\t")
		n++
		if strings.HasPrefix(why, "executes on the server") {
			executing[path] = true
		}
		for _, mount := range []string{"/api/mlflow", "/mlflow", ""} {
			route, err := rt.Route(mount+path, "")
			if err != nil {
				continue
			}
			// The UI's own routes are served when the catalog names them the UI's, and only where
			// MLflow serves them; what runs work on the server or is a router's never is.
			isUI := route.Service == mlflowproxy.ServiceUI || mlflowcatalog.UIOnly(route.Service, route.Version, route.Endpoint)
			if isUI && !strings.HasPrefix(why, "executes") && !strings.HasPrefix(why, "in ") {
				uiServed[path] = true
				continue
			}
			t.Errorf("%s%s is served (%s); MLflow lists it as %s", mount, path, route.URL, why)
		}
	}
	if n < 30 {
		t.Errorf("only %d internal routes listed:\n%s", n, out)
	}
	// The source reading must still recognise the handlers it was written against.
	for _, known := range []string{"/ajax-api/3.0/mlflow/scorer/invoke", "/api/3.0/mlflow/prompt-optimization/jobs"} {
		if !executing[known] {
			t.Errorf("%s is not found to execute on the server:\n%s", known, out)
		}
	}
	t.Logf("%d internal routes: %d the UI's own, served; the rest refused, %d of them executing on the server", n, len(uiServed), len(executing))
}

// serverInternalRoutes prints MLflow's internal routes, one a line as "<path>\t<why>", path
// parameters filled in.
const serverInternalRoutes = `
import ast, importlib, inspect, re, textwrap
from mlflow.server import app as flask_app
from mlflow.server.fastapi_app import app as fastapi_app
from mlflow.server.assistant.api import assistant_router
from mlflow.server.job_api import job_api_router
from mlflow.server.gateway_api import gateway_router
from mlflow.server.otel_api import otel_router
from mlflow.tracing.utils.otlp import OTLP_TRACES_PATH

def fill(p):
    return re.sub(r"{[^}]*}|<[^>]*>", "x", p)

# What runs work on the server: MLflow's job runner and anything that starts a process.
RUNNERS = ("mlflow.server.jobs", "subprocess", "multiprocessing", "asyncio.subprocess", "os.system", "os.popen",
           "os.exec", "os.spawn", "os.fork", "os.posix_spawn")

def resolve(fn, node, local_imports):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    try:
        if parts[0] in local_imports:
            mod, attr = local_imports[parts[0]]
            obj = importlib.import_module(mod)
            if attr:
                obj = getattr(obj, attr)
        elif parts[0] in fn.__globals__:
            obj = fn.__globals__[parts[0]]
        else:
            return None
        for p in parts[1:]:
            obj = getattr(obj, p)
    except (ImportError, AttributeError, RuntimeError):  # RuntimeError: Flask's request proxy
        return None
    return obj

def executes(fn, seen, depth=0):
    """Why fn, or an MLflow function it calls (to a bounded depth), runs work on the server."""
    fn = inspect.unwrap(fn)
    if fn in seen or depth > 6 or not inspect.isfunction(fn):
        return None
    seen.add(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    local = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                local[a.asname or a.name] = (node.module, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                local[a.asname or a.name.split(".")[0]] = (a.name if a.asname else a.name.split(".")[0], None)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        obj = resolve(fn, node.func, local)
        if obj is None:
            continue
        mod = getattr(obj, "__module__", None) or getattr(obj, "__name__", "") or ""
        name = mod + "." + getattr(obj, "__name__", "")
        if any(mod == r or mod.startswith(r + ".") or name.startswith(r) for r in RUNNERS):
            return f"{fn.__module__}.{fn.__qualname__} calls {name}"
        if mod.startswith("mlflow."):
            why = executes(obj, seen, depth + 1)
            if why:
                return why
    return None

routes = {}
rules = list(flask_app.url_map.iter_rules())
rest = {r.rule for r in rules if r.rule.startswith("/api/")}
for r in rules:
    # A route under ajax-api/ whose api/ twin does not exist is the UI's alone. (MLflow's own typo
    # "/ajax-api/2.0mlflow/..." names no real path.)
    if r.rule.startswith("/ajax-api/") and "/api/" + r.rule[len("/ajax-api/"):] not in rest and "0mlflow/" not in r.rule:
        routes.setdefault(fill(r.rule), "registered under ajax-api/ alone")
    why = executes(flask_app.view_functions[r.endpoint], set())
    if why:
        routes[fill(r.rule)] = "executes on the server: " + why
for p in ["/graphql", "/get-artifact", "/model-versions/get-artifact", "/health"]:
    assert p in {r.rule for r in rules}, p
    routes.setdefault(p, "not under an API root")
for router in (assistant_router, job_api_router, gateway_router, otel_router):
    for route in router.routes:
        # The client's span export (TestEveryClientEndpointMaps); any other OTLP route or method is not.
        if router is otel_router and route.path == OTLP_TRACES_PATH and route.methods == {"POST"}:
            continue
        routes.setdefault(fill(route.path), "in " + router.routes[0].endpoint.__module__)
for included in fastapi_app.routes:
    for ctx in getattr(included, "effective_route_contexts", lambda: ())():
        why = executes(ctx.endpoint, set())
        if why:
            routes[fill(ctx.path)] = "executes on the server: " + why
assert routes, "no routes found"
print("\n".join(f"{p}\t{w}" for p, w in sorted(routes.items())))
`
