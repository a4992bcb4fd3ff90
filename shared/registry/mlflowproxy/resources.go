package mlflowproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// The resource a call addresses. The catalog says where each operation carries its ids; the
// proxy reads them there as MLflow does (a GET's from the query, first value; every other
// method's from the JSON body, proto or JSON field name, through package changes; a path
// parameter from the path), and resolves the ones that are not an experiment or a registered
// model to theirs: a run, a logged model and a trace to their experiment (asking MLflow once and
// caching the answer for the container's life: the mapping never changes), an experiment name to
// its id (asked each time: experiments are renamed), an mlflow-artifacts path to the experiment
// whose folder it is (its first segment, as MLflow's basic-auth reads it).

// ErrNoResource is a request that names none of its operation's resources: a search, or a call
// MLflow will refuse for its missing id.
var ErrNoResource = errors.New("the request names no resource")

// errUnresolved is an id MLflow does not know (or refuses): the call goes on and MLflow gives the
// client its own answer for it.
var errUnresolved = errors.New("MLflow does not know the id")

// maxListedIDs bounds how many ids of a list field (trace_ids, experiment_ids) one call may have
// checked, so one request cannot make the proxy resolve without end.
const maxListedIDs = 100

// maxEnforcedBody bounds the JSON body read to find a call's ids (API Gateway's own payload limit).
const maxEnforcedBody = 10 << 20

// idKind is what an id field names.
type idKind int

const (
	idExperiment idKind = iota + 1
	idExperimentName
	idRun
	idLoggedModel
	idTrace
	idModelName
	idArtifactPath
)

// idFields are the catalog's id fields that lead to a permission's resource; any other field
// (path, version, alias, assessment_id) names something within it.
var idFields = map[string]idKind{
	"experiment_id":   idExperiment,
	"experiment_ids":  idExperiment,
	"experiment_name": idExperimentName,
	"run_id":          idRun,
	"run_uuid":        idRun,
	"model_id":        idLoggedModel,
	"trace_id":        idTrace,
	"trace_ids":       idTrace,
	"request_id":      idTrace,
	"request_ids":     idTrace,
	"artifact_path":   idArtifactPath,
}

// named is an id as the request names it.
type named struct {
	kind idKind
	id   string
}

// requestIDs finds the ids the call names: the first single id the catalog lists that the request
// carries (MLflow's run_id before run_uuid), else every id of the first list field it carries.
// For an operation on registered models or versions, "name" is the model's. body is the request's
// JSON body when the operation reads one.
func requestIDs(op mlflowcatalog.Operation, r *http.Request, endpoint string, body []byte) ([]named, error) {
	var fields *changes.Fields
	var query url.Values
	var listed []named // the first list field's ids, for when no single id is sent
	for _, f := range op.IDs {
		kind, ok := idFields[f.Field]
		switch {
		case f.Field == "name" && (op.Resource == mlflowcatalog.RegisteredModel || op.Resource == mlflowcatalog.ModelVersion):
			kind, ok = idModelName, true
		case f.Field == "name" && op.Resource == mlflowcatalog.Experiment:
			kind, ok = idExperimentName, true // experiments/create: the name it will have
		case f.Field == "path" && op.Service == mlflowcatalog.Artifacts:
			kind, ok = idArtifactPath, true
		}
		if !ok {
			continue
		}
		list := strings.HasSuffix(f.Field, "_ids")
		var values []string
		switch f.In {
		case mlflowcatalog.Query:
			if query == nil {
				q, err := url.ParseQuery(r.URL.RawQuery)
				if err != nil {
					return nil, fmt.Errorf("query: %w", err)
				}
				query = q
			}
			// Every value of a repeated parameter, whichever MLflow reads: get-history-bulk
			// reads them all under a singular name (run_id=…&run_id=…), others the first.
			for _, v := range query[f.Field] {
				if v != "" {
					values = append(values, v)
				}
			}
		case mlflowcatalog.Body:
			if fields == nil {
				fd, err := changes.ReadFields(body)
				if err != nil {
					return nil, err
				}
				fields = &fd
			}
			var err error
			if list {
				values, err = fields.Strings(f.Field)
			} else if v, e := fields.String(f.Field); v != "" || e != nil {
				values, err = []string{v}, e
			}
			if err != nil {
				return nil, err
			}
		case mlflowcatalog.Path:
			if v := pathParam(op.Endpoint, endpoint, f.Field); v != "" {
				values = []string{v}
			}
		}
		if len(values) == 0 {
			continue
		}
		if len(values) > maxListedIDs {
			return nil, fmt.Errorf("%s lists %d ids; at most %d are accepted", f.Field, len(values), maxListedIDs)
		}
		out := make([]named, len(values))
		for i, v := range values {
			out[i] = named{kind, v}
		}
		if !list {
			return out, nil
		}
		if listed == nil {
			listed = out
		}
	}
	if listed != nil {
		return listed, nil
	}
	return nil, ErrNoResource
}

