package mlflowproxy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
)

// countingMLflow is the real MLflow behind a proxy that counts the calls it gets, by method and
// path, so a test sees which calls the gateway made.
type countingMLflow struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
}

func newCountingMLflow(t *testing.T, upstream string) *countingMLflow {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingMLflow{calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.calls[r.Method+" "+r.URL.Path]++
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

// take returns the calls counted since the last take.
func (c *countingMLflow) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = map[string]int{}
	return got
}

type createdVersion struct {
	ModelVersion struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		Source      string `json:"source"`
		RunID       string `json:"run_id"`
		ModelID     string `json:"model_id"`
		Description string `json:"description"`
	} `json:"model_version"`
}

const createPath = "/api/2.0/mlflow/model-versions/create"

// The Hokusai SDK's model-versions/create (runs:/ source, no ids) is completed as MLflow 3's
// register_model would send it, on every mount; an unresolvable source gets MLflow's error shape.
func TestCompletesTheSDKsVersionCreate(t *testing.T) {
	real := realMLflow(t)
	mlf := newCountingMLflow(t, real)
	h := newProxy(t, mlf.URL, nil)
	logged := mlflowtest.LogModel(t, real)
	legacyRun, artifactURI := legacyRun(t, real)
	name := fmt.Sprintf("sdk-complete-%d", time.Now().UnixNano())
	if code, _, b := do(t, h, "POST", "/api/2.0/mlflow/registered-models/create", jsonBody(map[string]string{"name": name}), writer, jsonHeader()); code != 200 {
		t.Fatalf("registered-models/create: %d %s", code, b)
	}

	// Without the gateway, MLflow 3 refuses the SDK's request: the regression this fixes.
	sdkBody := func(source string) []byte {
		return jsonBody(map[string]string{"name": name, "source": source, "description": "Token: T, Metric: m"})
	}
	res, err := http.Post(real+createPath, "application/json", bytes.NewReader(sdkBody("runs:/"+logged.RunID+"/model")))
	if err != nil {
		t.Fatal(err)
	}
	direct := map[string]any{}
	_ = json.NewDecoder(res.Body).Decode(&direct)
	res.Body.Close()
	if res.StatusCode != 400 || direct["error_code"] != "INVALID_PARAMETER_VALUE" {
		t.Fatalf("MLflow itself answered %d %v; this test expects its refusal", res.StatusCode, direct)
	}

	resolution := map[string]int{"GET /api/2.0/mlflow/runs/get": 1, "POST /api/2.0/mlflow/logged-models/search": 1, "POST " + createPath: 1}
	for _, tc := range []struct {
		name, path, source    string
		wantSource, wantModel string
		wantRun               string
		calls                 map[string]int
	}{
		{"tracking URI mount", "/api/mlflow" + createPath, "runs:/" + logged.RunID + "/model",
			"models:/" + logged.ModelID, logged.ModelID, logged.RunID, resolution},
		{"SDK default mount", "/mlflow" + createPath, "runs:/" + logged.RunID + "/model/",
			"models:/" + logged.ModelID, logged.ModelID, logged.RunID, resolution},
		{"bare host", createPath, "RUNS:/" + logged.RunID + "/model",
			"models:/" + logged.ModelID, logged.ModelID, logged.RunID, resolution},
		{"a model logged the MLflow 2 way", "/api/mlflow" + createPath, "runs:/" + legacyRun + "/model",
			artifactURI + "/model", "", legacyRun, map[string]int{"GET /api/2.0/mlflow/runs/get": 1,
				"POST /api/2.0/mlflow/logged-models/search": 1, "GET /api/2.0/mlflow/artifacts/list": 1, "POST " + createPath: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mlf.take()
			code, _, b := do(t, h, "POST", tc.path, sdkBody(tc.source), writer, jsonHeader())
			var got createdVersion
			if code != 200 || json.Unmarshal(b, &got) != nil {
				t.Fatalf("%d %s", code, b)
			}
			mv := got.ModelVersion
			if mv.Source != tc.wantSource || mv.RunID != tc.wantRun || mv.Description != "Token: T, Metric: m" || mv.Name != name {
				t.Errorf("created %+v", mv)
			}
			// MLflow's answer omits model_id; MLflow links the logged model only when it got one.
			if linked := linkedVersions(t, real, logged.ModelID); linked[mv.Version] != (tc.wantModel != "") {
				t.Errorf("logged model links versions %v; version %s linked: want %v", linked, mv.Version, tc.wantModel != "")
			}
			if calls := mlf.take(); fmt.Sprint(calls) != fmt.Sprint(tc.calls) {
				t.Errorf("MLflow calls %v, want %v", calls, tc.calls)
			}
		})
	}

	for _, tc := range []struct {
		name, source, code string
		status             int
		calls              map[string]int
	}{
		{"a run MLflow does not have", "runs:/0123456789abcdef0123456789abcdef/model", "RESOURCE_DOES_NOT_EXIST", 404,
			map[string]int{"GET /api/2.0/mlflow/runs/get": 1}},
		{"no logged model of that name", "runs:/" + logged.RunID + "/other", "RESOURCE_DOES_NOT_EXIST", 404,
			map[string]int{"GET /api/2.0/mlflow/runs/get": 1, "POST /api/2.0/mlflow/logged-models/search": 1, "GET /api/2.0/mlflow/artifacts/list": 1}},
		{"no path", "runs:/" + logged.RunID, "INVALID_PARAMETER_VALUE", 400, map[string]int{}},
		{"a host", "runs://host/" + logged.RunID + "/model", "INVALID_PARAMETER_VALUE", 400, map[string]int{}},
		{"escaping its run", "runs:/" + logged.RunID + "/../x/model", "INVALID_PARAMETER_VALUE", 400, map[string]int{}},
		{"a quote in the path", "runs:/" + logged.RunID + "/mo'del", "INVALID_PARAMETER_VALUE", 400, map[string]int{}},
		{"a bad run id", "runs:/a%2Fb/model", "INVALID_PARAMETER_VALUE", 400, map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mlf.take()
			code, _, b := do(t, h, "POST", "/api/mlflow"+createPath, sdkBody(tc.source), writer, jsonHeader())
			v := mlflowBody(t, b)
			if code != tc.status || v["error_code"] != tc.code {
				t.Errorf("%d %s", code, b)
			}
			if strings.Contains(string(b), "Run with id") || strings.Contains(string(b), "Traceback") {
				t.Errorf("MLflow's own text reached the client: %s", b)
			}
			if calls := mlf.take(); fmt.Sprint(calls) != fmt.Sprint(tc.calls) {
				t.Errorf("MLflow calls %v, want %v", calls, tc.calls)
			}
		})
	}
	if vs := versionCount(t, real, name); vs != 4 {
		t.Errorf("%d versions, want the 4 completed ones", vs)
	}
}

