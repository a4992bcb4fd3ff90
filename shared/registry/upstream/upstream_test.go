package upstream_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

const secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow"

// fakeSecrets is a Secrets Manager holding one secret.
type fakeSecrets struct {
	id, value string
	calls     int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	if in.SecretId == nil || *in.SecretId != f.id {
		return nil, errors.New("ResourceNotFoundException: secret not found")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: &f.value}, nil
}

func load(t *testing.T, env map[string]string) upstream.Config {
	t.Helper()
	cfg, err := config.Load[upstream.Config](env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing URL", map[string]string{}, "MLFLOW_URL"},
		{"relative URL", map[string]string{"MLFLOW_URL": "mlflow:5000"}, "MLFLOW_URL"},
		{"credentials in URL", map[string]string{"MLFLOW_URL": "https://u:p@mlflow"}, "no credentials"},
		{"query in URL", map[string]string{"MLFLOW_URL": "https://mlflow/?a=b"}, "no credentials"},
		{"unknown auth", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": "oauth"}, "MLFLOW_UPSTREAM_AUTH"},
		{"basic without secret", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": "basic"}, "MLFLOW_UPSTREAM_SECRET_ARN is required"},
		{"bearer without secret", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": "bearer"}, "MLFLOW_UPSTREAM_SECRET_ARN is required"},
		{"secret unused", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_SECRET_ARN": "arn:x"}, "does not use it"},
		{"secret unused by forward", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": "forward", "MLFLOW_UPSTREAM_SECRET_ARN": "arn:x"}, "does not use it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load[upstream.Config](tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "u:p") {
				t.Errorf("error leaks URL credentials: %v", err)
			}
		})
	}
}

func TestLoadCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, mode, secret, wantErr string
	}{
		{"basic", "basic", `{"username":"svc","password":"s3cret"}`, ""},
		{"bearer", "bearer", `{"token":"tok-123"}`, ""},
		{"basic missing password", "basic", `{"username":"svc"}`, "username"},
		{"bearer missing token", "bearer", `{"username":"svc","password":"p"}`, "token"},
		{"not JSON", "bearer", `tok-123`, "not a JSON object"},
		{"JSON but not an object", "basic", `"s3cret"`, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := load(t, map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": tc.mode, "MLFLOW_UPSTREAM_SECRET_ARN": secretARN})
			sm := &fakeSecrets{id: secretARN, value: tc.secret}
			_, err := upstream.LoadCredentials(context.Background(), cfg, sm)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "tok-123")) {
				t.Errorf("error quotes the secret: %v", err)
			}
			if sm.calls != 1 {
				t.Errorf("secret read %d times, want once", sm.calls)
			}
		})
	}
}

func TestLoadCredentialsFailures(t *testing.T) {
	cfg := load(t, map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": "basic", "MLFLOW_UPSTREAM_SECRET_ARN": secretARN})
	if _, err := upstream.LoadCredentials(context.Background(), cfg, nil); err == nil {
		t.Error("basic auth without a Secrets Manager client loaded")
	}
	if _, err := upstream.LoadCredentials(context.Background(), cfg, &fakeSecrets{id: "other"}); err == nil || !strings.Contains(err.Error(), secretARN) {
		t.Errorf("missing secret: %v", err)
	}
	for _, mode := range []string{"none", "forward"} {
		sm := &fakeSecrets{id: secretARN}
		none := load(t, map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_UPSTREAM_AUTH": mode})
		if _, err := upstream.LoadCredentials(context.Background(), none, sm); err != nil || sm.calls != 0 {
			t.Errorf("%s needs no secret: %v, %d reads", mode, err, sm.calls)
		}
	}
}

// recorder is a stand-in MLflow that keeps the Authorization header of each request.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	auth [][]string
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.auth = append(rec.auth, r.Header.Values("Authorization"))
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) last(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.auth) == 0 {
		t.Fatal("MLflow was not called")
	}
	return strings.Join(r.auth[len(r.auth)-1], ",")
}

