package mlflowproxy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// client calls a gateway (see gateway) like any HTTP client would.
type client struct{ base string }

func (c client) call(t *testing.T, method, path string, body []byte, hdr http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res.StatusCode, res.Header, b
}

// decode fails the test unless the call answered 200 with JSON, which it decodes into v.
func (c client) decode(t *testing.T, method, path string, body any, v any) {
	t.Helper()
	code, _, b := c.call(t, method, path, jsonBody(body), http.Header{"Content-Type": {"application/json"}})
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
}

// TestAgainstMLflow drives a real MLflow through the handler behind the streaming Lambda adapter.
func TestAgainstMLflow(t *testing.T) {
	upstream := realMLflow(t)
	h := newProxy(t, upstream, nil)
	asWriter := client{gateway(t, h, writer).URL}
	asReader := client{gateway(t, h, reader).URL}

	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	asWriter.decode(t, "POST", "/api/mlflow/api/2.0/mlflow/experiments/create",
		map[string]string{"name": fmt.Sprintf("proxy-test-%d", time.Now().UnixNano())}, &exp)
	var run struct {
		Run struct {
			Info struct {
				RunID       string `json:"run_id"`
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	asWriter.decode(t, "POST", "/api/mlflow/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp.ExperimentID}, &run)

	t.Run("a read scope searches runs through POST", func(t *testing.T) {
		var found struct {
			Runs []struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"runs"`
		}
		asReader.decode(t, "POST", "/api/mlflow/api/2.0/mlflow/runs/search", map[string]any{"experiment_ids": []string{exp.ExperimentID}}, &found)
		if len(found.Runs) != 1 || found.Runs[0].Info.RunID != run.Run.Info.RunID {
			t.Errorf("search found %+v", found.Runs)
		}
	})

	t.Run("a read scope cannot create a run", func(t *testing.T) {
		code, _, body := asReader.call(t, "POST", "/api/mlflow/api/2.0/mlflow/runs/create", jsonBody(map[string]any{"experiment_id": exp.ExperimentID}), nil)
		if v := mlflowBody(t, body); code != http.StatusForbidden || v["error_code"] != "PERMISSION_DENIED" {
			t.Errorf("%d %s", code, body)
		}
	})

	t.Run("artifact upload and download keep every byte", func(t *testing.T) {
		// mlflow-artifacts:/<experiment>/<run>/artifacts is served under mlflow-artifacts/artifacts/.
		root, ok := strings.CutPrefix(run.Run.Info.ArtifactURI, "mlflow-artifacts:/")
		if !ok {
			t.Fatalf("artifact URI %q", run.Run.Info.ArtifactURI)
		}
		blob := make([]byte, 2<<20)
		_, _ = rand.Read(blob)
		path := "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/" + root + "/data/blob%20one.bin"
		if code, _, body := asWriter.call(t, "PUT", path, blob, http.Header{"Content-Type": {"application/octet-stream"}}); code != 200 {
			t.Fatalf("upload: %d %s", code, body)
		}
		code, hdr, got := asReader.call(t, "GET", path, nil, nil)
		if code != 200 || !bytes.Equal(got, blob) {
			t.Fatalf("download: %d, %d bytes, identical %v", code, len(got), bytes.Equal(got, blob))
		}
		if hdr.Get("X-Request-Id") != "req-1" {
			t.Errorf("X-Request-Id %q", hdr.Get("X-Request-Id"))
		}
		var listing struct {
			Files []struct {
				Path     string `json:"path"`
				FileSize int64  `json:"file_size"`
			} `json:"files"`
		}
		asReader.decode(t, "GET", "/api/2.0/mlflow-artifacts/artifacts?path="+root+"/data", nil, &listing)
		if len(listing.Files) != 1 || listing.Files[0].Path != "blob one.bin" || listing.Files[0].FileSize != int64(len(blob)) {
			t.Errorf("listing %+v", listing.Files)
		}
	})

	t.Run("MLflow's JSON error passes through unchanged", func(t *testing.T) {
		const path = "/api/2.0/mlflow/registered-models/get?name=no-such-model"
		res, err := http.Get(upstream + path)
		if err != nil {
			t.Fatal(err)
		}
		direct, _ := io.ReadAll(res.Body)
		res.Body.Close()
		code, hdr, body := asReader.call(t, "GET", "/api/mlflow"+path, nil, nil)
		if code != res.StatusCode || !bytes.Equal(body, direct) || hdr.Get("Content-Type") != res.Header.Get("Content-Type") {
			t.Errorf("through the proxy %d %s\ndirect %d %s", code, body, res.StatusCode, direct)
		}
		if v := mlflowBody(t, body); v["error_code"] != "RESOURCE_DOES_NOT_EXIST" {
			t.Errorf("error_code %v", v["error_code"])
		}
	})

	t.Run("an endpoint MLflow lacks is the gateway's JSON 404, a wrong method its 405", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			status       int
			code         string
		}{
			{"GET", "/api/2.0/mlflow/no-such-endpoint", 404, "ENDPOINT_NOT_FOUND"},
			{"PUT", "/api/2.0/mlflow/runs/search", 405, "BAD_REQUEST"},
		} {
			req, _ := http.NewRequest(tc.method, upstream+tc.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if ct := res.Header.Get("Content-Type"); res.StatusCode != tc.status || !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("MLflow itself answered %s %s %d %s; this test expects its HTML %d", tc.method, tc.path, res.StatusCode, ct, tc.status)
			}
			code, hdr, body := asWriter.call(t, tc.method, "/api/mlflow"+tc.path, nil, nil)
			if v := mlflowBody(t, body); code != tc.status || v["error_code"] != tc.code {
				t.Errorf("%s %s: %d %s", tc.method, tc.path, code, body)
			}
			if tc.status == 405 && hdr.Get("Allow") != "POST" { // MLflow's, less the OPTIONS it answers itself
				t.Errorf("Allow %q, MLflow's %q", hdr.Get("Allow"), res.Header.Get("Allow"))
			}
		}
	})

	t.Run("version probe", func(t *testing.T) {
		code, _, body := asReader.call(t, "GET", "/api/mlflow/version", nil, nil)
		if code != 200 || !strings.HasPrefix(string(body), "3.") {
			t.Errorf("%d %q", code, body)
		}
	})
}

// TestStockMLflowClient points MLflow's own Python client at the handler (behind the streaming
// adapter), with the tracking URI the README gives and with the bare host: every path the client
// builds must reach MLflow.
func TestStockMLflowClient(t *testing.T) {
	upstream := realMLflow(t)
	python := testenv.Python(t)
	srv := gateway(t, newProxy(t, upstream, nil), principal.Principal{UserID: "u-ci", KeyID: "k-ci", Scopes: []string{"mlflow:write"}})
	for name, uri := range map[string]string{"tracking URI": srv.URL + "/api/mlflow", "bare host": srv.URL} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(python, "-c", stockClientScript)
			cmd.Dir = t.TempDir()
			cmd.Env = append(cleanEnv(),
				"MLFLOW_TRACKING_URI="+uri,
				"MLFLOW_TRACKING_TOKEN=hk_test_abcdefghijklmnopqrstuvwxyz0123456789ABCD",
				"MLFLOW_HTTP_REQUEST_MAX_RETRIES=0",
			)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("client failed: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "ALL OK") {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}

// cleanEnv is the environment without MLflow or AWS settings a developer may have exported.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MLFLOW_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// stockClientScript uses the client as a data scientist would; every call fails loudly.
const stockClientScript = `
import os, time, filecmp, tempfile
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

suffix = str(time.time_ns())
experiment = "stock-client-" + suffix
mlflow.set_experiment(experiment)
client = MlflowClient()
work = tempfile.mkdtemp()
src = os.path.join(work, "weights.bin")
with open(src, "wb") as f:
    f.write(os.urandom(1 << 20))

with mlflow.start_run() as run:
    mlflow.log_param("alpha", "0.5")
    mlflow.log_metric("rmse", 0.25)
    mlflow.set_tag("team", "ci")
    mlflow.log_artifact(src, artifact_path="model")
    mlflow.log_text("hello", "notes/readme.txt")
run_id = run.info.run_id

dst = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model/weights.bin", dst_path=os.path.join(work, "dl"))
assert filecmp.cmp(src, dst, shallow=False), "downloaded artifact differs"
names = sorted(a.path for a in client.list_artifacts(run_id))
assert names == ["model", "notes"], names

found = mlflow.search_runs(experiment_names=[experiment], output_format="list")
assert [r.info.run_id for r in found] == [run_id], found
assert client.get_run(run_id).data.params["alpha"] == "0.5"

name = "stock-client-model-" + suffix
client.create_registered_model(name)
mv = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
assert client.get_latest_versions(name)[0].version == mv.version
assert [m.name for m in client.search_registered_models(filter_string=f"name='{name}'")] == [name]
assert len(client.search_model_versions(f"name='{name}'")) == 1
try:
    client.get_registered_model("no-such-model-" + suffix)
    raise AssertionError("a missing model was found")
except MlflowException as e:
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST", e.error_code

exp_id = run.info.experiment_id
model = mlflow.initialize_logged_model(name="lm", experiment_id=exp_id)
assert [m.model_id for m in mlflow.search_logged_models(experiment_ids=[exp_id], output_format="list")] == [model.model_id]
client.search_traces(experiment_ids=[exp_id])
print("ALL OK")
`

// TestMLflow5xxTextStaysInTheLog makes the real MLflow fail (an id past SQLite's INTEGER: Python's
// OverflowError text in a 500): the client gets INTERNAL_ERROR with the request id and none of
// MLflow's text, which the log keeps.
func TestMLflow5xxTextStaysInTheLog(t *testing.T) {
	upstream := realMLflow(t)
	const path = "/api/2.0/mlflow/experiments/get?experiment_id=99999999999999999999"
	res, err := http.Get(upstream + path)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := io.ReadAll(res.Body)
	res.Body.Close()
	const internals = "Python int too large"
	if res.StatusCode != 500 || !strings.Contains(string(direct), internals) {
		t.Fatalf("MLflow itself answered %d %s; this test expects its 500 with %q", res.StatusCode, direct, internals)
	}

	var logs bytes.Buffer
	r := loggedRequest(t, &logs, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", reader)
	r.URL.RawQuery = "experiment_id=99999999999999999999"
	rec := serve(newProxy(t, upstream, nil), r)
	v := mlflowBody(t, rec.Body.Bytes())
	if rec.Code != 500 || v["error_code"] != "INTERNAL_ERROR" || !strings.Contains(v["message"].(string), "req-1") ||
		strings.Contains(rec.Body.String(), internals) || strings.Contains(rec.Body.String(), "SQLite") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), internals) || !strings.Contains(logs.String(), `"request_id":"req-1"`) {
		t.Errorf("log: %s", logs.String())
	}
}
