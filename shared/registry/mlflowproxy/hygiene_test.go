package mlflowproxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// loggedRequest is request with the production logger writing to buf.
func loggedRequest(t *testing.T, buf *bytes.Buffer, method, path string, p principal.Principal) *http.Request {
	t.Helper()
	r, err := apigw.NewRequest(context.Background(), event(method, path, nil, &p, nil), logging.New(buf, slog.LevelInfo, "mlflowproxy"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestProxyRefusesInternalEndpointsForEveryone(t *testing.T) {
	up := newRecorder(t, nil)
	for _, env := range []map[string]string{nil, {"MLFLOW_AJAX_API": "true"}} {
		h := newProxy(t, up.URL, env)
		for _, tc := range internalRoutes {
			for _, path := range variants(tc.path) {
				code, _, body := do(t, h, tc.method, path, []byte(`{}`), admin, nil)
				v := mlflowBody(t, body)
				if code != http.StatusNotFound {
					t.Errorf("%s %s: %d %s", tc.method, path, code, body)
				}
				if strings.Contains(path, ".0/mlflow/") && v["error_code"] != "ENDPOINT_NOT_FOUND" {
					t.Errorf("%s %s: %s", tc.method, path, body)
				}
			}
		}
	}
	if n := up.count.Load(); n != 0 {
		t.Errorf("MLflow was called %d times", n)
	}
}

func TestProxyRefusesKeysInTheQuery(t *testing.T) {
	up := newRecorder(t, nil)
	h := newProxy(t, up.URL, nil)
	const path = "/api/mlflow/api/2.0/mlflow/experiments/search"
	for _, q := range []string{
		"api_key=" + fullKey,
		"max_results=1&api_key=" + fullKey,
		"apikey=x",
		"API-KEY=x",
		"Api.Key=x",
		"x_api_key=x",
		"access_token=x",
		"token=x",
		"authorization=Bearer%20x",
		"filter=" + url.QueryEscape("name = '"+fullKey+"'"),
		"q=Bearer+" + fullKey,
		"q=" + strings.Replace(fullKey, "h", "%68", 1),
		"q=" + strings.Replace(fullKey, "h", "%2568", 1),
		"q=" + fullKey + "xyz_more",
		fullKey + "=1",
		"page_token=abc&apikey",
		// What the log redacts (logging.HoldsKey) is refused too; a hand-written scan once let
		// these through: a secret too short or too long to be issued, or cut by "_".
		"filter=" + url.QueryEscape("tags.k = 'hk_live_short'"),
		"q=hk_test_" + fullKey[8:27],
		"q=hk_dev_" + fullKey[8:] + fullKey[8:],
		"q=hk_live_AB_" + fullKey[8:],
		"q=hk_live_" + strings.Replace(fullKey[8:], "m", "%255F", 1),
	} {
		r := request(t, "GET", path, nil, &writer, nil)
		r.URL.RawQuery = q
		rec := serve(h, r)
		v := mlflowBody(t, rec.Body.Bytes())
		if rec.Code != http.StatusBadRequest || v["error_code"] != "INVALID_PARAMETER_VALUE" || !strings.Contains(v["message"].(string), "query string") {
			t.Errorf("%q: %d %s", q, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), fullKey[8:]) {
			t.Errorf("%q: the answer echoes the key: %s", q, rec.Body)
		}
	}
	if n := up.count.Load(); n != 0 {
		t.Errorf("MLflow was called %d times", n)
	}
	// MLflow's own parameters that look similar pass.
	for _, q := range []string{
		"max_results=1&page_token=abc", "run_id=r&metric_key=loss", "key=team", "filter=" + url.QueryEscape("tags.k = 'hk_prod_x'"),
		"secret_id=s", "tag_key=k", "q=HK_LIVE_" + fullKey[8:], "q=hk_live_",
	} {
		r := request(t, "GET", path, nil, &writer, nil)
		r.URL.RawQuery = q
		if rec := serve(h, r); rec.Code != 200 || up.last(t).RawQuery != q {
			t.Errorf("%q: %d %s", q, rec.Code, rec.Body)
		}
	}
}

func TestProxyErrorsNeverEchoAKey(t *testing.T) {
	html404 := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<h1>Not Found</h1>")
	})
	h := newProxy(t, html404.URL, nil)
	encoded := strings.Replace(fullKey, "h", "%68", 1)
	for _, path := range []string{
		"/api/mlflow/" + fullKey,                                    // not MLflow's API
		"/api/mlflow/" + encoded,                                    // the same, encoded
		"/mlflow/" + fullKey + "/api/2.0/mlflow/runs/get",           // a key pasted in place of the mount
		"/api/mlflow/api/2.0/mlflow/runs/get/" + fullKey,            // MLflow's HTML 404
		"/api/mlflow/api/2.0/mlflow/x/" + encoded + ".json",         // MLflow's HTML 404, encoded
		"/api/mlflow/ajax-api/3.0/mlflow/assistant/" + fullKey,      // an internal endpoint
		"/api/mlflow/api/2.0/mlflow-artifacts/artifacts/" + fullKey, // a 404 of the artifact API
	} {
		code, _, body := do(t, h, "GET", path, nil, admin, nil)
		if code != http.StatusNotFound || strings.Contains(string(body), fullKey[8:]) || strings.Contains(string(body), encoded[8:]) {
			t.Errorf("%s: %d %s", path, code, body)
		}
		if v := mlflowBody(t, body); !strings.Contains(v["message"].(string), "hk_live_[REDACTED]") {
			t.Errorf("%s: the message does not say what was asked for: %s", path, body)
		}
	}
}

// An MLflow 5xx keeps its status and loses its text, which is logged.
func TestProxyHidesMLflow5xx(t *testing.T) {
	const internals = `{"error_code": "INTERNAL_ERROR", "message": "botocore.exceptions.ClientError: NoSuchBucket: mlflow-artifacts-prod-1234 (key ` + fullKey + `)"}`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		gzip                    bool
	}{
		{"JSON 500", "application/json", internals, 500, false},
		{"gzipped JSON 500", "application/json", internals, 500, true},
		{"HTML 500", "text/html", "<pre>Traceback (most recent call last): NoSuchBucket mlflow-artifacts-prod-1234</pre>", 500, false},
		{"plain 502 of a server in front of MLflow", "text/plain", "upstream connect error: mlflow-artifacts-prod-1234", 502, false},
		{"JSON 503", "application/json", `{"error_code":"TEMPORARILY_UNAVAILABLE","message":"sqlite3.OperationalError at mlflow-artifacts-prod-1234"}`, 503, false},
		{"long 500", "text/plain", "mlflow-artifacts-prod-1234 " + strings.Repeat("x", 200<<10), 500, false},
		{"long gzipped 500", "text/plain", "mlflow-artifacts-prod-1234 " + strings.Repeat("x", 200<<10), 500, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.Header().Set("Retry-After", "1")
				if !tc.gzip {
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, tc.body)
					return
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.WriteHeader(tc.status)
				zw := gzip.NewWriter(w)
				_, _ = io.WriteString(zw, tc.body)
				_ = zw.Close()
			})
			h := newProxy(t, up.URL, nil)
			var logs bytes.Buffer
			r := loggedRequest(t, &logs, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", reader)
			if tc.gzip {
				r.Header.Set("Accept-Encoding", "gzip") // the client's: the answer arrives still gzipped
			}
			rec := serve(h, r)
			v := mlflowBody(t, rec.Body.Bytes())
			if rec.Code != tc.status || v["error_code"] != "INTERNAL_ERROR" || v["request_id"] != "req-1" ||
				!strings.Contains(v["message"].(string), "req-1") || strings.Contains(rec.Body.String(), "mlflow-artifacts-prod") {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
			if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Encoding") != "" {
				t.Errorf("headers %v", rec.Header())
			}
			line := logs.String()
			if !strings.Contains(line, "mlflow-artifacts-prod-1234") || !strings.Contains(line, `"request_id":"req-1"`) || strings.Contains(line, fullKey) {
				t.Errorf("log: %s", line)
			}
			if len(line) > 8<<10 {
				t.Errorf("log line of %d bytes", len(line))
			}
		})
	}
}

