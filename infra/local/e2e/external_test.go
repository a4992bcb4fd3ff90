package e2e

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
	"github.com/hokusai-protocol/registry-gateway/infra/stack"
)

// synthTemplate synthesizes env's stack with context overrides, as `cdk synth -c k=v` would, and
// returns the template's path.
func synthTemplate(t testing.TB, env string, overrides map[string]string) string {
	t.Helper()
	cfg, err := stack.Load(env, func(k string) (string, bool) { v, ok := overrides[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	// Asset and path metadata, as the CLI asks for: the harness finds binaries and names by them.
	app := awscdk.NewApp(&awscdk.AppProps{
		Outdir:  jsii.String(t.TempDir()),
		Context: &map[string]any{"aws:cdk:enable-asset-metadata": true, "aws:cdk:enable-path-metadata": true},
	})
	stack.New(app, stack.StackName(env), stack.Props{Env: cfg, BuildDir: filepath.Join(root, ".local/build")})
	asm := app.Synth(nil)
	return filepath.Join(*asm.Directory(), stack.StackName(env)+".template.json")
}

// authService is a stand-in Hokusai auth service the test controls, key by key.
type authService struct {
	mu       sync.Mutex
	modes    map[string]string // key → up|401|429|500|hang
	calls    int
	requests []authRequest
}

type authRequest struct {
	Authorization string
	ServiceID     string `json:"service_id"`
	ClientIP      string `json:"client_ip"`
}

func (a *authService) set(key, mode string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.modes[key] = mode
}

func (a *authService) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

func (a *authService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req authRequest
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &req)
	req.Authorization = r.Header.Get("Authorization")
	key := strings.TrimPrefix(req.Authorization, "Bearer ")
	a.mu.Lock()
	a.calls++
	a.requests = append(a.requests, req)
	mode := a.modes[key]
	a.mu.Unlock()
	if r.URL.Path != "/api/v1/keys/validate" || r.Method != "POST" {
		http.NotFound(w, r)
		return
	}
	switch mode {
	case "401":
		http.Error(w, `{"detail":"invalid key"}`, 401)
	case "429":
		http.Error(w, `{"detail":"slow down"}`, 429)
	case "500":
		http.Error(w, "boom", 500)
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"user_id": "ext-" + key[len(key)-4:], "email": "ext@e2e.test", "key_id": "k-" + key[len(key)-4:],
			"service_id": "platform", "scopes": []string{"model:read"}, "is_admin": false,
		})
	}
}

func liveKey(tag string) string { return "hk_live_" + strings.Repeat(tag, 40/len(tag)) }

const putItem = "DynamoDB_20120810.PutItem"

// getKeys calls GET /api/keys with headers and decodes the JSON answer.
func getKeys(t *testing.T, apiURL string, headers map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", apiURL+"/api/keys", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("not JSON: %q", b)
	}
	return res, body
}

// keysAPIReached: in external mode the keys API answers 404 KEYS_API_DISABLED, so reaching it
// proves the key got past the authorizer.
func keysAPIReached(body map[string]any) bool { return body["error"] == "KEYS_API_DISABLED" }

