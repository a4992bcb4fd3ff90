package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/health"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
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

// TestRetryAfter: every 503 of the probe tells clients when to look again.
func TestRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	for name, base := range map[string]string{"error status": srv.URL, "unreachable": "http://127.0.0.1:1"} {
		rec := httptest.NewRecorder()
		newHandler(t, base, time.Second).ServeHTTP(rec, httptest.NewRequest("GET", "/health/mlflow", nil))
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "5" {
			t.Errorf("%s: %d, Retry-After %q, want 503 and 5", name, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	rec := httptest.NewRecorder()
	newHandler(t, "http://127.0.0.1:1", time.Second).ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Header().Get("Retry-After") != "" {
		t.Errorf("a 200 carries Retry-After %q", rec.Header().Get("Retry-After"))
	}
}

type secret string

func (s secret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v := string(s)
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

// TestProbeAuthenticates: the probe reaches MLflow with the upstream credentials, as the proxy
// and register do; in forward mode it has no caller, sends nothing, and takes MLflow's 401 as an
// answer.
func TestProbeAuthenticates(t *testing.T) {
	const want = "Basic c3ZjOnMzY3JldA==" // svc:s3cret
	mlflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case want:
			_, _ = w.Write([]byte(`{"registered_models":[]}`))
		default:
			http.Error(w, "You are not authenticated.", http.StatusUnauthorized)
		}
	}))
	defer mlflow.Close()
	for _, tc := range []struct {
		mode, secret string
		status       int
		credentials  any
	}{
		{"basic", `{"username":"svc","password":"s3cret"}`, 200, nil},
		{"basic", `{"username":"svc","password":"wrong"}`, 503, nil},
		{"none", "", 503, nil},
		{"forward", "", 200, "not_checked"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			env := map[string]string{"MLFLOW_URL": mlflow.URL, "MLFLOW_UPSTREAM_AUTH": tc.mode}
			if tc.secret != "" {
				env["MLFLOW_UPSTREAM_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow"
			}
			cfg, err := config.Load[health.Config](env)
			if err != nil {
				t.Fatal(err)
			}
			creds, err := upstream.LoadCredentials(context.Background(), cfg.Config, secret(tc.secret))
			if err != nil {
				t.Fatal(err)
			}
			status, body := get(t, health.New(cfg, "v", creds.Client()), "GET", "/health/mlflow")
			if status != tc.status || body["credentials"] != tc.credentials {
				t.Errorf("%d %v, want %d with credentials %v", status, body, tc.status, tc.credentials)
			}
		})
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"MLFLOW_URL": "not a url"},
		{"MLFLOW_URL": "http://x", "MLFLOW_HEALTH_TIMEOUT": "0s"},
		{"MLFLOW_URL": "http://admin:s3cret@x"},
		{"MLFLOW_URL": "http://x", "MLFLOW_UPSTREAM_AUTH": "basic"},
	} {
		if _, err := config.Load[health.Config](env); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: %v", env, err)
		}
	}
}

// secrets is a Secrets Manager whose secret an operator fills in later: until then it answers
// err, or a value that is not usable credentials.
type secrets struct {
	mu    sync.Mutex
	value *string
	err   error
	calls int
}

func (s *secrets) set(value *string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.value, s.err = value, err
}

func (s *secrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: s.value}, nil
}

// TestUnavailableCredentials: a missing or malformed upstream secret leaves /health alive and
// /health/mlflow answering 503 credentials_unavailable with Retry-After, the reason logged and
// the secret's value nowhere; once the secret is filled in, the next look after Retry-After heals
// the container, and until then the secret is not read again.
func TestUnavailableCredentials(t *testing.T) {
	mlflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The filled-in secret's credentials, as basic (svc:s3cret) and as bearer.
		if a := r.Header.Get("Authorization"); a != "Basic c3ZjOnMzY3JldA==" && a != "Bearer s3cret" {
			http.Error(w, "You are not authenticated.", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"registered_models":[]}`))
	}))
	defer mlflow.Close()
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name, mode string
		value      *string
		err        error
		reason     string
	}{
		{"secret missing", "basic", nil, errors.New("ResourceNotFoundException: Secrets Manager can't find the specified secret value"), "can't find"},
		{"no string value", "basic", nil, nil, "no string value"},
		{"not JSON", "basic", str("hunter2-not-json"), nil, "not a JSON object"},
		{"no password", "basic", str(`{"username":"svc","password":""}`), nil, "basic auth needs"},
		{"no token", "bearer", str(`{"token":"","password":"hunter2-leftover"}`), nil, "bearer auth needs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load[health.Config](map[string]string{
				"MLFLOW_URL": mlflow.URL, "MLFLOW_UPSTREAM_AUTH": tc.mode,
				"MLFLOW_UPSTREAM_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow",
			})
			if err != nil {
				t.Fatal(err)
			}
			sm := &secrets{value: tc.value, err: tc.err}
			var logs bytes.Buffer
			h := health.Load(cfg, "v", sm, logging.New(&logs, slog.LevelInfo, "health"))
			now := time.Now()
			h.SetClock(func() time.Time { return now })

			if status, body := get(t, h, "GET", "/health"); status != 200 || body["status"] != "ok" {
				t.Errorf("/health: %d %v", status, body)
			}
			for range 3 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/health/mlflow", nil))
				var body map[string]any
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != 503 || body["error_type"] != "credentials_unavailable" || rec.Header().Get("Retry-After") != "5" ||
					!strings.Contains(fmt.Sprint(body["error"]), "credentials") {
					t.Errorf("/health/mlflow: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
				}
				if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "Secrets Manager") {
					t.Errorf("the answer quotes the secret or its store: %s", rec.Body)
				}
			}
			if sm.calls != 1 {
				t.Errorf("the secret was read %d times within Retry-After, want once", sm.calls)
			}
			if !strings.Contains(logs.String(), "credentials unavailable") || !strings.Contains(logs.String(), tc.reason) {
				t.Errorf("the log does not give the reason %q:\n%s", tc.reason, logs.String())
			}
			if strings.Contains(logs.String(), "hunter2") {
				t.Errorf("the secret was logged:\n%s", logs.String())
			}

			// The operator fills the secret in; the next look after Retry-After gets in.
			sm.set(str(`{"username":"svc","password":"s3cret","token":"s3cret"}`), nil)
			now = now.Add(health.RetryAfter)
			status, body := get(t, h, "GET", "/health/mlflow")
			if status != 200 || body["status"] != "ok" {
				t.Errorf("after the secret is filled in: %d %v", status, body)
			}
		})
	}
}