// A 4xx passes unchanged only as JSON; anything else is replaced, the page logged.
func TestProxyReplacesA4xxThatIsNotJSON(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		relayed                 bool
	}{
		{"MLflow's JSON 400", "application/json", `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad"}`, 400, true},
		{"FastAPI's JSON 422", "application/json", `{"detail":[{"loc":["body"],"msg":"Field required"}]}`, 422, true},
		{"a traceback labelled JSON", "application/json", "Traceback (most recent call last):\n  File \"/srv/mlflow/handlers.py\"", 400, false},
		{"HTML 403 of a server in front of MLflow", "text/html", "<h1>403</h1><p>nginx/1.25 at 10.0.3.7</p>", 403, false},
		{"plain 405", "text/plain", "Method Not Allowed (werkzeug at /srv/mlflow)", 405, false},
		{"no content type", "", "internal: /srv/mlflow", 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["Content-Type"] = []string{tc.contentType}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			h := newProxy(t, up.URL, nil)
			code, _, body := do(t, h, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, reader, nil)
			if code != tc.status {
				t.Errorf("status %d", code)
			}
			if tc.relayed {
				if string(body) != tc.body {
					t.Errorf("body %q", body)
				}
				return
			}
			if mlflowBody(t, body); strings.Contains(string(body), "/srv/mlflow") || strings.Contains(string(body), "10.0.3.7") {
				t.Errorf("body %s", body)
			}
		})
	}
}
