package mlflowproxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cct "github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding/contentcodingtest"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// owners is an owner store in memory, with regstore.Store's semantics: the first claim of a key
// holds it; a later claim by another user gets the holder and ErrOwned.
type owners struct {
	mu     sync.Mutex
	held   map[string]string // pk → user id
	claims []string          // "pk user", in order
	err    error             // fail every claim
	hang   bool              // claims wait for their context to end, then fail (a table not answering)
	// changes are the registry events recorded for the outbox (PutChange); changeErr fails them.
	changes   []regstore.Event
	changeErr error
	// changeCalls are the contexts' deadlines of the PutChange calls, with when each was made.
	changeCalls []deadlineCall
}

// deadlineCall is a call's context deadline and when the call was made.
type deadlineCall struct{ deadline, at time.Time }

func callOf(ctx context.Context) deadlineCall {
	d, _ := ctx.Deadline()
	return deadlineCall{deadline: d, at: time.Now()}
}

func (o *owners) PutChange(ctx context.Context, ev regstore.Event, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.changeCalls = append(o.changeCalls, callOf(ctx))
	if o.changeErr != nil {
		return o.changeErr
	}
	o.changes = append(o.changes, ev)
	return nil
}

func (o *owners) ClaimOwner(ctx context.Context, pk, userID, _, _ string, _ time.Time) (string, error) {
	if o.hang {
		<-ctx.Done()
		return "", ctx.Err()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.claims = append(o.claims, pk+" "+userID)
	if o.err != nil {
		return "", o.err
	}
	if held, ok := o.held[pk]; ok && held != userID {
		return held, fmt.Errorf("claim owner of %s: %w", pk, regstore.ErrOwned)
	}
	if o.held == nil {
		o.held = map[string]string{}
	}
	o.held[pk] = userID
	return userID, nil
}

func (o *owners) OwnerOf(_ context.Context, pk string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return "", o.err
	}
	return o.held[pk], nil
}

func (o *owners) snapshot() ([]string, map[string]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	held := map[string]string{}
	for k, v := range o.held {
		held[k] = v
	}
	return append([]string{}, o.claims...), held
}

// ownedProxy is the proxy for an upstream at rawURL recording owners in o, logging to log.
func ownedProxy(t *testing.T, rawURL string, env map[string]string, o *owners, log *slog.Logger) http.Handler {
	t.Helper()
	cfg := testConfig(t, rawURL, env)
	creds, err := upstream.LoadCredentials(context.Background(), cfg.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	return mlflowproxy.New(cfg, creds, o, nil, log)
}

const (
	modelCreated   = "{\"registered_model\": {\"name\": \"Churn\", \"creation_timestamp\": 1}}\n"
	versionCreated = "{\"model_version\": {\"name\": \"Churn\", \"version\": \"3\", \"status\": \"READY\"}}\n"
)

// reply answers every call with status and body as JSON.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// A successful create through any MLflow mount makes its caller the owner of what it created,
// before the answer leaves, and the answer goes out byte for byte.
func TestCreatesThroughMLflowRecordTheirOwner(t *testing.T) {
	model := regstore.ModelOwnerPK("Churn")
	for _, tc := range []struct {
		name, path string
		env        map[string]string
		answer     string
		want       []string
	}{
		{"registered model, tracking URI mount", "/api/mlflow/api/2.0/mlflow/registered-models/create", nil, modelCreated, []string{model}},
		{"registered model, bare host", "/api/2.0/mlflow/registered-models/create", nil, modelCreated, []string{model}},
		{"registered model, bare host", "/api/2.0/mlflow/registered-models/create", nil, modelCreated, []string{model}},
		{"registered model, ajax-api", "/mlflow/ajax-api/2.0/mlflow/registered-models/create", nil, modelCreated, []string{model}},
		{"registered model, MLFLOW_AJAX_API", "/api/mlflow/api/2.0/mlflow/registered-models/create", map[string]string{"MLFLOW_AJAX_API": "true"}, modelCreated, []string{model}},
		// A version of a model nobody owns (one that predates the registry) claims nothing: not the
		// name, which would give its creator MANAGE, nor the version (TestLosingClaimsChangeNothing
		// has the caller's own model).
		{"version of an unowned model", "/api/mlflow/api/2.0/mlflow/model-versions/create", nil, versionCreated, nil},
		{"version of an unowned model, ajax-api", "/mlflow/ajax-api/2.0/mlflow/model-versions/create", nil, versionCreated, nil},
		{"another create claims nothing", "/api/mlflow/api/2.0/mlflow/experiments/create", nil, `{"experiment_id": "1"}`, nil},
		{"a rename claims nothing", "/api/mlflow/api/2.0/mlflow/registered-models/rename", nil, modelCreated, nil},
		{"an answer naming no version claims nothing", "/api/mlflow/api/2.0/mlflow/model-versions/create", nil, `{"model_version": {"name": "Churn"}}`, nil},
		{"an answer that is not JSON claims nothing", "/api/mlflow/api/2.0/mlflow/registered-models/create", nil, `{"registered_model":`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, reply(200, tc.answer))
			o := &owners{}
			rec := serve(ownedProxy(t, up.URL, tc.env, o, quietLog()), request(t, "POST", tc.path, []byte(`{"name": "Churn"}`), &writer, nil))
			if rec.Code != 200 || rec.Body.String() != tc.answer {
				t.Errorf("answer %d %q, want MLflow's %q", rec.Code, rec.Body, tc.answer)
			}
			var want []string
			for _, pk := range tc.want {
				want = append(want, pk+" "+writer.UserID)
			}
			if claims, _ := o.snapshot(); fmt.Sprint(claims) != fmt.Sprint(want) {
				t.Errorf("claims %q, want %q", claims, want)
			}
		})
	}
}

