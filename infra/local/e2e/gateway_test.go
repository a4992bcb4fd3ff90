package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/infra/local/faultproxy"
)

func call(t *testing.T, method, path string, body io.Reader, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.APIURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
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
	return res, b
}

func jsonBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not JSON: %q", b)
	}
	return m
}

func TestHealth(t *testing.T) {
	res, b := call(t, "GET", "/health", nil, nil)
	body := jsonBody(t, b)
	if res.StatusCode != 200 || body["status"] != "ok" || body["version"] == "" {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	// The function answers with the API Gateway request id the gateway gave it.
	if id := res.Header.Get("X-Request-Id"); id == "" || id != res.Header.Get("x-amzn-RequestId") {
		t.Errorf("X-Request-Id %q, gateway request id %q", id, res.Header.Get("x-amzn-RequestId"))
	}
}

func TestHealthMLflowProbesTheRealServer(t *testing.T) {
	res, b := call(t, "GET", "/health/mlflow", nil, nil)
	body := jsonBody(t, b)
	if res.StatusCode != 200 || body["status"] != "ok" || body["mlflow_url"] != h.MLflowUpstream {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	if _, ok := body["latency_ms"].(float64); !ok {
		t.Errorf("latency_ms missing: %s", b)
	}
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	for _, tc := range []struct{ method, path string }{
		{"GET", "/nope"}, {"POST", "/health"}, {"GET", "/health/mlflow/deeper"}, {"DELETE", "/"},
	} {
		res, b := call(t, tc.method, tc.path, nil, nil)
		body := jsonBody(t, b)
		if res.StatusCode != 404 || body["error"] != "NOT_FOUND" || body["error_code"] != "NOT_FOUND" ||
			body["message"] == nil || body["request_id"] != res.Header.Get("x-amzn-RequestId") {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, res.StatusCode, b)
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	res, _ := call(t, "OPTIONS", "/health/mlflow", nil, map[string]string{
		"Origin": "https://app.hokus.ai", "Access-Control-Request-Method": "GET"})
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "X-API-Key") {
		t.Errorf("%d %v", res.StatusCode, res.Header)
	}
}

func TestRequestLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		status int
		check  func(t *testing.T, body map[string]any)
	}{
		{"11 MB: the gateway's 413 JSON", 11 << 20, 413, func(t *testing.T, body map[string]any) {
			if body["error"] != "PAYLOAD_TOO_LARGE" || !strings.Contains(body["message"].(string), "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD") {
				t.Errorf("body %v", body)
			}
		}},
		// Lambda rejects the invocation; API Gateway answers it through INTEGRATION_FAILURE, which
		// the stack shapes to name the limit and the client settings.
		{"7 MB: over Lambda's 6 MB invocation payload, answered as API Gateway does", 7 << 20, 502, func(t *testing.T, body map[string]any) {
			msg, _ := body["message"].(string)
			if body["error"] != "BAD_GATEWAY" || !strings.Contains(msg, "6 MB") || !strings.Contains(msg, "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true") {
				t.Errorf("body %v", body)
			}
		}},
		{"4 MB: through", 4 << 20, 200, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, b := call(t, "GET", "/health", bytes.NewReader(bytes.Repeat([]byte("x"), tc.size)),
				map[string]string{"Content-Type": "text/plain"})
			if res.StatusCode != tc.status {
				t.Fatalf("status %d: %.300s", res.StatusCode, b)
			}
			if tc.check != nil {
				tc.check(t, jsonBody(t, b))
			}
		})
	}
}

// A function process that dies is replaced on the next invocation, as Lambda replaces a sandbox.
func TestCrashedFunctionIsRestarted(t *testing.T) {
	fn, pool := h.Function("health")
	if fn == nil {
		t.Fatal("no health function")
	}
	if res, _ := call(t, "GET", "/health", nil, nil); res.StatusCode != 200 {
		t.Fatal("health not answering")
	}
	pids := processesOf(filepath.Join(fn.AssetDir, "bootstrap"))
	if len(pids) == 0 {
		t.Fatal("no running health process found")
	}
	before := pool.Stats().ColdStarts
	killAll(t, filepath.Join(fn.AssetDir, "bootstrap"))
	res, b := call(t, "GET", "/health", nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("after the crash: %d %s", res.StatusCode, b)
	}
	if after := pool.Stats().ColdStarts; after <= before {
		t.Errorf("cold starts %d → %d: the crashed process was not replaced", before, after)
	}
}