// pathParam is the value of the endpoint pattern's parameter in endpoint, the decoded endpoint the
// catalog matched (Route.Endpoint): "{x}" is that segment, a final "{x:path}" the rest.
func pathParam(pattern, endpoint, name string) string {
	pat := strings.Split(pattern, "/")
	segs := strings.Split(endpoint, "/")
	for i, p := range pat {
		switch {
		case i >= len(segs):
			return ""
		case p == "{"+name+":path}" && i == len(pat)-1:
			return strings.Join(segs[i:], "/")
		case p == "{"+name+"}" || p == "{"+name+":path}":
			return segs[i]
		}
	}
	return ""
}

// Lookups is what the resolver asks MLflow; *mlflow.Client satisfies it.
type Lookups interface {
	GetRun(ctx context.Context, runID string) (*mlflow.Run, error)
	GetLoggedModel(ctx context.Context, modelID string) (*mlflow.LoggedModel, error)
	GetTraceInfo(ctx context.Context, traceID string) (*mlflow.TraceInfo, error)
	GetExperimentByName(ctx context.Context, name string) (*mlflow.Experiment, error)
	// FindRegisteredModel is the registered model MLflow holds that the registry takes for name
	// (equal under permissions.FoldName), "" when none.
	FindRegisteredModel(ctx context.Context, name string) (string, error)
}

// resolverCacheSize bounds each immutable mapping's cache; past it the cache starts over, which
// costs one MLflow read per id again and nothing else.
const resolverCacheSize = 10000

// resolver maps ids to the experiment or registered model whose permissions govern them.
type resolver struct {
	mlflow Lookups
	mu     sync.Mutex
	cache  map[named]string // run, logged model, trace → experiment id
}

func newResolver(m Lookups) *resolver { return &resolver{mlflow: m, cache: map[named]string{}} }

// resource is the permission's resource an id leads to.
func (rv *resolver) resource(ctx context.Context, n named) (permissions.Resource, error) {
	exp := func(id string) permissions.Resource {
		return permissions.Resource{Kind: permissions.Experiment, ID: id}
	}
	switch n.kind {
	case idExperiment:
		return exp(n.id), nil
	case idModelName:
		return permissions.Resource{Kind: permissions.RegisteredModel, ID: n.id}, nil
	case idArtifactPath:
		first, _, _ := strings.Cut(strings.TrimPrefix(n.id, "/"), "/")
		return exp(first), nil
	case idExperimentName:
		e, err := rv.mlflow.GetExperimentByName(ctx, n.id)
		if err != nil {
			return permissions.Resource{}, lookupError(err)
		}
		return exp(e.ExperimentID), nil
	}
	rv.mu.Lock()
	id, ok := rv.cache[n]
	rv.mu.Unlock()
	if ok {
		return exp(id), nil
	}
	var err error
	switch n.kind {
	case idRun:
		var run *mlflow.Run
		if run, err = rv.mlflow.GetRun(ctx, n.id); err == nil {
			id = run.Info.ExperimentID
		}
	case idLoggedModel:
		var m *mlflow.LoggedModel
		if m, err = rv.mlflow.GetLoggedModel(ctx, n.id); err == nil {
			id = m.Info.ExperimentID
		}
	case idTrace:
		var t *mlflow.TraceInfo
		if t, err = rv.mlflow.GetTraceInfo(ctx, n.id); err == nil {
			id = t.ExperimentID
		}
	default:
		return permissions.Resource{}, fmt.Errorf("id kind %d", n.kind)
	}
	if err != nil {
		return permissions.Resource{}, lookupError(err)
	}
	if id == "" {
		return permissions.Resource{}, fmt.Errorf("MLflow named no experiment for %q", n.id)
	}
	rv.mu.Lock()
	if len(rv.cache) >= resolverCacheSize {
		clear(rv.cache)
	}
	rv.cache[n] = id
	rv.mu.Unlock()
	return exp(id), nil
}

// lookupError: MLflow's 4xx answer to a lookup is its answer to the call too (the id does not
// exist, or is malformed), so the call goes on to get it; anything else is a failure.
func lookupError(err error) error {
	var ae *mlflow.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		return fmt.Errorf("%w: %w", errUnresolved, err)
	}
	return err
}

// readBody buffers a JSON request body (bounded) and gives r a body that replays it.
func readBody(r *http.Request, limit int) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, newError(http.StatusBadRequest, "BAD_REQUEST", "The request body could not be read").withCause(err)
	}
	if len(body) > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", fmt.Sprintf("The request body may be at most %d bytes", limit))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, nil
}