func TestExternalAuthService(t *testing.T) {
	svc := &authService{modes: map[string]string{}}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	const ttl, grace = 3 * time.Second, 3 * time.Second
	tmpl := synthTemplate(t, "local", map[string]string{
		"authSource": "external", "authServiceUrl": srv.URL, "allowedKeyPrefixes": "live",
		"keyEnvironment": "live", "authCacheTtl": "3", "authStaleGrace": "3",
	})
	// Each subtest meets the service's answer to its own key. The outage memory would carry one
	// subtest's failure into the next; TestAuthServiceOutageFailsFast tests it on its own.
	withFunctionEnv(t, tmpl, "authorizer", map[string]string{"AUTH_SERVICE_OUTAGE_WINDOW": "0"})
	ext, out := startStack(t, tmpl, harness.Options{})
	get := func(key string, extra map[string]string) (*http.Response, map[string]any) {
		headers := bearer(key)
		maps.Copy(headers, extra)
		return getKeys(t, ext.APIURL, headers)
	}
	allowed := keysAPIReached
	counts := func() (getItems, putItems, service int) {
		ops := ext.Faults.Operations()
		return ops[getItem], ops[putItem], svc.count()
	}
	reset := func() {
		ext.Faults.ResetCounts()
		svc.mu.Lock()
		svc.calls = 0
		svc.mu.Unlock()
	}

	good := liveKey("Good")
	t.Run("valid key: one GetItem, one service call, one PutItem; then a memory hit costs nothing", func(t *testing.T) {
		reset()
		res, body := get(good, map[string]string{"X-Forwarded-For": "6.6.6.6"})
		if !allowed(body) {
			t.Fatalf("%d %v", res.StatusCode, body)
		}
		if g, p, s := counts(); g != 1 || p != 1 || s != 1 {
			t.Errorf("miss: %d GetItem, %d PutItem, %d service calls; want 1, 1, 1", g, p, s)
		}
		svc.mu.Lock()
		last := svc.requests[len(svc.requests)-1]
		svc.mu.Unlock()
		if last.Authorization != "Bearer "+good || last.ServiceID != "platform" || last.ClientIP != "127.0.0.1" {
			t.Errorf("auth service got %+v (client_ip must be the source IP, not X-Forwarded-For)", last)
		}
		reset()
		get(good, nil)
		if g, p, s := counts(); g+p+s != 0 {
			t.Errorf("memory hit: %d GetItem, %d PutItem, %d service calls; want none", g, p, s)
		}
	})

	t.Run("a new container finds the DynamoDB cache: one GetItem", func(t *testing.T) {
		fn, pool := ext.Function("authorizer")
		killAll(t, filepath.Join(fn.AssetDir, "bootstrap"))
		before := pool.Stats().ColdStarts
		reset()
		if _, body := get(good, nil); !allowed(body) {
			t.Fatalf("%v", body)
		}
		if pool.Stats().ColdStarts == before {
			t.Fatal("the request did not reach a new authorizer instance")
		}
		if g, p, s := counts(); g != 1 || p != 0 || s != 0 {
			t.Errorf("DynamoDB cache hit: %d GetItem, %d PutItem, %d service calls; want 1, 0, 0", g, p, s)
		}
	})

	for _, tc := range []struct {
		mode       string
		status     int
		code       string
		retryAfter string
	}{
		{"401", 401, "UNAUTHORIZED", ""},
		{"429", 429, "RATE_LIMITED", "60"},
		{"500", 503, "AUTH_SERVICE_UNAVAILABLE", "1"},
		{"hang", 503, "AUTH_SERVICE_UNAVAILABLE", "1"},
	} {
		t.Run("service answers "+tc.mode, func(t *testing.T) {
			key := liveKey("M" + tc.mode)
			svc.set(key, tc.mode)
			res, body := get(key, nil)
			if res.StatusCode != tc.status || body["error"] != tc.code || res.Header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("%d %v Retry-After %q", res.StatusCode, body, res.Header.Get("Retry-After"))
			}
		})
	}

	t.Run("a key of a disallowed environment costs no call", func(t *testing.T) {
		reset()
		res, body := get("hk_test_"+strings.Repeat("T", 40), nil)
		if res.StatusCode != 401 || body["error"] != "UNAUTHORIZED" {
			t.Errorf("%d %v", res.StatusCode, body)
		}
		if g, p, s := counts(); g+p+s != 0 {
			t.Errorf("%d GetItem, %d PutItem, %d service calls; want none", g, p, s)
		}
	})

	t.Run("outage grace is honoured, then expires", func(t *testing.T) {
		key := liveKey("Grace")
		if _, body := get(key, nil); !allowed(body) {
			t.Fatalf("%v", body)
		}
		validated := time.Now()
		svc.set(key, "500")
		time.Sleep(time.Until(validated.Add(ttl + 300*time.Millisecond)))
		if res, body := get(key, nil); !allowed(body) {
			t.Errorf("within the grace: %d %v", res.StatusCode, body)
		}
		time.Sleep(time.Until(validated.Add(ttl + grace + 500*time.Millisecond)))
		if res, body := get(key, nil); res.StatusCode != 503 || body["error"] != "AUTH_SERVICE_UNAVAILABLE" {
			t.Errorf("after the grace: %d %v", res.StatusCode, body)
		}
	})

	t.Run("no key in any log line", func(t *testing.T) {
		logs := out.String()
		for _, k := range []string{good, liveKey("Grace"), liveKey("M500")} {
			if strings.Contains(logs, k) {
				t.Errorf("key found in output")
			}
		}
		if !strings.Contains(logs, "[authorizer]") {
			t.Error("authorizer output not collected")
		}
	})
}