// killAll SIGKILLs every process running binary and waits until they are dead (as a crash
// leaves them: not yet reaped by the harness).
func killAll(t *testing.T, binary string) {
	t.Helper()
	for _, pid := range processesOf(binary) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(processesOf(binary)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s survived SIGKILL", binary)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processesOf returns the live pids running binary.
func processesOf(binary string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && exe == binary {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestFaultProxyTakesAServiceDownAndBack(t *testing.T) {
	cfg := h.AWSConfig()
	cfg.Retryer = func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) }
	db := dynamodb.NewFromConfig(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list := func() error { _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); return err }
	if err := list(); err != nil {
		t.Fatalf("before: %v", err)
	}
	h.Faults.SetFault("dynamodb", faultproxy.Fault{Unreachable: true})
	err := list()
	h.Faults.Clear("dynamodb")
	if err == nil {
		t.Fatal("DynamoDB answered while unreachable")
	}
	var apiErr interface{ ErrorCode() string }
	if errors.As(err, &apiErr) {
		t.Errorf("want a transport error, got an API error %v", err)
	}
	if err := list(); err != nil {
		t.Fatalf("after: %v", err)
	}
}

func listTables(t *testing.T) []string {
	t.Helper()
	out, err := dynamodb.NewFromConfig(h.AWSConfig()).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	return out.TableNames
}

func killPid(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// A dead MLflow looks dead through the fault proxy: the MLflow proxy sees a transport error and
// answers its own 502 BAD_GATEWAY, as it would in AWS when the MLflow host is down.
func TestDeadMLflowIsBadGateway(t *testing.T) {
	writer, _ := writerAndReader(t)
	const path = "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=1"
	if res, b := call(t, "GET", path, nil, bearer(writer)); res.StatusCode != 200 {
		t.Fatalf("before: %d %s", res.StatusCode, b)
	}
	if err := h.StopMLflow(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := h.RestartMLflow(ctx); err != nil {
			t.Fatal(err)
		}
		if res, b := call(t, "GET", path, nil, bearer(writer)); res.StatusCode != 200 {
			t.Errorf("after the restart: %d %s", res.StatusCode, b)
		}
	}()
	res, b := call(t, "GET", path, nil, bearer(writer))
	body := jsonBody(t, b)
	if res.StatusCode != 502 || body["error_code"] != "BAD_GATEWAY" {
		t.Fatalf("MLflow down: %d %s; want 502 BAD_GATEWAY", res.StatusCode, b)
	}
	if strings.Contains(string(b), "faultproxy") {
		t.Errorf("the fault proxy's own answer reached the client: %s", b)
	}
}

// What the harness's HTTP server refuses before the gateway runs is JSON in the gateway's shape too.
func TestMalformedRequestsAreGatewayJSON(t *testing.T) {
	for _, tc := range []struct{ name, request string }{
		{"malformed request line", "GARBAGE\r\n\r\n"},
		{"headers over the limit", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.APIURL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go func() { _, _ = io.WriteString(conn, tc.request) }() // the server may answer before it has read it all
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			body := jsonBody(t, b)
			if res.StatusCode/100 != 4 || body["error"] != "BAD_REQUEST" || body["error_code"] != "BAD_REQUEST" ||
				body["request_id"] != res.Header.Get("x-amzn-RequestId") {
				t.Errorf("%d %s", res.StatusCode, b)
			}
		})
	}
}

// The gateway hands the functions the path as the client encoded it, as API Gateway does, so it
// is decoded once, by MLflow: an artifact named a%41.txt, which the stock client sends as
// a%2541.txt, reaches MLflow as a%2541.txt, not decoded twice on the way (to aA.txt).
func TestArtifactPathKeepsItsEncoding(t *testing.T) {
	writer, _ := writerAndReader(t)
	// Under an experiment of the writer's, which per-resource permissions let them write to.
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	res, b := call(t, "POST", "/api/mlflow/api/2.0/mlflow/experiments/create",
		strings.NewReader(`{"name":"e2e-encoding-`+suffix+`"}`), map[string]string{"Authorization": "Bearer " + writer, "Content-Type": "application/json"})
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	if res.StatusCode != 200 || json.Unmarshal(b, &exp) != nil || exp.ExperimentID == "" {
		t.Fatalf("create the experiment: %d %s", res.StatusCode, b)
	}
	dir := exp.ExperimentID + "/" + suffix
	var mu sync.Mutex
	var seen []string
	h.MLflowFaults.Observe(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.RequestURI)
	})
	defer h.MLflowFaults.Observe(nil)
	req, _ := http.NewRequest("PUT", h.APIURL, strings.NewReader("x"))
	// Opaque: the request line carries the path byte for byte, with no re-encoding by net/url.
	req.URL.Opaque = "//" + strings.TrimPrefix(h.APIURL, "http://") + "/api/2.0/mlflow-artifacts/artifacts/" + dir + "/a%2541.txt"
	req.Header.Set("Authorization", "Bearer "+writer)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("upload: %d %s", res.StatusCode, b)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "/api/2.0/mlflow-artifacts/artifacts/" + dir + "/a%2541.txt"
	if len(seen) != 1 || seen[0] != want {
		t.Errorf("MLflow was sent %q; want %q", seen, want)
	}
}
