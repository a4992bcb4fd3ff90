package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

type clientResult struct {
	OK           bool     `json:"ok"`
	Error        string   `json:"error"`
	Steps        []string `json:"steps"`
	RunID        string   `json:"run_id"`
	ExperimentID string   `json:"experiment_id"`
	ModelVersion struct {
		Name, Version, Source string
		RunID                 string `json:"run_id"`
	} `json:"model_version"`
	CreateError struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	} `json:"create_error"`
}

// runClient runs a scenario of testdata/clients/mlflow_client_e2e.py with the stock MLflow client
// pointed at trackingURI with key as MLFLOW_TRACKING_TOKEN.
func runClient(t *testing.T, scenario, trackingURI, key string, env ...string) clientResult {
	t.Helper()
	var res clientResult
	runScript(t, &res, "mlflow_client_e2e.py", []string{scenario}, trackingURI, key, env...)
	return res
}

// runScript runs testdata/clients/<script> with args, the stock MLflow client pointed at
// trackingURI with key as MLFLOW_TRACKING_TOKEN, and decodes its "E2E_RESULT <json>" line into
// res, which must have a bool field ok and a string field error; it fails t unless ok.
func runScript(t *testing.T, res any, script string, args []string, trackingURI, key string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Python(t), append([]string{filepath.Join(root, "testdata/clients", script)}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"MLFLOW_TRACKING_URI="+trackingURI, "MLFLOW_TRACKING_TOKEN="+key,
		"MLFLOW_HTTP_REQUEST_MAX_RETRIES=0", "GIT_PYTHON_REFRESH=quiet", "MLFLOW_ENABLE_ASYNC_LOGGING=false",
		"HOME="+cmd.Dir)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var status struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "E2E_RESULT "); ok {
			if jerr := errors.Join(json.Unmarshal([]byte(rest), res), json.Unmarshal([]byte(rest), &status)); jerr != nil {
				t.Fatalf("result line: %v", jerr)
			}
		}
	}
	if err != nil || !status.OK {
		t.Fatalf("%s %v via %s: %v %s\n%s", script, args, trackingURI, err, status.Error, tail(string(out), 4000))
	}
}

func writerAndReader(t *testing.T) (string, string) {
	t.Helper()
	admin := adminKey(t)
	w, _ := createKey(t, admin, "e2e-mlflow-writer", "mlflow:write")
	r, _ := createKey(t, admin, "e2e-mlflow-reader", "mlflow:read")
	return w, r
}

func TestStockMLflowClient(t *testing.T) {
	writer, reader := writerAndReader(t)
	var first clientResult
	for _, base := range []string{"/api/mlflow", ""} {
		t.Run("tracking URI "+h.APIURL+base, func(t *testing.T) {
			res := runClient(t, "full", h.APIURL+base, writer)
			mv := res.ModelVersion
			// MLflow 3's register_model: the version's source is the logged model, not the run.
			if !strings.HasPrefix(mv.Source, "models:/") || mv.RunID != res.RunID || mv.Version != "1" {
				t.Errorf("model version %+v (run %s)", mv, res.RunID)
			}
			if first.RunID == "" {
				first = res
			}
		})
	}
	t.Run("a 50 MB artifact up and down with the README's multipart settings", func(t *testing.T) {
		runClient(t, "large", h.APIURL+"/api/mlflow", writer,
			"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true", "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=4194304")
	})
	t.Run("a read-only key searches and downloads, and is refused 403 on create", func(t *testing.T) {
		if first.RunID == "" {
			t.Skip("the full scenario failed")
		}
		res := runClient(t, "readonly", h.APIURL+"/api/mlflow", reader,
			"E2E_RUN_ID="+first.RunID, "E2E_EXPERIMENT_ID="+first.ExperimentID)
		if res.CreateError.ErrorCode != "PERMISSION_DENIED" {
			t.Errorf("create refused with %+v", res.CreateError)
		}
	})
}