// Only MLflow's success creates something: a refusal or a failure claims nothing.
func TestFailedCreatesClaimNothing(t *testing.T) {
	for _, status := range []int{400, 403, 404, 409, 500, 503} {
		for _, path := range []string{"registered-models/create", "model-versions/create"} {
			t.Run(fmt.Sprint(status, path), func(t *testing.T) {
				body := `{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists", "registered_model": {"name": "Churn"}, "model_version": {"name": "Churn", "version": "3"}}`
				up := newRecorder(t, reply(status, body))
				o := &owners{}
				rec := serve(ownedProxy(t, up.URL, nil, o, quietLog()), request(t, "POST", "/api/mlflow/api/2.0/mlflow/"+path, []byte(`{"name": "Churn"}`), &writer, nil))
				if rec.Code != status {
					t.Errorf("status %d", rec.Code)
				}
				if claims, _ := o.snapshot(); len(claims) != 0 {
					t.Errorf("claims %q", claims)
				}
			})
		}
	}
}

// A name or version another user owns stays theirs; a version under another user's name is not
// claimed (its announcement decides); the answer is MLflow's either way.
func TestLosingClaimsChangeNothing(t *testing.T) {
	model, version := regstore.ModelOwnerPK("Churn"), regstore.VersionOwnerPK("Churn", "3")
	for _, tc := range []struct {
		name string
		held map[string]string
		want map[string]string
	}{
		{"the name is another's: the version stays unowned", map[string]string{model: "u-other"}, map[string]string{model: "u-other"}},
		{"the name is nobody's: neither is claimed", nil, map[string]string{}},
		{"the version is another's", map[string]string{model: writer.UserID, version: "u-other"}, map[string]string{model: writer.UserID, version: "u-other"}},
		{"the caller's own name", map[string]string{model: writer.UserID}, map[string]string{model: writer.UserID, version: writer.UserID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, reply(200, versionCreated))
			o := &owners{held: tc.held}
			rec := serve(ownedProxy(t, up.URL, nil, o, quietLog()), request(t, "POST", "/api/mlflow/api/2.0/mlflow/model-versions/create", []byte(`{}`), &writer, nil))
			if rec.Code != 200 || rec.Body.String() != versionCreated {
				t.Errorf("answer %d %q", rec.Code, rec.Body)
			}
			if _, held := o.snapshot(); fmt.Sprint(held) != fmt.Sprint(tc.want) {
				t.Errorf("owners %v, want %v", held, tc.want)
			}
		})
	}
}

