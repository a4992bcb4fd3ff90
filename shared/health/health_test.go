package health_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/config"
	"github.com/hokusai-protocol/registry-gateway/shared/health"
)

func newHandler(t *testing.T, mlflowURL string, timeout time.Duration) *health.Handler {
	t.Helper()
	cfg, err := config.Load[health.Config](map[string]string{
		"MLFLOW_URL": mlflowURL, "MLFLOW_HEALTH_TIMEOUT": timeout.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return health.New(cfg, "v1.2.3", &http.Client{})
}

func get(t *testing.T, h http.Handler, method, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: body not JSON: %q", method, path, rec.Body)
	}
	return rec.Code, body
}

func TestLiveness(t *testing.T) {
	h := newHandler(t, "http://127.0.0.1:1", time.Second)
	status, body := get(t, h, "GET", "/health")
	if status != 200 || body["status"] != "ok" || body["version"] != "v1.2.3" {
		t.Errorf("%d %v", status, body)
	}
	if status, body := get(t, h, "GET", "/health/nothing"); status != 404 || body["error"] != "NOT_FOUND" {
		t.Errorf("unknown route: %d %v", status, body)
	}
	if status, body := get(t, h, "DELETE", "/health"); status != 405 || body["error"] != "METHOD_NOT_ALLOWED" {
		t.Errorf("wrong method: %d %v", status, body)
	}
}

func TestMLflowProbe(t *testing.T) {
	var gotPath, gotQuery string
	upstream := func(status int, delay time.Duration) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gotPath, gotQuery = r.URL.Path, r.URL.RawQuery
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"registered_models":[]}`))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}

	for _, tc := range []struct {
		name     string
		url      func() string
		timeout  time.Duration
		status   int
		errType  string
		errMatch string
	}{
		{"healthy", func() string { return upstream(200, 0).URL }, time.Second, 200, "", ""},
		{"healthy under a path prefix", func() string { return upstream(200, 0).URL + "/mlflow" }, time.Second, 200, "", ""},
		{"upstream error", func() string { return upstream(500, 0).URL }, time.Second, 503, "http_error", "error status"},
		{"too slow", func() string { return upstream(200, time.Second).URL }, 50 * time.Millisecond, 503, "timeout", "did not answer within 50ms"},
		{"unreachable", closed, time.Second, 503, "connection_error", "could not be reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.url()
			status, body := get(t, newHandler(t, base, tc.timeout), "GET", "/health/mlflow")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.status == 200 {
				if body["status"] != "ok" || body["mlflow_url"] != base {
					t.Errorf("body %v", body)
				}
				if _, ok := body["latency_ms"].(float64); !ok {
					t.Errorf("latency_ms missing: %v", body)
				}
				if !strings.HasSuffix(gotPath, "/api/2.0/mlflow/registered-models/search") || gotQuery != "max_results=1" {
					t.Errorf("probed %s?%s", gotPath, gotQuery)
				}
				return
			}
			if body["status"] != "error" || body["error_type"] != tc.errType || !strings.Contains(body["error"].(string), tc.errMatch) {
				t.Errorf("body %v", body)
			}
			if strings.Contains(body["error"].(string), "127.0.0.1") {
				t.Errorf("transport detail leaked: %v", body["error"])
			}
		})
	}
}

func TestMLflowURLCredentialsNeverShown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("admin", "s3cret")
	_, body := get(t, newHandler(t, u.String(), time.Second), "GET", "/health/mlflow")
	if strings.Contains(body["mlflow_url"].(string), "s3cret") {
		t.Errorf("credentials shown: %v", body)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"MLFLOW_URL": "not a url"},
		{"MLFLOW_URL": "http://x", "MLFLOW_HEALTH_TIMEOUT": "0s"},
	} {
		if _, err := config.Load[health.Config](env); err == nil {
			t.Errorf("accepted %v", env)
		}
	}
}
