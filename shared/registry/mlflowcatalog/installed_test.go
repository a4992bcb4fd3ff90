package mlflowcatalog_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// mlflowRoute is one route of the installed MLflow's: a path pattern in the catalog's notation
// ("{x}", "{x:path}"), a method, MLflow's name for it, and the app that has it: "server" (what
// `mlflow server` runs) or "basic-auth" (what mlflow.server.auth adds to it).
type mlflowRoute struct {
	Path   string `json:"path"`
	Method string `json:"method"`
	Name   string `json:"name"`
	App    string `json:"app"`
}

// installedRoutes asks the MLflow in the project virtualenv for its route table: the Flask
// app's url_map and every route of the FastAPI app `mlflow server` runs (which mounts Flask),
// each method but HEAD and OPTIONS (which both frameworks add themselves), named by the protobuf
// method the route serves or else its handler; then the routes the basic-auth app adds.
func installedRoutes(t *testing.T) []mlflowRoute {
	t.Helper()
	routes := runRouteTable(t, routeTable)
	if len(routes) < 300 {
		t.Fatalf("only %d routes read from MLflow: %v", len(routes), routes)
	}
	auth := runRouteTable(t, authRouteTable)
	if len(auth) < 20 {
		t.Fatalf("only %d routes read from MLflow's basic-auth app: %v", len(auth), auth)
	}
	return append(routes, auth...)
}

func runRouteTable(t *testing.T, script string) []mlflowRoute {
	t.Helper()
	cmd := exec.Command(testenv.Python(t), "-W", "ignore", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading MLflow's route table: %v\n%s", err, stderr.Bytes())
	}
	var routes []mlflowRoute
	if err := json.Unmarshal(out, &routes); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return routes
}

const routeTable = `
import json, re
from mlflow.server import app as flask_app, handlers
from mlflow.server.fastapi_app import app as fastapi_app
from mlflow.protos import databricks_pb2
from mlflow.protos.service_pb2 import MlflowService
from mlflow.protos.model_registry_pb2 import ModelRegistryService
from mlflow.protos.mlflow_artifacts_pb2 import MlflowArtifactsService
from mlflow.protos.webhooks_pb2 import WebhookService

def camel(n):
    return "".join(p[:1].upper() + p[1:] for p in n.strip("_").split("_"))

def norm(p):
    p = re.sub(r"<path:(\w+)>", r"{\1:path}", p)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", p)

# The RPC each proto route serves, registered the way handlers.get_endpoints registers it.
rpc = {}
for svc in (MlflowService, ModelRegistryService, MlflowArtifactsService, WebhookService):
    for m in svc.DESCRIPTOR.methods:
        for ep in m.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
            for p in handlers._get_paths(ep.path, version=ep.since.major):
                rpc[(norm(p), ep.method)] = m.name[:1].upper() + m.name[1:]

routes = []
def add(path, methods, fn):
    for m in sorted(set(methods or ()) - {"HEAD", "OPTIONS"}):
        p = norm(path)
        routes.append({"path": p, "method": m, "name": rpc.get((p, m), camel(fn.__name__)), "app": "server"})
for r in flask_app.url_map.iter_rules():
    add(r.rule, r.methods, flask_app.view_functions[r.endpoint])
for included in fastapi_app.routes:
    for ctx in getattr(included, "effective_route_contexts", lambda: ())():
        add(ctx.path, ctx.methods, ctx.endpoint)
print(json.dumps(routes))
`