// A store that fails does not turn MLflow's success into an error: the answer goes out as MLflow
// gave it, and the failure is logged with the request id.
func TestOwnerStoreFailureIsLoggedNotSurfaced(t *testing.T) {
	up := newRecorder(t, reply(200, versionCreated))
	o := &owners{err: errors.New("ProvisionedThroughputExceededException: slow down")}
	var logs bytes.Buffer
	rec := serve(ownedProxy(t, up.URL, nil, o, quietLog()), loggedRequest(t, &logs, "POST", "/api/mlflow/api/2.0/mlflow/model-versions/create", writer))
	if rec.Code != 200 || rec.Body.String() != versionCreated {
		t.Errorf("answer %d %q", rec.Code, rec.Body)
	}
	line := logs.String()
	if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, `"request_id":"req-1"`) ||
		!strings.Contains(line, "ProvisionedThroughputExceededException") || !strings.Contains(line, `"model_name":"Churn"`) {
		t.Errorf("log: %s", line)
	}
}

// The answer is read only up to a bound: a longer one (even one naming a model) is relayed whole
// and byte for byte, and claims nothing; a gzipped one is read decompressed and relayed compressed.
func TestCreateAnswersAreReadBounded(t *testing.T) {
	long := `{"registered_model": {"name": "Churn", "description": "` + strings.Repeat("x", 2<<20) + `"}}`
	zipped := cct.Encode(t, cct.Gzip, []byte(modelCreated))
	for _, tc := range []struct {
		name     string
		body     string
		encoding string
		claims   int
	}{
		{"over the bound", long, "", 0},
		{"gzipped", string(zipped), "gzip", 1},
		{"an unknown encoding", modelCreated, "br", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tc.encoding != "" {
					w.Header().Set("Content-Encoding", tc.encoding)
				}
				_, _ = io.WriteString(w, tc.body)
			})
			o := &owners{}
			hdr := http.Header{"Accept-Encoding": {"gzip"}}
			rec := serve(ownedProxy(t, up.URL, nil, o, quietLog()), request(t, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/create", []byte(`{}`), &writer, hdr))
			if rec.Code != 200 || rec.Body.String() != tc.body {
				t.Errorf("answer %d, %d bytes, want MLflow's %d", rec.Code, rec.Body.Len(), len(tc.body))
			}
			if claims, _ := o.snapshot(); len(claims) != tc.claims {
				t.Errorf("claims %q", claims)
			}
		})
	}
}

// Against a real MLflow: the stock client's two calls make their caller the owner of the name
// and of the version MLflow numbered.
func TestRealMLflowCreatesRecordTheirOwner(t *testing.T) {
	base := realMLflow(t)
	o := &owners{}
	h := ownedProxy(t, base, nil, o, quietLog())
	js := http.Header{"Content-Type": {"application/json"}}
	name := fmt.Sprintf("Owned-%d", time.Now().UnixNano())
	if code, _, b := do(t, h, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/create", jsonBody(map[string]string{"name": name}), writer, js); code != 200 {
		t.Fatalf("create model: %d %s", code, b)
	}
	if code, _, b := do(t, h, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/create", jsonBody(map[string]string{"name": name}), admin, js); code != 400 {
		t.Fatalf("create it again: %d %s", code, b)
	}
	code, _, b := do(t, h, "POST", "/api/mlflow/api/2.0/mlflow/model-versions/create", jsonBody(map[string]string{"name": name, "source": "s3://bucket/model"}), writer, js)
	if code != 200 || !strings.Contains(string(b), `"version": "1"`) && !strings.Contains(string(b), `"version":"1"`) {
		t.Fatalf("create version: %d %s", code, b)
	}
	_, held := o.snapshot()
	want := map[string]string{regstore.ModelOwnerPK(name): writer.UserID, regstore.VersionOwnerPK(name, "1"): writer.UserID}
	if fmt.Sprint(held) != fmt.Sprint(want) {
		t.Errorf("owners %v, want %v", held, want)
	}
}