// TestTransport checks what reaches MLflow's Authorization header in each mode, for a call on a
// caller's behalf (through Caller, as the proxy and register make them) and for one without a
// caller (the health probe's).
func TestTransport(t *testing.T) {
	const callerAuth = "Bearer hk_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD"
	for _, tc := range []struct {
		mode, secret         string
		withCaller, noCaller string
	}{
		{"none", "", "", ""},
		{"basic", `{"username":"svc","password":"s3cret"}`, "Basic c3ZjOnMzY3JldA==", "Basic c3ZjOnMzY3JldA=="},
		{"bearer", `{"token":"tok-123"}`, "Bearer tok-123", "Bearer tok-123"},
		{"forward", "", callerAuth, ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			mlflow := newRecorder(t)
			env := map[string]string{"MLFLOW_URL": mlflow.URL + "/base", "MLFLOW_UPSTREAM_AUTH": tc.mode}
			if tc.secret != "" {
				env["MLFLOW_UPSTREAM_SECRET_ARN"] = secretARN
			}
			creds, err := upstream.LoadCredentials(context.Background(), load(t, env), &fakeSecrets{id: secretARN, value: tc.secret})
			if err != nil {
				t.Fatal(err)
			}
			client := creds.Client()
			// A handler that calls MLflow with its request's context, as register's does; the
			// request it builds carries a stale Authorization that must never get through.
			h := creds.Caller(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequestWithContext(r.Context(), "GET", mlflow.URL+"/base/api/2.0/mlflow/experiments/get", nil)
				req.Header.Set("Authorization", "Basic c3RhbGU6c3RhbGU=")
				res, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				if req.Header.Get("Authorization") != "Basic c3RhbGU6c3RhbGU=" {
					t.Error("the transport changed the caller's request")
				}
			}))
			in := httptest.NewRequest("GET", "/api/models/register", nil)
			in.Header.Set("Authorization", callerAuth)
			h.ServeHTTP(httptest.NewRecorder(), in)
			if got := mlflow.last(t); got != tc.withCaller {
				t.Errorf("on a caller's behalf: Authorization %q, want %q", got, tc.withCaller)
			}

			res, err := client.Get(mlflow.URL + "/base/health")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := mlflow.last(t); got != tc.noCaller {
				t.Errorf("without a caller: Authorization %q, want %q", got, tc.noCaller)
			}
		})
	}
}

// TestTransportOnlyReachesMLflow: credentials, ours or the caller's, go to MLFLOW_URL's origin
// and nowhere else — not to another host, port or scheme, and not through a redirect.
func TestTransportOnlyReachesMLflow(t *testing.T) {
	elsewhere := newRecorder(t)
	mlflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer mlflow.Close()
	cfg := load(t, map[string]string{"MLFLOW_URL": mlflow.URL, "MLFLOW_UPSTREAM_AUTH": "bearer", "MLFLOW_UPSTREAM_SECRET_ARN": secretARN})
	creds, err := upstream.LoadCredentials(context.Background(), cfg, &fakeSecrets{id: secretARN, value: `{"token":"tok-123"}`})
	if err != nil {
		t.Fatal(err)
	}
	client := creds.Client()
	res, err := client.Get(mlflow.URL + "/api/2.0/mlflow/experiments/get")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("redirect followed: %d", res.StatusCode)
	}
	if _, err := client.Get(elsewhere.URL + "/x"); !errors.Is(err, upstream.ErrNotMLflow) {
		t.Errorf("a request to another origin: %v, want ErrNotMLflow", err)
	}
	if _, err := (upstream.Credentials{}).Client().Get(mlflow.URL); !errors.Is(err, upstream.ErrNotMLflow) {
		t.Errorf("the zero Credentials reached MLflow: %v", err)
	}
	elsewhere.mu.Lock()
	defer elsewhere.mu.Unlock()
	if len(elsewhere.auth) != 0 {
		t.Errorf("another origin was called %d times", len(elsewhere.auth))
	}
}