// authRouteTable is the route table of MLflow's basic-auth app: the routes its create_app adds,
// read off a bare Flask app with the app's store left unopened (only the routes are wanted).
const authRouteTable = `
import json, os, re
os.environ["MLFLOW_FLASK_SERVER_SECRET_KEY"] = "route-table-only"
os.environ.pop("_MLFLOW_SGI_NAME", None)
from flask import Flask
import mlflow.server.auth as auth

def camel(n):
    return "".join(p[:1].upper() + p[1:] for p in n.strip("_").split("_"))

def norm(p):
    p = re.sub(r"<path:(\w+)>", r"{\1:path}", p)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", p)

auth._init_store_for_app = lambda: None
app = Flask("basic-auth-routes", static_folder=None)
auth.create_app(app)
routes = []
for r in app.url_map.iter_rules():
    fn = app.view_functions[r.endpoint]
    for m in sorted(set(r.methods or ()) - {"HEAD", "OPTIONS"}):
        routes.append({"path": norm(r.rule), "method": m, "name": camel(fn.__name__), "app": "basic-auth"})
print(json.dumps(routes))
`

// legacy2 are gateway-served operations of MLflow 2's basic-auth app, which MLflow 3.17's no longer
// has: they must not be routes of the installed MLflow (when they come back, they are checked).
var legacy2 = map[string]bool{
	"CreateExperimentPermission": true, "GetExperimentPermission": true, "UpdateExperimentPermission": true, "DeleteExperimentPermission": true,
	"CreateRegisteredModelPermission": true, "GetRegisteredModelPermission": true, "UpdateRegisteredModelPermission": true, "DeleteRegisteredModelPermission": true,
}

// apiRoot splits a path under one of MLflow's versioned API roots.
var apiRoot = regexp.MustCompile(`^/(api|ajax-api)/(2\.0|3\.0)/(mlflow|mlflow-artifacts)/(.+)$`)

// key names a route the way the catalog does.
type key struct {
	service         mlflowcatalog.Service
	version, method string
	endpoint        string
}

// gatewayNames are the catalog's names for routes MLflow names after a handler.
var gatewayNames = map[string]string{"v1/traces": "OTLPExportTraces", "version": "GetServerVersion", "": "GetUIPage"}

// uiPaths are the web UI's routes outside the API roots the catalog serves (Service UI), by
// MLflow's rule; "/" is the page, endpoint "".
var uiPaths = map[string]string{
	"/static-files/{path:path}":    "static-files/{path:path}",
	"/get-artifact":                "get-artifact",
	"/model-versions/get-artifact": "model-versions/get-artifact",
	"/graphql":                     "graphql",
}

