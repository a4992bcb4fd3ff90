package registration_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore/regstoretest"
)

// Callers used across the tests.
var (
	writer = principal.Principal{UserID: "u-write", KeyID: "k-write", Scopes: []string{"model:write"}}
	other  = principal.Principal{UserID: "u-other", KeyID: "k-other", Scopes: []string{"model:write"}}
	reader = principal.Principal{UserID: "u-read", KeyID: "k-read", Scopes: []string{"model:read"}}
	admin  = principal.Principal{UserID: "u-admin", KeyID: "k-admin", Scopes: []string{"admin"}}
)

// dynamoDB is a client of the package's moto server.
func dynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(testenv.AWS(t))
}

// realMLflow is the URL of the package's MLflow server.
func realMLflow(t testing.TB) string {
	t.Helper()
	return testenv.MLflow(t).URL
}

func TestMain(m *testing.M) { testenv.Main(m) }

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fault is what the fake MLflow does to calls of one endpoint instead of answering them.
type fault struct {
	status int
	code   string
	delay  time.Duration
	drop   bool // close the connection without an answer
}

// fakeMLflow is an in-memory stand-in for the MLflow REST API calls the registry makes, with
// faults per endpoint and a count of calls per "METHOD /path" (as the e2e fault proxy counts).
type fakeMLflow struct {
	*httptest.Server
	mu       sync.Mutex
	runs     map[string]*fakeRun
	models   map[string]bool
	versions map[string][]mlflow.ModelVersion
	faults   map[string]fault
	calls    map[string]int
	// afterCreate, if set, runs after a version is created and before the answer is sent.
	afterCreate func()
	// late, if set, holds the next create before MLflow commits it, as a slow MLflow does; the
	// create is committed when late.release is closed, even if its client has given up by then
	// (MLflow finishes a request whose client left).
	late *lateCreate
}

// lateCreate is one create held before its commit: arrived is closed when it reaches MLflow,
// landed once it is committed.
type lateCreate struct {
	arrived, release, landed chan struct{}
}

// holdNextCreate makes the next model-versions/create commit only when the returned hold is
// released.
func (f *fakeMLflow) holdNextCreate() *lateCreate {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.late = &lateCreate{arrived: make(chan struct{}), release: make(chan struct{}), landed: make(chan struct{})}
	return f.late
}

type fakeRun struct {
	info    mlflow.RunInfo
	logged  []mlflow.LoggedModelInfo
	steps   map[string]int
	mlmodel bool // an MLflow 2 style model among the run's artifacts at "model"
	tags    map[string]string
}

func newFakeMLflow(t testing.TB) *fakeMLflow {
	f := &fakeMLflow{runs: map[string]*fakeRun{}, models: map[string]bool{}, versions: map[string][]mlflow.ModelVersion{},
		faults: map[string]fault{}, calls: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// addRun adds a run with one logged model named "model" per id (at increasing steps).
func (f *fakeMLflow) addRun(runID string, modelIDs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &fakeRun{info: mlflow.RunInfo{RunID: runID, ExperimentID: "1", ArtifactURI: "mlflow-artifacts:/1/" + runID + "/artifacts", LifecycleStage: "active"},
		steps: map[string]int{}, tags: map[string]string{}}
	for i, id := range modelIDs {
		r.logged = append(r.logged, mlflow.LoggedModelInfo{ModelID: id, ExperimentID: "1", Name: "model", SourceRunID: runID})
		r.steps[id] = i
	}
	f.runs[runID] = r
}

func (f *fakeMLflow) setAfterCreate(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterCreate = fn
}

func (f *fakeMLflow) setFault(endpoint string, ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[endpoint] = ft
}

func (f *fakeMLflow) callCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.calls {
		out[k] = v
	}
	return out
}

func (f *fakeMLflow) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.calls)
}

func (f *fakeMLflow) allVersions() []mlflow.ModelVersion {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []mlflow.ModelVersion
	for _, vs := range f.versions {
		out = append(out, vs...)
	}
	return out
}

func (f *fakeMLflow) runTags(runID string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[runID].tags
}

func mlflowError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": msg})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

var (
	loggedFilter  = regexp.MustCompile(`^name = '([^']*)' AND source_run_id = '([^']*)'$`)
	versionFilter = regexp.MustCompile(`^tags\.(\w+) = '([^']*)'$`)
	modelsFilter  = regexp.MustCompile(`^name ILIKE '([^']*)'$`)
)