// Every other request reaches MLflow byte for byte, with no call of the gateway's own.
func TestOtherRequestsPassUntouched(t *testing.T) {
	rec := newRecorder(t, nil)
	h := newProxy(t, rec.URL, nil)
	src := "runs:/0123456789abcdef0123456789abcdef/model"
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"a runs:/ source with run_id", "POST", createPath, `{"name":"m","source":"` + src + `","run_id":"0123456789abcdef0123456789abcdef"}`},
		{"with runId, as protobuf also reads it", "POST", createPath, `{"name":"m","source":"` + src + `","runId":"r"}`},
		{"with model_id", "POST", createPath, `{"name":"m","source":"` + src + `","model_id":"m-1"}`},
		{"with modelId", "POST", createPath, `{"model_id":"","name":"m","source":"` + src + `","modelId":"m-1"}`},
		{"a models:/ source", "POST", createPath, `{"name":"m","source":"models:/m-0123"}`},
		{"a storage source", "POST", createPath, `{"name":"m","source":"s3://bucket/runs:/x"}`},
		{"a source that is not a string", "POST", createPath, `{"name":"m","source":["runs:/a/model"]}`},
		{"not JSON", "POST", createPath, `{"name":"m","source":"` + src + `"`},
		{"a JSON array", "POST", createPath, `["runs:/a/model"]`},
		{"invalid UTF-8", "POST", createPath, "{\"name\":\"m\xff\",\"source\":\"" + src + "\"}"},
		{"another create", "POST", "/api/2.0/mlflow/registered-models/create", `{"name":"m","source":"` + src + `"}`},
		{"a read", "GET", "/api/2.0/mlflow/model-versions/get", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rec.count.Load()
			rec.mu.Lock()
			rec.calls = nil
			rec.mu.Unlock()
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			do(t, h, tc.method, "/api/mlflow"+tc.path, body, writer, jsonHeader())
			if n := rec.count.Load() - before; n != 1 {
				t.Fatalf("%d calls reached MLflow, want 1", n)
			}
			if got := rec.last(t); !bytes.Equal(got.Body, body) || got.ContentLength != int64(len(body)) {
				t.Errorf("MLflow got %d bytes (Content-Length %d), want the %d sent", len(got.Body), got.ContentLength, len(body))
			}
		})
	}
}

