package mlflowproxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// Callers used across the tests.
var (
	reader = principal.Principal{UserID: "u-read", KeyID: "k-read", Scopes: []string{"mlflow:read"}}
	writer = principal.Principal{UserID: "u-write", KeyID: "k-write", Email: "w@example.com", Scopes: []string{"mlflow:write"}}
	admin  = principal.Principal{UserID: "u-admin", KeyID: "k-admin", Scopes: []string{"admin"}}
	nobody = principal.Principal{UserID: "u-none", KeyID: "k-none"}
)

// testConfig is a valid configuration for an upstream at rawURL.
func testConfig(t testing.TB, rawURL string, env map[string]string) mlflowproxy.Config {
	t.Helper()
	environ := map[string]string{"MLFLOW_URL": rawURL}
	for k, v := range env {
		environ[k] = v
	}
	cfg, err := loadConfig(environ)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newProxy builds the handler for an upstream at rawURL with no upstream credentials.
func newProxy(t testing.TB, rawURL string, env map[string]string) *mlflowproxy.Handler {
	t.Helper()
	cfg := testConfig(t, rawURL, env)
	creds, err := upstream.LoadCredentials(context.Background(), cfg.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	return mlflowproxy.New(cfg, creds, &owners{}, nil, quietLog())
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// event is the API Gateway event for a call by p (authorizer context set as the gateway does).
// A "?" in path starts the query, which API Gateway hands over parsed.
func event(method, path string, body []byte, p *principal.Principal, hdr http.Header) events.APIGatewayProxyRequest {
	var query url.Values
	if i := strings.IndexByte(path, '?'); i >= 0 {
		query, _ = url.ParseQuery(path[i+1:])
		path = path[:i]
	}
	ev := events.APIGatewayProxyRequest{
		MultiValueQueryStringParameters: query,
		HTTPMethod:                      method,
		Path:                            path,
		MultiValueHeaders:               hdr,
		RequestContext:                  events.APIGatewayProxyRequestContext{RequestID: "req-1"},
	}
	if p != nil {
		ev.RequestContext.Authorizer = p.Context()
	}
	if len(body) > 0 {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

// request is the *http.Request the Lambda adapters build for that event.
func request(t testing.TB, method, path string, body []byte, p *principal.Principal, hdr http.Header) *http.Request {
	t.Helper()
	return requestCtx(t, context.Background(), method, path, body, p, hdr)
}

// requestCtx is request within ctx (for example the invocation's deadline).
func requestCtx(t testing.TB, ctx context.Context, method, path string, body []byte, p *principal.Principal, hdr http.Header) *http.Request {
	t.Helper()
	r, err := apigw.NewRequest(ctx, event(method, path, body, p, hdr), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// mlflowBody decodes an answer in MLflow's error shape.
func mlflowBody(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body is not JSON: %q", b)
	}
	if _, ok := v["error_code"].(string); !ok {
		t.Fatalf("body lacks error_code: %s", b)
	}
	if _, ok := v["message"].(string); !ok {
		t.Fatalf("body lacks message: %s", b)
	}
	return v
}

// seen is what a recording upstream received.
type seen struct {
	Method, Path, RawPath, RawQuery, Host string
	Header                                http.Header
	ContentLength                         int64
	Body                                  []byte
}

// recorder is an upstream that records each request and answers with reply.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	calls []seen
	count atomic.Int64
}

func newRecorder(t testing.TB, reply http.HandlerFunc) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.calls = append(rec.calls, seen{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Host, r.Header.Clone(), r.ContentLength, body})
		rec.mu.Unlock()
		rec.count.Add(1)
		if reply != nil {
			reply(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) last(t testing.TB) seen {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) == 0 {
		t.Fatal("the upstream was not called")
	}
	return rec.calls[len(rec.calls)-1]
}

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

// gateway serves h over HTTP as API Gateway would call it: each request becomes a proxy event
// for caller and goes through the streaming adapter, so real clients (Go's, MLflow's Python
// client) can be pointed at it.
func gateway(t testing.TB, h http.Handler, caller principal.Principal) *httptest.Server {
	t.Helper()
	lambda := apigw.StreamingHandler(h, quietLog())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev := event(r.Method, r.URL.Path, body, &caller, r.Header)
		ev.MultiValueQueryStringParameters = r.URL.Query()
		res, err := lambda(r.Context(), ev)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Close()
		for k, vs := range res.MultiValueHeaders {
			w.Header()[k] = vs
		}
		w.WriteHeader(res.StatusCode)
		if _, err := io.Copy(w, res.Body); err != nil {
			panic(http.ErrAbortHandler) // a broken stream stays broken for the client
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// runPython runs a script with the project virtualenv's interpreter and returns its standard
// output. Only a missing interpreter is a missing dependency (testenv.Python); an interpreter
// that runs and fails is a failure, so an MLflow upgrade that moves a module the script imports
// fails the test instead of skipping it.
func runPython(t testing.TB, stdin string, args ...string) []byte {
	t.Helper()
	python := testenv.Python(t)
	cmd := exec.Command(python, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", python, strings.Join(args[:len(args)-1], " "), err, stderr.Bytes())
	}
	return out
}

// realMLflow returns the base URL of the package's MLflow server.
func realMLflow(t testing.TB) string {
	t.Helper()
	return testenv.MLflow(t).URL
}

func TestMain(m *testing.M) { testenv.Main(m) }

// do sends a request through the handler in-process and returns status and body.
func do(t testing.TB, h http.Handler, method, path string, body []byte, p principal.Principal, hdr http.Header) (int, http.Header, []byte) {
	t.Helper()
	rec := serve(h, request(t, method, path, body, &p, hdr))
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