func (f *fakeMLflow) serve(w http.ResponseWriter, r *http.Request) {
	endpoint := strings.TrimPrefix(r.URL.Path, "/api/2.0/mlflow/")
	f.mu.Lock()
	f.calls[r.Method+" "+r.URL.Path]++
	ft, faulted := f.faults[endpoint]
	f.mu.Unlock()
	if faulted {
		if ft.delay > 0 {
			select {
			case <-time.After(ft.delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case ft.drop:
			conn, _, _ := http.NewResponseController(w).Hijack()
			_ = conn.Close()
			return
		case ft.status != 0:
			if ft.code == "" {
				w.WriteHeader(ft.status)
				_, _ = w.Write([]byte("<html>oops</html>"))
				return
			}
			mlflowError(w, ft.status, ft.code, "injected upstream text that must never reach a client")
			return
		}
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		mlflowError(w, 400, "INVALID_PARAMETER_VALUE", "Content-Type must be application/json")
		return
	}
	var in map[string]any
	if r.Method == http.MethodPost {
		_ = json.NewDecoder(r.Body).Decode(&in)
	}
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == "GET" && endpoint == "runs/get":
		run, ok := f.runs[q.Get("run_id")]
		if !ok {
			mlflowError(w, 404, "RESOURCE_DOES_NOT_EXIST", "Run not found")
			return
		}
		var outs []map[string]any
		for _, m := range run.logged {
			outs = append(outs, map[string]any{"model_id": m.ModelID, "step": run.steps[m.ModelID]})
		}
		reply(w, map[string]any{"run": map[string]any{"info": run.info, "outputs": map[string]any{"model_outputs": outs}}})
	case r.Method == "POST" && endpoint == "logged-models/search":
		m := loggedFilter.FindStringSubmatch(fmt.Sprint(in["filter"]))
		if m == nil {
			mlflowError(w, 400, "INVALID_PARAMETER_VALUE", "bad filter")
			return
		}
		var models []map[string]any
		if run, ok := f.runs[m[2]]; ok {
			for _, lm := range run.logged {
				if lm.Name == m[1] {
					models = append(models, map[string]any{"info": lm})
				}
			}
		}
		reply(w, map[string]any{"models": models})
	case r.Method == "GET" && strings.HasPrefix(endpoint, "logged-models/"):
		id := strings.TrimPrefix(endpoint, "logged-models/")
		for _, run := range f.runs {
			for _, lm := range run.logged {
				if lm.ModelID == id {
					reply(w, map[string]any{"model": map[string]any{"info": lm}})
					return
				}
			}
		}
		mlflowError(w, 404, "RESOURCE_DOES_NOT_EXIST", "no logged model")
	case r.Method == "GET" && endpoint == "artifacts/list":
		var files []map[string]any
		if run, ok := f.runs[q.Get("run_id")]; ok && run.mlmodel && q.Get("path") == "model" {
			files = append(files, map[string]any{"path": "model/MLmodel", "is_dir": false})
		}
		reply(w, map[string]any{"files": files})
	case r.Method == "POST" && endpoint == "runs/log-batch":
		run, ok := f.runs[fmt.Sprint(in["run_id"])]
		if !ok {
			mlflowError(w, 404, "RESOURCE_DOES_NOT_EXIST", "Run not found")
			return
		}
		for _, t := range in["tags"].([]any) {
			tag := t.(map[string]any)
			run.tags[tag["key"].(string)] = tag["value"].(string)
		}
		reply(w, map[string]any{})
	case r.Method == "POST" && endpoint == "registered-models/create":
		name := fmt.Sprint(in["name"])
		if f.models[name] {
			mlflowError(w, 400, "RESOURCE_ALREADY_EXISTS", "exists")
			return
		}
		f.models[name] = true
		reply(w, map[string]any{"registered_model": map[string]any{"name": name}})
	case r.Method == "GET" && endpoint == "registered-models/search":
		m := modelsFilter.FindStringSubmatch(q.Get("filter"))
		if m == nil {
			mlflowError(w, 400, "INVALID_PARAMETER_VALUE", "bad filter")
			return
		}
		like := regexp.MustCompile("(?i)^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(m[1]), "_", "."), "%", ".*") + "$")
		var found []map[string]any
		for name := range f.models {
			if like.MatchString(name) {
				found = append(found, map[string]any{"name": name})
			}
		}
		reply(w, map[string]any{"registered_models": found})
	case r.Method == "POST" && endpoint == "model-versions/create":
		if late := f.late; late != nil {
			f.late = nil
			f.mu.Unlock()
			close(late.arrived)
			<-late.release
			f.mu.Lock()
			defer close(late.landed) // runs once the version is stored
		}
		name := fmt.Sprint(in["name"])
		if !f.models[name] {
			mlflowError(w, 404, "RESOURCE_DOES_NOT_EXIST", "no registered model")
			return
		}
		mv := mlflow.ModelVersion{Name: name, Version: strconv.Itoa(len(f.versions[name]) + 1), Source: fmt.Sprint(in["source"]),
			RunID: str(in["run_id"]), ModelID: str(in["model_id"]), Description: str(in["description"]), Status: "READY",
			CreationTimestamp: mlflow.Int64(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC).UnixMilli())}
		if tags, ok := in["tags"].([]any); ok {
			for _, t := range tags {
				tag := t.(map[string]any)
				mv.Tags = append(mv.Tags, mlflow.Tag{Key: tag["key"].(string), Value: tag["value"].(string)})
			}
		}
		f.versions[name] = append(f.versions[name], mv)
		if after := f.afterCreate; after != nil {
			f.mu.Unlock()
			after()
			f.mu.Lock()
		}
		reply(w, map[string]any{"model_version": mv})
	case r.Method == "GET" && endpoint == "model-versions/get":
		for _, mv := range f.versions[q.Get("name")] {
			if mv.Version == q.Get("version") {
				reply(w, map[string]any{"model_version": mv})
				return
			}
		}
		mlflowError(w, 404, "RESOURCE_DOES_NOT_EXIST", "no version")
	case r.Method == "GET" && endpoint == "model-versions/search":
		m := versionFilter.FindStringSubmatch(q.Get("filter"))
		if m == nil {
			mlflowError(w, 400, "INVALID_PARAMETER_VALUE", "bad filter")
			return
		}
		var found []mlflow.ModelVersion
		for _, vs := range f.versions {
			for _, mv := range vs {
				if slices.Contains(mv.Tags, mlflow.Tag{Key: m[1], Value: m[2]}) {
					found = append(found, mv)
				}
			}
		}
		reply(w, map[string]any{"model_versions": found})
	case r.Method == "POST" && endpoint == "model-versions/set-tag":
		vs := f.versions[fmt.Sprint(in["name"])]
		for i := range vs {
			if vs[i].Version == fmt.Sprint(in["version"]) {
				vs[i].Tags = append(vs[i].Tags, mlflow.Tag{Key: fmt.Sprint(in["key"]), Value: fmt.Sprint(in["value"])})
				reply(w, map[string]any{})
				return
			}
		}
		mlflowError(w, 404, "RESOURCE_DOES_NOT_EXIST", "no version")
	default:
		w.WriteHeader(404)
		_, _ = w.Write([]byte("<html>not found</html>"))
	}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// fakePublisher records what it is asked to publish and fails as told.
type fakePublisher struct {
	mu    sync.Mutex
	sent  []regstore.Event
	fail  error
	allow func(regstore.Event) bool // nil: all go out
}

func (p *fakePublisher) Publish(_ context.Context, evs []regstore.Event) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for _, e := range evs {
		if p.fail == nil && (p.allow == nil || p.allow(e)) {
			p.sent = append(p.sent, e)
			ids = append(ids, e.EventID)
		}
	}
	if len(ids) < len(evs) && p.fail == nil {
		return ids, fmt.Errorf("%d events refused", len(evs)-len(ids))
	}
	return ids, p.fail
}

func (p *fakePublisher) published() []regstore.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

// env is a handler over a fake or real MLflow and a fresh table in moto.
type env struct {
	h     *registration.Handler
	ml    *fakeMLflow // nil over a real MLflow
	store *regstore.Store
	pub   *fakePublisher
}

type envOption func(*registration.Deps)

func withPublisher(p *fakePublisher) envOption {
	return func(d *registration.Deps) { d.Publisher = p }
}

func withStore(s registration.Store) envOption { return func(d *registration.Deps) { d.Store = s } }

func withTimeout(d time.Duration) envOption {
	return func(deps *registration.Deps) { deps.MLflowTimeout = d }
}

// newEnv builds the handler over mlflowURL ("" for a fresh fake MLflow).
func newEnv(t testing.TB, mlflowURL string, opts ...envOption) *env {
	t.Helper()
	e := &env{store: regstoretest.NewStore(t, dynamoDB(t))}
	if mlflowURL == "" {
		e.ml = newFakeMLflow(t)
		mlflowURL = e.ml.URL
	}
	deps := registration.Deps{Store: e.store, MLflowTimeout: 5 * time.Second, AdminEmails: []string{"boss@example.com"}}
	for _, o := range opts {
		o(&deps)
	}
	u, _ := url.Parse(mlflowURL)
	deps.MLflow = mlflow.New(u, deps.MLflowTimeout, nil)
	if p, ok := deps.Publisher.(*fakePublisher); ok {
		e.pub = p
	}
	e.h = registration.New(deps)
	return e
}

// call sends a request through the handler as API Gateway would (within ctx, for a deadline).
func (e *env) call(t testing.TB, ctx context.Context, method, path string, body []byte, p principal.Principal, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	ev := events.APIGatewayProxyRequest{
		HTTPMethod: method, Path: path, MultiValueHeaders: hdr,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1", Authorizer: p.Context()},
	}
	if len(body) > 0 {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	r, err := apigw.NewRequest(ctx, ev, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

func (e *env) register(t testing.TB, body []byte, p principal.Principal, key string) *httptest.ResponseRecorder {
	t.Helper()
	var hdr http.Header
	if key != "" {
		hdr = http.Header{"Idempotency-Key": {key}}
	}
	return e.call(t, context.Background(), "POST", "/api/models/register", body, p, hdr)
}

// decode decodes a JSON answer into a map.
func decode(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer is not JSON: %d %q", rec.Code, rec.Body)
	}
	return m
}

// registered decodes a 201 answer.
func registered(t testing.TB, rec *httptest.ResponseRecorder) record.Registered {
	t.Helper()
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var v record.Registered
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
