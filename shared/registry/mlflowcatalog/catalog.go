// Package mlflowcatalog is the one table of the MLflow operations the gateway passes: every route
// of the pinned MLflow (2.0 and 3.0 REST under api/ and ajax-api/, the web UI's ajax-api-only data
// routes, the artifacts service, OTLP, /version, and the web UI's page, static files and artifact
// views) mapped to MLflow's name for it, the access it needs, the resource it addresses and
// where the request carries that resource's id. Every other route MLflow has is in Refusals with
// the reason. The proxy's route admission and read/write classification are views of this table;
// per-resource authorization, registry events and the audit log key on Operation.Name.
//
// TestCatalogCoversTheInstalledMLflow reads the route table of the MLflow in the project
// virtualenv and fails on a route in neither list and on an entry MLflow no longer has, so an
// upgrade cannot open or misclassify a route silently.
package mlflowcatalog

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// Service is the MLflow service a route belongs to: the API root it is served under.
type Service int

// Services. The zero value names none.
const (
	// Tracking is api/<2.0|3.0>/mlflow/ (and its ajax-api/ twin): tracking, model registry,
	// logged models, traces, …
	Tracking Service = iota + 1
	// Artifacts is api/2.0/mlflow-artifacts/: MLflow's proxied artifact storage.
	Artifacts
	// OTLP is /v1/traces, MLflow's OpenTelemetry trace ingestion.
	OTLP
	// Version is /version, which the client calls to learn the server's release.
	Version
	// UI is MLflow's web app outside the API roots: its page (endpoint ""), its static files and
	// the artifact views it links to, each under the tracking-URI mounts and the bare host. Its
	// data calls are Tracking's, under ajax-api/.
	UI
)

func (s Service) String() string {
	switch s {
	case Tracking:
		return "tracking"
	case Artifacts:
		return "artifacts"
	case OTLP:
		return "otlp"
	case Version:
		return "version"
	case UI:
		return "ui"
	}
	return "none"
}

// Resource is the kind of thing an operation reads or changes.
type Resource int

// Resources. None is an operation on no resource of the registry's (the server's info, a webhook,
// a dataset, the AI gateway's configuration, …).
const (
	None Resource = iota
	Experiment
	Run
	LoggedModel
	RegisteredModel
	ModelVersion
	ArtifactPath
	Trace
)

func (r Resource) String() string {
	switch r {
	case Experiment:
		return "experiment"
	case Run:
		return "run"
	case LoggedModel:
		return "logged_model"
	case RegisteredModel:
		return "registered_model"
	case ModelVersion:
		return "model_version"
	case ArtifactPath:
		return "artifact_path"
	case Trace:
		return "trace"
	}
	return "none"
}

// In is where a request carries a field. MLflow reads a GET's fields from the query and every
// other method's from the JSON body, DELETE included (handlers.py _get_request_message); a path
// parameter is in the path.
type In int

// Locations.
const (
	Query In = iota + 1
	Body
	Path
)

func (i In) String() string {
	switch i {
	case Query:
		return "query"
	case Body:
		return "body"
	case Path:
		return "path"
	}
	return "none"
}

// IDField is one field of a request that identifies the operation's resource (or, for a create
// or a search, the resource it is made in or searches: experiment_id of runs/create).
type IDField struct {
	In    In
	Field string // the proto field name, or the path parameter's name in Endpoint
}

// Operation is one route of MLflow's: a method and endpoint under an API root.
type Operation struct {
	// Name is MLflow's RPC name, the protobuf service method the route serves, capitalised
	// ("SetRegisteredModelAlias"); for a route without one, its Python handler's name in
	// CamelCase ("GetServerInfo"), and for the gateway's own names "OTLPExportTraces" and
	// "GetServerVersion".
	Name    string
	Service Service
	// Method is the HTTP method. A GET operation serves HEAD too (Flask answers HEAD for GET).
	Method string
	// Endpoint is the pattern after the API root ("registered-models/alias",
	// "logged-models/{model_id}", "artifacts/{artifact_path:path}"): "{x}" is one non-empty
	// segment, a final "{x:path}" the non-empty rest, slashes and a trailing slash included
	// (matchPattern).
	Endpoint string
	// Versions are the API versions it is served under ("2.0", "3.0"); none for OTLP and
	// Version, which are not under a versioned root.
	Versions []string
	// UIOnly marks a route MLflow serves under ajax-api/ alone, for its web UI (metric charts,
	// artifact views, uploads): the gateway passes it there and nowhere else, as MLflow does.
	UIOnly bool
	// Access is the level it needs: principal.Read, Write or Admin.
	Access   principal.Level
	Resource Resource
	IDs      []IDField
	// Served is who answers it: MLflow, or the gateway itself (never forwarded).
	Served Server
	// Needs is the permission the caller must hold on the resource (its experiment or registered
	// model) for an operation on a resource of the registry's: MLflow's basic-auth app's level
	// for the same RPC (needs.go). NoPermissions for an operation on no such resource.
	Needs permissions.Level
	// Creates marks the creates of an experiment or a registered model, which check
	// permissions.Policy.CanCreate on the name instead of a level.
	Creates bool
}

