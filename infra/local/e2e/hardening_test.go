package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
)

// withFunctionEnv sets variables of one function (by its short name, as harness.Function takes it)
// in a synthesized template: for settings the stack has no context for.
func withFunctionEnv(t testing.TB, tmpl, function string, vars map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range doc["Resources"].(map[string]any) {
		res := r.(map[string]any)
		path, _ := res["Metadata"].(map[string]any)["aws:cdk:path"].(string)
		segs := strings.Split(path, "/")
		if res["Type"] != "AWS::Lambda::Function" || len(segs) < 2 || !strings.EqualFold(segs[1], function+"Function") {
			continue
		}
		env := res["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
		for k, v := range vars {
			env[k] = v
		}
		found = true
	}
	if !found {
		t.Fatalf("no function %s in %s", function, tmpl)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// An auth service that hangs costs one timeout per container and outage window, not one per
// request: the next request gets its 503 without a call, and a key within the grace still gets in.
func TestAuthServiceOutageFailsFast(t *testing.T) {
	svc := &authService{modes: map[string]string{}}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	const ttl = 2 * time.Second
	tmpl := synthTemplate(t, "local", map[string]string{
		"authSource": "external", "authServiceUrl": srv.URL, "allowedKeyPrefixes": "live",
		"keyEnvironment": "live", "authCacheTtl": "2", "authStaleGrace": "300",
	})
	// A window far longer than the test, so that no step depends on how fast the machine is.
	withFunctionEnv(t, tmpl, "authorizer", map[string]string{"AUTH_SERVICE_OUTAGE_WINDOW": "10m"})
	// One authorizer container: the outage memory is per container, and the calls are counted.
	ext, out := startStack(t, tmpl, harness.Options{MaxConcurrency: 1})
	get := func(key string) (*http.Response, map[string]any) {
		t.Helper()
		return getKeys(t, ext.APIURL, bearer(key))
	}
	allowed := keysAPIReached
	unavailable := func(res *http.Response, body map[string]any) bool {
		return res.StatusCode == 503 && body["error"] == "AUTH_SERVICE_UNAVAILABLE" && res.Header.Get("Retry-After") == "1"
	}

	known, hanging, fresh := liveKey("Known"), liveKey("Hangs"), liveKey("Fresh")
	if res, body := get(known); !allowed(body) {
		t.Fatalf("service up: %d %v", res.StatusCode, body)
	}
	validated := time.Now()
	svc.set(hanging, "hang")
	before := svc.count()
	if res, body := get(hanging); !unavailable(res, body) {
		t.Fatalf("service hangs: %d %v Retry-After %q", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	if n := svc.count() - before; n != 1 {
		t.Fatalf("the hanging request made %d service calls, want 1", n)
	}
	// The service would vouch for this key, so only a request that was never sent explains a 503.
	if res, body := get(fresh); !unavailable(res, body) {
		t.Errorf("a new key right after the failure: %d %v Retry-After %q, want the 503 without asking", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	// Past its TTL (the hang alone outlasts it), the known key stands in from the grace at once.
	time.Sleep(time.Until(validated.Add(ttl + 300*time.Millisecond)))
	if res, body := get(known); !allowed(body) {
		t.Errorf("a key within the grace during the outage: %d %v", res.StatusCode, body)
	}
	if n := svc.count() - before; n != 1 {
		t.Errorf("%d service calls since the failure, want 1: the window must stop them", n)
	}
	logs := out.String()
	if !strings.Contains(logs, `"event":"auth.outage_opened"`) {
		t.Error("the outage was not logged")
	}
	for _, k := range []string{known, hanging, fresh} {
		if strings.Contains(logs, k[len("hk_live_"):]) {
			t.Error("a key reached the output")
		}
	}
}

// Paths that a router would clean (dot segments, encoded or not, encoded slashes, double
// encoding, trailing dots) get a JSON answer, never a redirect with an HTML body.
func TestUglyPathsAnswerJSON(t *testing.T) {
	admin := adminKey(t)
	for _, path := range []string{
		"/api/keys/%2e%2e", "/api/keys/%2E%2E", "/api/keys/.%2e", "/api/keys/%2e", "/api/keys/..", "/api/keys/.",
		"/api/keys/%2f", "/api/keys/a%2fb", "/api/keys/%252e%252e", "/api/keys/abc.", "/api/keys/x/%2e%2e",
		"/api/registrations/%2e%2e", "/api/registrations/.", "/api/keys//x",
	} {
		for _, method := range []string{"GET", "DELETE"} {
			req, err := http.NewRequest(method, h.APIURL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+admin)
			// A client that follows redirects would hide one; this one does not.
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var body map[string]any
			if res.StatusCode/100 == 3 || res.Header.Get("Location") != "" || res.StatusCode >= 500 ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || json.Unmarshal(b, &body) != nil || body["error"] == nil {
				t.Errorf("%s %s: %d %s Location %q: %q", method, path, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Location"), b)
			}
		}
	}
}

// Python's json.dumps writes a non-finite float as NaN, Infinity or -Infinity: the client is told
// which field is wrong, as for 1e309, not that its body is not JSON; and nothing is registered.
func TestNonFiniteNumbersNameTheirField(t *testing.T) {
	admin := adminKey(t)
	writer, _ := createKey(t, admin, "e2e-nonfinite", "model:write")
	token := uniqueToken("NAN")
	base := registerBody(token, "0123456789abcdef0123456789abcdef", nil)
	with := func(literal string) string {
		return strings.Replace(base, `"baseline_value":0.1342`, `"baseline_value":`+literal, 1)
	}
	h.MLflowFaults.ResetCounts()
	res, b := postRegister(t, writer, with("1e309"), "")
	want := string(b)
	if res.StatusCode != 422 || !strings.Contains(want, `"baseline_value"`) {
		t.Fatalf("1e309: %d %s", res.StatusCode, b)
	}
	for _, literal := range []string{"NaN", "Infinity", "-Infinity"} {
		res, b := postRegister(t, writer, with(literal), "")
		if res.StatusCode != 422 || string(b) != want {
			t.Errorf("%s: %d %s, want the 422 of 1e309: %s", literal, res.StatusCode, b, want)
		}
	}
	if ops := h.MLflowFaults.Operations(); len(ops) > 0 {
		t.Errorf("refused bodies reached MLflow: %v", ops)
	}
}

// A key pasted where an id goes does not come back in the error that names the id.
func TestErrorsDoNotEchoKeys(t *testing.T) {
	admin := adminKey(t)
	writer, _ := createKey(t, admin, "e2e-echo", "model:write")
	pasted := liveKey("Paste")
	for _, tc := range []struct {
		name string
		do   func() (*http.Response, []byte)
	}{
		{"a key as the run id of a registration", func() (*http.Response, []byte) {
			return postRegister(t, writer, registerBody(uniqueToken("ECHO"), pasted, nil), "")
		}},
		{"a key as the id of a key to revoke", func() (*http.Response, []byte) {
			return call(t, "DELETE", "/api/keys/"+pasted, nil, bearer(admin))
		}},
		{"a key as a registration id", func() (*http.Response, []byte) {
			return call(t, "GET", "/api/registrations/"+pasted, nil, bearer(writer))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, b := tc.do()
			if res.StatusCode < 400 || strings.Contains(string(b), pasted[len("hk_live_"):]) {
				t.Errorf("%d %s", res.StatusCode, b)
			}
			jsonBody(t, b)
		})
	}
}