// Bad input gets the specified JSON and never reaches MLflow.
func TestMLflowProxyRefusesBadInput(t *testing.T) {
	writer, _ := writerAndReader(t)
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		body    []byte
		headers map[string]string
		status  int
		field   string
		want    string
	}{
		{"traversal", "GET", "/api/mlflow/api/2.0/mlflow/../../../etc/passwd", nil, bearer(writer), 400, "error_code", "INVALID_PARAMETER_VALUE"},
		{"encoded traversal", "GET", "/api/mlflow/api/2.0/mlflow/%2e%2e/%2e%2e/health", nil, bearer(writer), 400, "error_code", "INVALID_PARAMETER_VALUE"},
		{"encoded slash", "GET", "/api/mlflow/api/2.0/mlflow/..%2F..%2Fhealth", nil, bearer(writer), 400, "error_code", "INVALID_PARAMETER_VALUE"},
		{"double encoding", "GET", "/api/mlflow/api/2.0/mlflow/%252e%252e/x", nil, bearer(writer), 400, "error_code", "INVALID_PARAMETER_VALUE"},
		{"key in the query string", "GET", "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=1&api_key=" + writer, nil, nil, 401, "error", "UNAUTHORIZED"},
		{"body over 10 MB", "PUT", "/api/2.0/mlflow-artifacts/artifacts/x/big.bin", bytes.Repeat([]byte("a"), 11<<20), bearer(writer), 413, "error", "PAYLOAD_TOO_LARGE"},
		{"body over the 6 MB invocation payload", "PUT", "/api/2.0/mlflow-artifacts/artifacts/x/big.bin", bytes.Repeat([]byte("a"), 5<<20), bearer(writer), 502, "error_code", "BAD_GATEWAY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.MLflowFaults.ResetCounts()
			var body *bytes.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			} else {
				body = bytes.NewReader(nil)
			}
			req, _ := http.NewRequest(tc.method, h.APIURL+tc.path, body)
			req.URL.RawPath = "" // send the path exactly as written
			req.URL.Opaque = "//" + strings.TrimPrefix(h.APIURL, "http://") + strings.SplitN(tc.path, "?", 2)[0]
			req.Header.Set("Content-Type", "application/octet-stream")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var got map[string]any
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatalf("status %d, body not JSON", res.StatusCode)
			}
			if res.StatusCode != tc.status || got[tc.field] != tc.want {
				t.Errorf("%d %v", res.StatusCode, got)
			}
			if n := h.MLflowFaults.Counts()["mlflow"]; n != 0 {
				t.Errorf("%d requests reached MLflow", n)
			}
		})
	}
}

// A client cannot speak for another user: MLflow sees the authenticated identity only.
func TestSpoofedIdentityHeadersNeverReachMLflow(t *testing.T) {
	writer, _ := writerAndReader(t)
	var mu sync.Mutex
	var seen []http.Header
	h.MLflowFaults.Observe(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Clone())
	})
	defer h.MLflowFaults.Observe(nil)
	res, b := call(t, "POST", "/api/mlflow/api/2.0/mlflow/experiments/search", strings.NewReader(`{"max_results":1}`), map[string]string{
		"Authorization": "Bearer " + writer, "Content-Type": "application/json",
		"X-Hokusai-User-Id": "someone-else", "X-Hokusai-Admin": "true", "X-API-Key": writer,
	})
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("%d requests reached MLflow", len(seen))
	}
	hdr := seen[0]
	if hdr.Get("X-Hokusai-User-Id") != "e2e-mlflow-writer" || hdr.Get("X-Hokusai-Admin") != "" ||
		hdr.Get("Authorization") != "" || hdr.Get("X-API-Key") != "" || hdr.Get("X-Hokusai-API-Key-Id") == "" {
		t.Errorf("headers that reached MLflow: %v", hdr)
	}
}