// FuzzVersionSource: whatever the body, the judgement never panics, and a body it completes has a
// runs:/ source with a plain path and names no id under any spelling MLflow reads.
func FuzzVersionSource(f *testing.F) {
	for _, b := range []string{
		`{"name":"m","source":"runs:/abc/model"}`, `{"source":"RUNS:/abc/a/b/","run_id":null}`,
		`{"source":"runs:/abc/model","runId":""}`, `{"source":"runs:/abc/../x"}`, `{"source":"runs://h/abc/m"}`,
		`{"source":"runs:/abc/model","source":"s3://x"}`, `{"source":"runs:/abc/mo\u0027del"}`, `[]`, `null`, "{\"source\":\"runs:/\xff\"}",
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, ref, ok, perr := mlflowproxy.VersionSource(body)
		if !ok {
			return
		}
		if perr != nil {
			t.Fatalf("completed and refused at once: %v", perr)
		}
		for _, id := range []string{"run_id", "runId", "model_id", "modelId"} {
			if _, named := fields[id]; named {
				t.Errorf("completes a body that keeps %s: %s", id, body)
			}
		}
		if ref.RunID == "" || ref.ArtifactPath == "" || strings.Contains("/"+ref.ArtifactPath+"/", "/../") ||
			strings.ContainsAny(ref.ArtifactPath, `'"`) || strings.HasPrefix(ref.ArtifactPath, "/") {
			t.Errorf("completes %q from %s", ref, body)
		}
		var source string
		if json.Unmarshal(fields["source"], &source) != nil || !strings.EqualFold(source[:5], "runs:") {
			t.Errorf("completes a source %s", fields["source"])
		}
	})
}

// linkedVersions are the versions MLflow lists on a logged model (its mlflow.modelVersions tag),
// which it writes when a version is created with that model_id.
func linkedVersions(t *testing.T, mlflowURL, modelID string) map[string]bool {
	t.Helper()
	var out struct {
		Model struct {
			Info struct {
				Tags []struct{ Key, Value string } `json:"tags"`
			} `json:"info"`
		} `json:"model"`
	}
	client{mlflowURL}.decode(t, "GET", "/api/2.0/mlflow/logged-models/"+modelID, nil, &out)
	linked := map[string]bool{}
	for _, tag := range out.Model.Info.Tags {
		if tag.Key != "mlflow.modelVersions" {
			continue
		}
		var mvs []struct{ Version any }
		if err := json.Unmarshal([]byte(tag.Value), &mvs); err != nil {
			t.Fatalf("mlflow.modelVersions %q: %v", tag.Value, err)
		}
		for _, mv := range mvs {
			linked[fmt.Sprint(mv.Version)] = true
		}
	}
	return linked
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

// legacyRun is a run whose model is stored among its artifacts (model/MLmodel), as MLflow 2
// clients log it, with no logged model; it returns the run id and its artifact URI.
func legacyRun(t *testing.T, mlflowURL string) (string, string) {
	t.Helper()
	c := client{mlflowURL}
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	c.decode(t, "POST", "/api/2.0/mlflow/experiments/create", map[string]string{"name": fmt.Sprintf("legacy-%d", time.Now().UnixNano())}, &exp)
	var run struct {
		Run struct {
			Info struct {
				RunID       string `json:"run_id"`
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	c.decode(t, "POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp.ExperimentID}, &run)
	root, ok := strings.CutPrefix(run.Run.Info.ArtifactURI, "mlflow-artifacts:/")
	if !ok {
		t.Fatalf("artifact URI %q", run.Run.Info.ArtifactURI)
	}
	if code, _, b := c.call(t, "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+root+"/model/MLmodel", []byte("flavors: {}\n"), nil); code != 200 {
		t.Fatalf("upload MLmodel: %d %s", code, b)
	}
	return run.Run.Info.RunID, run.Run.Info.ArtifactURI
}

func versionCount(t *testing.T, mlflowURL, name string) int {
	t.Helper()
	var out struct {
		ModelVersions []json.RawMessage `json:"model_versions"`
	}
	client{mlflowURL}.decode(t, "GET", "/api/2.0/mlflow/model-versions/search?filter="+url.QueryEscape("name='"+name+"'"), nil, &out)
	return len(out.ModelVersions)
}
