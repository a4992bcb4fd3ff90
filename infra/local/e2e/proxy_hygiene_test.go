package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// observeMLflow records the headers of every request that reaches MLflow until the test ends.
func observeMLflow(t *testing.T) func() []http.Header {
	t.Helper()
	var mu sync.Mutex
	var seen []http.Header
	h.MLflowFaults.ResetCounts()
	h.MLflowFaults.Observe(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Clone())
	})
	t.Cleanup(func() { h.MLflowFaults.Observe(nil) })
	return func() []http.Header {
		mu.Lock()
		defer mu.Unlock()
		return append([]http.Header(nil), seen...)
	}
}

// foldName is a header name as MLflow's server reads it: case folded, "_" (and ".") as "-".
func foldName(name string) string {
	return strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name))
}

// Spoofed credentials, identities, routing and method claims never reach MLflow under any
// spelling MLflow reads as the same header; MLflow sees the authenticated identity alone.
func TestProxyHeadersReachMLflowByAllowlist(t *testing.T) {
	writer, _ := writerAndReader(t)
	seen := observeMLflow(t)
	req, err := http.NewRequest("POST", h.APIURL+"/api/mlflow/api/2.0/mlflow/experiments/search", strings.NewReader(`{"max_results":1}`))
	if err != nil {
		t.Fatal(err)
	}
	// Set directly, not through Header.Set, so the names go out spelled as written.
	for name, value := range map[string]string{
		"Authorization": "Bearer " + writer, "Content-Type": "application/json",
		"X_API_Key": writer, "X.API.Key": writer, "X_Hokusai_User_Id": "victim", "x_hokusai_user_id": "victim",
		"X.Hokusai.User.Id": "victim", "X-Hokusai-User-Id": "victim", "X_Hokusai_API_Key_Id": "forged", "X-Hokusai-Admin": "true",
		"Cookie": "session=" + writer, "X-Original-URL": "/api/2.0/mlflow/experiments/delete", "X-Rewrite-URL": "/api/2.0/mlflow/experiments/delete",
		"X-Real-IP": "127.0.0.1", "X_Forwarded_Host": "localhost", "X-HTTP-Method-Override": "DELETE", "X-HTTP-Method": "DELETE",
		"X-Method-Override": "DELETE", "Origin": "http://localhost", "Content_Type": "text/html",
	} {
		req.Header[name] = []string{value}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := seen()
	if len(got) != 1 {
		t.Fatalf("%d requests reached MLflow", len(got))
	}
	allowed := map[string]bool{
		"accept": true, "accept-encoding": true, "content-type": true, "content-length": true, "user-agent": true,
		"x-hokusai-user-id": true, "x-hokusai-api-key-id": true,
	}
	for name, vs := range got[0] {
		if !allowed[foldName(name)] {
			t.Errorf("%s reached MLflow: %q", name, vs)
		}
		for _, v := range vs {
			if strings.Contains(v, writer) || strings.Contains(v, "victim") || strings.Contains(v, "forged") {
				t.Errorf("%s reached MLflow: %q", name, vs)
			}
		}
	}
	if v := got[0].Values("X-Hokusai-User-Id"); len(v) != 1 || v[0] != "e2e-mlflow-writer" {
		t.Errorf("X-Hokusai-User-Id %q", v)
	}
	if v := got[0].Values("Content-Type"); len(v) != 1 || v[0] != "application/json" {
		t.Errorf("Content-Type %q", v)
	}
}

// A key in the query string never leaves the gateway, even next to a valid key in the header.
func TestProxyRefusesAKeyInTheQueryString(t *testing.T) {
	writer, _ := writerAndReader(t)
	seen := observeMLflow(t)
	for _, q := range []string{"api_key=" + writer, "max_results=1&filter=name%3D%27" + writer + "%27", "apikey=whatever"} {
		res, b := call(t, "GET", "/api/mlflow/api/2.0/mlflow/experiments/search?"+q, nil, bearer(writer))
		body := jsonBody(t, b)
		if res.StatusCode != 400 || body["error_code"] != "INVALID_PARAMETER_VALUE" || strings.Contains(string(b), writer) {
			t.Errorf("%q: %d %s", q, res.StatusCode, b)
		}
	}
	if n := len(seen()); n != 0 {
		t.Errorf("%d requests reached MLflow", n)
	}
	if strings.Contains(output.String(), writer) {
		t.Error("the stack logged the key")
	}
}

// A key pasted into a path is not echoed by the proxy's 404s.
func TestProxyErrorsDoNotEchoAKeyInThePath(t *testing.T) {
	writer, _ := writerAndReader(t)
	for _, path := range []string{
		"/api/mlflow/" + writer,
		"/api/mlflow/api/2.0/mlflow/runs/get/" + writer, // no operation of the catalog's
		"/api/mlflow/api/2.0/mlflow/x/" + strings.Replace(writer, "h", "%68", 1),
	} {
		res, b := call(t, "GET", path, nil, bearer(writer))
		code := jsonBody(t, b)["error_code"]
		if res.StatusCode != 404 || strings.Contains(string(b), writer[8:]) || (code != "RESOURCE_NOT_FOUND" && code != "ENDPOINT_NOT_FOUND") {
			t.Errorf("%s: %d %s", path, res.StatusCode, b)
		}
	}
}

// MLflow's localhost-only and server-internal routes exist on the server but are refused to every
// caller, an admin too; a sample of the list in shared/registry/mlflowproxy.
func TestProxyRefusesMLflowInternalRoutes(t *testing.T) {
	admin := adminKey(t)
	for _, tc := range []struct{ method, mlflowPath, probe string }{
		{"GET", "/ajax-api/3.0/mlflow/assistant/config", "GET"},
		{"POST", "/ajax-api/3.0/mlflow/assistant/message", "POST"}, // {} is refused 422 by MLflow
		{"GET", "/ajax-api/3.0/mlflow/ui-telemetry", "GET"},
		{"POST", "/ajax-api/2.0/mlflow/gateway-proxy", "GET"},
		{"GET", "/ajax-api/3.0/mlflow/jobs/1", "GET"},
		{"POST", "/ajax-api/3.0/mlflow/demo/generate", "GET"}, // a POST would generate the demo
		// Server-side execution with an api/ twin: a POST would submit an optimization job.
		{"POST", "/api/3.0/mlflow/prompt-optimization/jobs", "GET"},
		{"GET", "/api/3.0/mlflow/prompt-optimization/jobs/search", "GET"},
	} {
		t.Run(tc.method+" "+tc.mlflowPath, func(t *testing.T) {
			// The route is MLflow's: asked directly in a way that changes nothing, it answers
			// something other than its HTML 404 (a POST-only Flask route answers GET with 405).
			req, _ := http.NewRequest(tc.probe, h.MLflowURL+tc.mlflowPath, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			direct, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			direct.Body.Close()
			if direct.StatusCode == 404 && strings.HasPrefix(direct.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("MLflow has no route %s", tc.mlflowPath)
			}
			seen := observeMLflow(t)
			res, b := call(t, tc.method, "/api/mlflow"+tc.mlflowPath, strings.NewReader("{}"), map[string]string{
				"Authorization": "Bearer " + admin, "Content-Type": "application/json",
			})
			if body := jsonBody(t, b); res.StatusCode != 404 || body["error_code"] != "ENDPOINT_NOT_FOUND" {
				t.Errorf("%d %s", res.StatusCode, b)
			}
			if n := len(seen()); n != 0 {
				t.Errorf("%d requests reached MLflow", n)
			}
		})
	}
}

// MLflow's 5xx text (here Python's OverflowError from SQLite) stays in the log; the client gets
// MLflow's error shape with the request id to quote.
func TestProxyHidesMLflow5xxText(t *testing.T) {
	_, reader := writerAndReader(t)
	const path = "/api/2.0/mlflow/experiments/get?experiment_id=99999999999999999999"
	direct, err := http.Get(h.MLflowURL + path)
	if err != nil {
		t.Fatal(err)
	}
	direct.Body.Close()
	if direct.StatusCode != 500 {
		t.Fatalf("MLflow itself answered %d; this test expects its 500", direct.StatusCode)
	}
	res, b := call(t, "GET", "/api/mlflow"+path, nil, bearer(reader))
	body := jsonBody(t, b)
	id := res.Header.Get("X-Request-Id")
	if res.StatusCode != 500 || body["error_code"] != "INTERNAL_ERROR" || id == "" || body["request_id"] != id ||
		!strings.Contains(body["message"].(string), id) {
		t.Errorf("%d %s (X-Request-Id %q)", res.StatusCode, b, id)
	}
	for _, internal := range []string{"Python", "SQLite", "int too large"} {
		if strings.Contains(string(b), internal) {
			t.Errorf("the answer carries %q: %s", internal, b)
		}
	}
	// The function logs before it answers, but its output reaches the buffer through a pipe.
	deadline := time.Now().Add(30 * time.Second)
	for !loggedLine(id, "Python int too large") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line holds request %s with MLflow's text", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loggedLine reports whether one line of the stack's output holds every one of parts.
func loggedLine(parts ...string) bool {
	for _, line := range strings.Split(output.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