// Lookup finds the operation for a request: service and API version (empty for OTLP and
// Version), the method, and the endpoint after the API root, percent-decoded as MLflow routes
// it. Endpoints are matched segment by segment, whole, never by prefix; where a literal and a
// parameter could both match a segment (traces/get and traces/{trace_id}), the literal wins, as
// in MLflow's routers.
func Lookup(service Service, version, method, endpoint string) (Operation, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	for _, e := range match(service, version, endpoint) {
		if e.op.Method == method {
			return e.op, true
		}
	}
	return Operation{}, false
}

// Methods are the HTTP methods the endpoint is served with (HEAD with GET), sorted; none when
// the catalog has no operation for it. A request with another method is answered 405 with these
// in Allow.
func Methods(service Service, version, endpoint string) []string {
	var out []string
	for _, e := range match(service, version, endpoint) {
		out = append(out, e.op.Method)
		if e.op.Method == http.MethodGet {
			out = append(out, http.MethodHead)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// UIOnly reports whether every operation of the endpoint is UIOnly: one MLflow serves under
// ajax-api/ alone, so its api/ spelling names no operation.
func UIOnly(service Service, version, endpoint string) bool {
	found := match(service, version, endpoint)
	for _, e := range found {
		if !e.op.UIOnly {
			return false
		}
	}
	return len(found) > 0
}

// Operations returns a copy of the whole catalog.
func Operations() []Operation {
	out := make([]Operation, len(entries))
	for i, e := range entries {
		out[i] = e.op
		out[i].Versions = slices.Clone(e.op.Versions)
		out[i].IDs = slices.Clone(e.op.IDs)
	}
	return out
}

// entry is an operation with its endpoint split for matching.
type entry struct {
	op       Operation
	pattern  []string
	literals int
}

var entries = func() []entry {
	all := slices.Concat(withNeeds(operations), gatewayOperations)
	out := make([]entry, len(all))
	for i, op := range all {
		p := strings.Split(op.Endpoint, "/")
		n := 0
		for _, s := range p {
			if !isParam(s) {
				n++
			}
		}
		out[i] = entry{op: op, pattern: p, literals: n}
	}
	return out
}()

// match returns the entries whose endpoint pattern matches, those with the most literal segments
// first: only they are returned, so a parameter never shadows a literal route.
func match(service Service, version, endpoint string) []entry {
	segs := strings.Split(endpoint, "/")
	var out []entry
	best := -1
	for _, e := range entries {
		if e.op.Service != service || !versionOK(e.op, version) || !matchPattern(e.pattern, segs) {
			continue
		}
		switch {
		case e.literals > best:
			out, best = append(out[:0], e), e.literals
		case e.literals == best:
			out = append(out, e)
		}
	}
	return out
}

func versionOK(op Operation, version string) bool {
	if len(op.Versions) == 0 {
		return version == ""
	}
	return slices.Contains(op.Versions, version)
}

func isParam(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }

// matchPattern matches decoded segments against a pattern: a literal matches itself, "{x}" one
// non-empty segment, a final "{x:path}" a non-empty first segment and everything after it. A
// "{x:path}" before the end (the MCP-server routes' names) matches one segment: the client
// encodes a "/" in those names, and the gateway refuses an encoded separator.
func matchPattern(pattern, segs []string) bool {
	for i, p := range pattern {
		if i >= len(segs) {
			return false
		}
		switch {
		case isParam(p) && strings.HasSuffix(p, ":path}") && i == len(pattern)-1:
			return segs[i] != ""
		case isParam(p):
			if segs[i] == "" {
				return false
			}
		case p != segs[i]:
			return false
		}
	}
	return len(segs) == len(pattern)
}

// Shorthands for the table.
func v(versions ...string) []string { return versions }
func ids(f ...IDField) []IDField    { return f }
func q(field string) IDField        { return IDField{In: Query, Field: field} }
func b(field string) IDField        { return IDField{In: Body, Field: field} }
func p(field string) IDField        { return IDField{In: Path, Field: field} }
