package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
)

// pageScript is the first script MLflow's index.html loads, relative to the page.
var pageScript = regexp.MustCompile(`<script[^>]+src="(static-files/[^"]+\.js)"`)

// TestMLflowUIThroughTheGateway opens MLflow's UI where the client's printed links point
// (<tracking URI>/#/experiments/<id>/runs/<run>: the browser asks for <tracking URI>/) under every
// tracking-URI mount, through the gateway, the authorizer and the proxy, with a key in the
// Authorization header: the page with its CSP and no-cache, its script streamed and immutable, and
// the data calls it makes relative to itself. A read key loads the pages and reads, and its write
// is refused in MLflow's shape.
func TestMLflowUIThroughTheGateway(t *testing.T) {
	admin := adminKey(t)
	writeKey, _ := createKey(t, admin, "e2e-ui-writer", "mlflow:write")
	readKey, _ := createKey(t, admin, "e2e-ui-reader", "mlflow:read")

	// What the UI shows: an experiment, a run, a metric, made through the UI's own routes.
	name := fmt.Sprintf("e2e-ui-%d", time.Now().UnixNano())
	created := ajax(t, writeKey, "POST", "/api/mlflow/ajax-api/2.0/mlflow/experiments/create", map[string]any{"name": name}, http.StatusOK)
	expID := created["experiment_id"].(string)
	run := ajax(t, writeKey, "POST", "/api/mlflow/ajax-api/2.0/mlflow/runs/create", map[string]any{"experiment_id": expID}, http.StatusOK)
	runID := run["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	ajax(t, writeKey, "POST", "/api/mlflow/ajax-api/2.0/mlflow/runs/log-metric",
		map[string]any{"run_id": runID, "key": "loss", "value": 0.25, "timestamp": 1, "step": 0}, http.StatusOK)

	for _, key := range []string{writeKey, readKey} {
		for _, mount := range []string{"/api/mlflow/", "/mlflow/", "/"} {
			res, page := call(t, "GET", mount, nil, bearer(key))
			if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `<div id="root"`) ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET %s: %d %v %.300s", mount, res.StatusCode, res.Header, page)
			}
			if res.Header.Get("Content-Security-Policy") != mlflowproxy.ContentSecurityPolicy || res.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("GET %s: CSP %q, Cache-Control %q", mount, res.Header.Get("Content-Security-Policy"), res.Header.Get("Cache-Control"))
			}
			m := pageScript.FindSubmatch(page)
			if m == nil {
				t.Fatalf("GET %s: no script in %s", mount, page)
			}
			res, js := call(t, "GET", mount+string(m[1]), nil, bearer(key))
			if res.StatusCode != http.StatusOK || len(js) < 100_000 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") ||
				res.Header.Get("Cache-Control") != "private, max-age=31536000, immutable" {
				t.Errorf("GET %s%s: %d %v, %d bytes", mount, m[1], res.StatusCode, res.Header, len(js))
			}
			// The run page's data: the run, and its metric chart's UI-only bulk history.
			got := ajax(t, key, "GET", mount+"ajax-api/2.0/mlflow/runs/get?run_id="+runID, nil, http.StatusOK)
			if got["run"].(map[string]any)["info"].(map[string]any)["experiment_id"] != expID {
				t.Errorf("%s runs/get: %v", mount, got)
			}
			hist := ajax(t, key, "GET", mount+"ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id="+runID+"&metric_key=loss", nil, http.StatusOK)
			if ms, _ := hist["metrics"].([]any); len(ms) != 1 {
				t.Errorf("%s metrics/get-history-bulk: %v", mount, hist)
			}
		}
	}

	t.Run("a mount root without its slash leads to the page", func(t *testing.T) {
		for _, mount := range []string{"/api/mlflow", "/mlflow"} {
			res, page := call(t, "GET", mount, nil, bearer(readKey)) // the client follows the 308
			if res.StatusCode != http.StatusOK || res.Request.URL.Path != mount+"/" || !strings.Contains(string(page), `<div id="root"`) {
				t.Errorf("GET %s: %d at %s", mount, res.StatusCode, res.Request.URL)
			}
		}
	})

	t.Run("a read key's write through the UI is refused in MLflow's shape", func(t *testing.T) {
		body := ajax(t, readKey, "POST", "/ajax-api/2.0/mlflow/runs/create", map[string]any{"experiment_id": expID}, http.StatusForbidden)
		if body["error_code"] != "PERMISSION_DENIED" || body["required_scope"] != "write" {
			t.Errorf("runs/create with a read key: %v", body)
		}
	})

	t.Run("the UI needs a key like the API", func(t *testing.T) {
		for _, path := range []string{"/", "/api/mlflow/", "/static-files/" + "favicon.ico", "/ajax-api/2.0/mlflow/experiments/search"} {
			res, b := call(t, "GET", path, nil, nil)
			assertUnauthorized(t, res, b)
		}
	})
}

// ajax makes one of the UI's JSON calls with key and returns its decoded answer, which must have
// status want.
func ajax(t *testing.T, key, method, path string, body any, want int) map[string]any {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	hdr := bearer(key)
	hdr["Content-Type"] = "application/json"
	res, b := call(t, method, path, rd, hdr)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return jsonBody(t, b)
}