// TestCatalogCoversTheInstalledMLflow fails naming each route of the installed MLflow that is
// neither in the catalog nor refused, each catalog entry MLflow no longer has (or serves under
// another name, or under ajax-api/ alone), and each refusal that matches no route of MLflow's.
func TestCatalogCoversTheInstalledMLflow(t *testing.T) {
	routes := installedRoutes(t)
	type served struct {
		name  string
		app   string
		roots map[string]bool
	}
	mlflow := map[key]*served{}
	var outside []mlflowRoute
	for _, r := range routes {
		var k key
		root := ""
		switch m := apiRoot.FindStringSubmatch(r.Path); {
		case m != nil:
			root = m[1]
			k = key{mlflowcatalog.Tracking, m[2], r.Method, m[4]}
			if m[3] == "mlflow-artifacts" {
				k.service = mlflowcatalog.Artifacts
			}
		case r.Path == "/v1/traces":
			k = key{service: mlflowcatalog.OTLP, method: r.Method, endpoint: "v1/traces"}
		case r.Path == "/version":
			k = key{service: mlflowcatalog.Version, method: r.Method, endpoint: "version"}
		case uiPaths[r.Path] != "" || r.Path == "/":
			k = key{service: mlflowcatalog.UI, method: r.Method, endpoint: uiPaths[r.Path]}
		default:
			outside = append(outside, r)
			continue
		}
		s := mlflow[k]
		if s == nil {
			s = &served{name: r.Name, app: r.App, roots: map[string]bool{}}
			mlflow[k] = s
		}
		s.roots[root] = true
	}

	catalog := map[key]mlflowcatalog.Operation{}
	for _, op := range mlflowcatalog.Operations() {
		versions := op.Versions
		if len(versions) == 0 {
			versions = []string{""}
		}
		for _, v := range versions {
			k := key{op.Service, v, op.Method, op.Endpoint}
			if _, dup := catalog[k]; dup {
				t.Errorf("%v %s %s %s is in the catalog twice", op.Service, v, op.Method, op.Endpoint)
			}
			catalog[k] = op
			if r, ok := mlflowcatalog.Refused(op.Service, fill(op.Endpoint)); ok {
				t.Errorf("catalog entry %s is refused too (%s: %s)", op.Name, r.Pattern, r.Why)
			}
			s, ok := mlflow[k]
			switch {
			case legacy2[op.Name]:
				if ok {
					t.Errorf("catalog entry %s is MLflow 2's, but the installed MLflow has %s %s (%s, %s app): drop it from legacy2", op.Name, op.Method, op.Endpoint, s.name, s.app)
				}
				if op.Served != mlflowcatalog.Gateway {
					t.Errorf("catalog entry %s is the basic-auth app's but not gateway-served", op.Name)
				}
			case ok && s.app == "basic-auth" && op.Served != mlflowcatalog.Gateway:
				t.Errorf("catalog entry %s is a route of MLflow's basic-auth app, which the gateway serves itself: mark it Served: Gateway", op.Name)
			case ok && s.app != "basic-auth" && op.Served == mlflowcatalog.Gateway:
				t.Errorf("catalog entry %s is served by the gateway, but it is a route of MLflow's %s app, not the basic-auth app's", op.Name, s.app)
			case !ok:
				t.Errorf("catalog entry %s (%s %s %s under %q) is not a route of the installed MLflow", op.Name, op.Service, op.Method, op.Endpoint, v)
			case op.Service <= mlflowcatalog.Artifacts && !op.UIOnly && !(s.roots["api"] && s.roots["ajax-api"]):
				t.Errorf("catalog entry %s: MLflow serves %s %s under %v only", op.Name, op.Method, op.Endpoint, s.roots)
			case op.UIOnly && (s.roots["api"] || !s.roots["ajax-api"] || !mlflowcatalog.UIOnly(op.Service, v, fill(op.Endpoint))):
				t.Errorf("catalog entry %s is UIOnly: MLflow serves %s %s under %v", op.Name, op.Method, op.Endpoint, keys(s.roots))
			case op.Name != s.name && op.Name != gatewayNames[op.Endpoint]:
				t.Errorf("catalog entry %s: MLflow names %s %s %s %s", op.Name, op.Method, op.Endpoint, v, s.name)
			}
		}
	}

	used := map[string]bool{}
	refused := func(service mlflowcatalog.Service, method, endpoint string) bool {
		r, ok := mlflowcatalog.RefusedMethod(service, method, fill(endpoint))
		used[r.Service.String()+" "+r.Pattern] = used[r.Service.String()+" "+r.Pattern] || ok
		return ok
	}
	for k, s := range mlflow {
		if _, ok := catalog[k]; ok {
			continue
		}
		if !refused(k.service, k.method, k.endpoint) {
			t.Errorf("MLflow route %s %s (%s %s, MLflow's %s, under %v) is neither in the catalog nor refused",
				k.method, k.endpoint, k.service, k.version, s.name, keys(s.roots))
		}
	}
	for _, r := range outside {
		if !refused(0, r.Method, strings.TrimPrefix(r.Path, "/")) {
			t.Errorf("MLflow route %s %s (%s) is neither in the catalog nor refused", r.Method, r.Path, r.Name)
		}
	}
	for _, r := range mlflowcatalog.Refusals() {
		if !used[r.Service.String()+" "+r.Pattern] {
			t.Errorf("refusal %q (%s: %s) matches no route of the installed MLflow", r.Pattern, r.Service, r.Why)
		}
	}
	t.Logf("%d MLflow routes: %d operations in the catalog, the rest refused", len(routes), len(catalog))
}

// fill puts a value in each path parameter, as a client would.
func fill(pattern string) string {
	return regexp.MustCompile(`{[^}]*}`).ReplaceAllString(pattern, "x")
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
