package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// fakeInvoker stands in for the Lambda pools: each function is a Go func over the raw payload.
type fakeInvoker struct {
	mu    sync.Mutex
	calls map[string]int
	fns   map[string]func(ctx context.Context, payload []byte) (*lambdart.Result, error)
}

func (f *fakeInvoker) Invoke(ctx context.Context, fn string, payload []byte) (*lambdart.Result, error) {
	f.mu.Lock()
	f.calls[fn]++
	f.mu.Unlock()
	if len(payload) > lambdart.MaxRequestBytes {
		return nil, &lambdart.InvokeError{Type: "RequestEntityTooLargeException", Message: "too large"}
	}
	return f.fns[fn](ctx, payload)
}

func (f *fakeInvoker) InvokeStream(ctx context.Context, fn string, payload []byte) (*lambdart.Result, error) {
	return f.Invoke(ctx, fn, payload)
}

func (f *fakeInvoker) count(fn string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[fn]
}

func jsonResult(t *testing.T, v any) *lambdart.Result {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &lambdart.Result{Payload: b}
}

const notFoundTmpl = `{"detail":"Not Found","error":"NOT_FOUND","error_code":"NOT_FOUND","message":"Not Found","request_id":"$context.requestId"}`

func testAPI() *template.RestAPI {
	authz := &template.Authorizer{
		LogicalID: "Authz", Name: "keys", Type: "REQUEST", Function: "authorizer",
		IdentitySources: []template.IdentitySource{{Kind: "header", Name: "Authorization"}},
		TTL:             time.Minute,
	}
	proxy := template.Integration{Type: "AWS_PROXY", Function: "echo"}
	return &template.RestAPI{
		StageName:        "local",
		BinaryMediaTypes: []string{"application/octet-stream"},
		Routes: []*template.Route{
			{Path: "/health", Method: "GET", AuthorizationType: "NONE", Integration: proxy},
			{Path: "/health", Method: "OPTIONS", AuthorizationType: "NONE", Integration: template.Integration{
				Type: "MOCK", Mock: &template.MockResponse{Status: 204, Headers: map[string]string{"Access-Control-Allow-Origin": "*"}}}},
			{Path: "/items/{id}", Method: "GET", AuthorizationType: "NONE", Integration: proxy},
			{Path: "/items/special", Method: "GET", AuthorizationType: "NONE", Integration: template.Integration{Type: "AWS_PROXY", Function: "special"}},
			{Path: "/api/{proxy+}", Method: "ANY", AuthorizationType: "CUSTOM", Authorizer: authz, Integration: proxy},
			{Path: "/stream/{proxy+}", Method: "GET", AuthorizationType: "NONE", Integration: template.Integration{Type: "AWS_PROXY", Function: "streamer", Stream: true}},
			{Path: "/fail", Method: "GET", AuthorizationType: "NONE", Integration: template.Integration{Type: "AWS_PROXY", Function: "failer"}},
			{Path: "/slow", Method: "GET", AuthorizationType: "NONE", Integration: template.Integration{Type: "AWS_PROXY", Function: "slow"}},
		},
		GatewayResponses: map[string]*template.GatewayResponse{
			"MISSING_AUTHENTICATION_TOKEN": {Type: "MISSING_AUTHENTICATION_TOKEN", Status: 404, Templates: map[string]string{"application/json": notFoundTmpl}},
			"DEFAULT_5XX": {Type: "DEFAULT_5XX", Templates: map[string]string{
				"application/json": `{"error":"GATEWAY_ERROR","message":$context.error.messageString,"request_id":"$context.requestId"}`}},
			"ACCESS_DENIED": {Type: "ACCESS_DENIED", Status: 429, Headers: map[string]string{"Retry-After": "60"},
				Templates: map[string]string{"application/json": `{"error":"RATE_LIMITED"}`}},
			"AUTHORIZER_FAILURE": {Type: "AUTHORIZER_FAILURE", Status: 503, Headers: map[string]string{"Retry-After": "1"},
				Templates: map[string]string{"application/json": `{"error":"AUTH_SERVICE_UNAVAILABLE"}`}},
			"UNAUTHORIZED":        {Type: "UNAUTHORIZED", Status: 401, Templates: map[string]string{"application/json": `{"error":"UNAUTHORIZED"}`}},
			"REQUEST_TOO_LARGE":   {Type: "REQUEST_TOO_LARGE", Status: 413, Templates: map[string]string{"application/json": `{"error":"PAYLOAD_TOO_LARGE"}`}},
			"INTEGRATION_TIMEOUT": {Type: "INTEGRATION_TIMEOUT", Status: 504, Templates: map[string]string{"application/json": `{"error":"TIMEOUT"}`}},
		},
	}
}

// echo answers with the event it received, so tests can inspect it.
func newFake(t *testing.T) *fakeInvoker {
	f := &fakeInvoker{calls: map[string]int{}}
	echo := func(tag string) func(context.Context, []byte) (*lambdart.Result, error) {
		return func(_ context.Context, p []byte) (*lambdart.Result, error) {
			return jsonResult(t, events.APIGatewayProxyResponse{StatusCode: 200,
				Headers: map[string]string{"Content-Type": "application/json", "X-Fn": tag}, Body: string(p)}), nil
		}
	}
	f.fns = map[string]func(context.Context, []byte) (*lambdart.Result, error){
		"echo":    echo("echo"),
		"special": echo("special"),
		"failer": func(context.Context, []byte) (*lambdart.Result, error) {
			return &lambdart.Result{FunctionError: &lambdart.FunctionError{Type: "Runtime.ExitError", Message: "exit status 2"}}, nil
		},
		"slow": func(ctx context.Context, _ []byte) (*lambdart.Result, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		"streamer": func(context.Context, []byte) (*lambdart.Result, error) {
			body := `{"statusCode":201,"headers":{"Content-Type":"application/octet-stream"}}` + "\x00\x00\x00\x00\x00\x00\x00\x00" + strings.Repeat("x", 100000)
			return &lambdart.Result{Stream: io.NopCloser(strings.NewReader(body))}, nil
		},
		"authorizer": func(_ context.Context, p []byte) (*lambdart.Result, error) {
			var req events.APIGatewayCustomAuthorizerRequestTypeRequest
			_ = json.Unmarshal(p, &req)
			switch req.Headers["Authorization"] {
			case "Bearer good":
				return jsonResult(t, events.APIGatewayCustomAuthorizerResponse{PrincipalID: "user-1",
					PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
						{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"arn:aws:execute-api:us-east-1:123456789012:local/local/*/*"}}}},
					Context: map[string]any{"user_id": "user-1", "scopes": "model:read", "is_admin": false}}), nil
			case "Bearer throttled":
				return jsonResult(t, events.APIGatewayCustomAuthorizerResponse{PrincipalID: "user-2",
					PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
						{Action: []string{"execute-api:Invoke"}, Effect: "Deny", Resource: []string{"*"}}}}}), nil
			case "Bearer outage":
				return &lambdart.Result{FunctionError: &lambdart.FunctionError{Type: "errorString", Message: "auth service unavailable"}}, nil
			case "Bearer garbage":
				return &lambdart.Result{Payload: []byte(`{"principalId":"x"}`)}, nil
			default:
				return &lambdart.Result{FunctionError: &lambdart.FunctionError{Type: "errorString", Message: "Unauthorized"}}, nil
			}
		},
	}
	return f
}

func do(t *testing.T, g http.Handler, method, target string, body io.Reader, headers map[string]string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	var parsed map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &parsed)
	return rec, parsed
}

func TestRouting(t *testing.T) {
	g := New(testAPI(), newFake(t), Options{})
	for _, tc := range []struct {
		method, path string
		status       int
		resource     string
		params       map[string]string
		fn           string
	}{
		{"GET", "/health", 200, "/health", nil, "echo"},
		{"GET", "/items/special", 200, "/items/special", nil, "special"}, // literal beats {id}
		{"GET", "/items/42", 200, "/items/{id}", map[string]string{"id": "42"}, "echo"},
		{"GET", "/items", 404, "", nil, ""},
		{"POST", "/health", 404, "", nil, ""}, // no such method: API Gateway's missing token
		{"GET", "/nowhere", 404, "", nil, ""},
		{"GET", "/", 404, "", nil, ""},
	} {
		rec, body := do(t, g, tc.method, tc.path, nil, nil)
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, rec.Code, tc.status, rec.Body)
			continue
		}
		if tc.status == 404 {
			if body["error"] != "NOT_FOUND" || body["request_id"] != rec.Header().Get("x-amzn-RequestId") {
				t.Errorf("%s %s: 404 body %s", tc.method, tc.path, rec.Body)
			}
			continue
		}
		if rec.Header().Get("X-Fn") != tc.fn {
			t.Errorf("%s %s: served by %s, want %s", tc.method, tc.path, rec.Header().Get("X-Fn"), tc.fn)
		}
		var ev events.APIGatewayProxyRequest
		_ = json.Unmarshal(rec.Body.Bytes(), &ev)
		if ev.Resource != tc.resource || len(ev.PathParameters) != len(tc.params) || ev.PathParameters["id"] != tc.params["id"] {
			t.Errorf("%s %s: resource %s params %v", tc.method, tc.path, ev.Resource, ev.PathParameters)
		}
	}
}

func TestProxyEventShape(t *testing.T) {
	g := New(testAPI(), newFake(t), Options{})
	req := httptest.NewRequest("GET", "/items/7?tag=a&tag=b&q=x%20y", nil)
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.RemoteAddr = "192.0.2.7:5555"
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(rec.Body.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.MultiValueQueryStringParameters["tag"]; len(got) != 2 || got[1] != "b" || ev.QueryStringParameters["q"] != "x y" {
		t.Errorf("query %v %v", ev.MultiValueQueryStringParameters, ev.QueryStringParameters)
	}
	if got := ev.MultiValueHeaders["X-Multi"]; len(got) != 2 || ev.Headers["X-Multi"] != "2" {
		t.Errorf("headers %v", ev.MultiValueHeaders)
	}
	if ev.RequestContext.Identity.SourceIP != "192.0.2.7" || ev.Headers["X-Forwarded-For"] != "6.6.6.6, 192.0.2.7" {
		t.Errorf("source ip %q xff %q", ev.RequestContext.Identity.SourceIP, ev.Headers["X-Forwarded-For"])
	}
	if ev.RequestContext.Stage != "local" || ev.RequestContext.Path != "/items/7" || ev.RequestContext.RequestID == "" {
		t.Errorf("request context %+v", ev.RequestContext)
	}
}

// A REST API hands a proxy integration the path exactly as the client encoded it, in path,
// requestContext.path and pathParameters alike; only HTTP APIs decode it.
func TestPathAsTheClientEncodedIt(t *testing.T) {
	g := New(testAPI(), newFake(t), Options{})
	for _, tc := range []struct {
		target, param, value string
	}{
		{"/items/a%41.txt", "id", "a%41.txt"},
		{"/items/a%2541.txt", "id", "a%2541.txt"},
		{"/items/a%2Fb", "id", "a%2Fb"}, // an encoded slash stays inside its segment
		{"/items/%2e%2e", "id", "%2e%2e"},
		{"/items/a%20b", "id", "a%20b"},
		{"/items/a+b", "id", "a+b"},
		{"/items/caf%C3%A9", "id", "caf%C3%A9"},
		{"/api/runs/a%41.txt?x=%41", "proxy", "runs/a%41.txt"},
		{"/api/a%2Fb/c", "proxy", "a%2Fb/c"},
	} {
		rec, _ := do(t, g, "GET", tc.target, nil, map[string]string{"Authorization": "Bearer good"})
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(rec.Body.Bytes(), &ev); err != nil || rec.Code != 200 {
			t.Errorf("%s: %d %s", tc.target, rec.Code, rec.Body)
			continue
		}
		path, _, _ := strings.Cut(tc.target, "?")
		if ev.Path != path || ev.RequestContext.Path != path || ev.PathParameters[tc.param] != tc.value {
			t.Errorf("%s: path %q, requestContext.path %q, %s %q", tc.target, ev.Path, ev.RequestContext.Path, tc.param, ev.PathParameters[tc.param])
		}
	}
}

func TestBinaryBodiesTravelBase64(t *testing.T) {
	g := New(testAPI(), newFake(t), Options{})
	raw := []byte{0, 1, 2, 0xff}
	rec, _ := do(t, g, "GET", "/health", bytes.NewReader(raw), map[string]string{"Content-Type": "application/octet-stream"})
	var ev events.APIGatewayProxyRequest
	_ = json.Unmarshal(rec.Body.Bytes(), &ev)
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(raw) {
		t.Errorf("binary body: base64 %v body %q", ev.IsBase64Encoded, ev.Body)
	}
	rec, _ = do(t, g, "GET", "/health", strings.NewReader(`{"a":1}`), map[string]string{"Content-Type": "application/json"})
	var text events.APIGatewayProxyRequest
	_ = json.Unmarshal(rec.Body.Bytes(), &text)
	if text.IsBase64Encoded || text.Body != `{"a":1}` {
		t.Errorf("text body: base64 %v body %q", text.IsBase64Encoded, text.Body)
	}
}

func TestLimitsAndFailures(t *testing.T) {
	g := New(testAPI(), newFake(t), Options{IntegrationTimeout: 100 * time.Millisecond})
	big := func(n int) io.Reader { return bytes.NewReader(bytes.Repeat([]byte("a"), n)) }
	for _, tc := range []struct {
		name   string
		path   string
		body   io.Reader
		status int
		field  string
		want   string
	}{
		{"11 MB request answered by the gateway", "/health", big(11 << 20), 413, "error", "PAYLOAD_TOO_LARGE"},
		// Lambda rejects the invocation: AWS's 500, through DEFAULT_5XX when no INTEGRATION_FAILURE is set.
		{"7 MB request refused by Lambda", "/health", big(7 << 20), 500, "message", "Internal server error"},
		{"7 MB request to a streamed route, refused alike", "/stream/x", big(7 << 20), 500, "message", "Internal server error"},
		{"function error", "/fail", nil, 502, "message", "Internal server error"},
		{"integration timeout", "/slow", nil, 504, "error", "TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, body := do(t, g, "GET", tc.path, tc.body, map[string]string{"Content-Type": "text/plain"})
			if rec.Code != tc.status || body[tc.field] != tc.want {
				t.Errorf("status %d body %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

// The INTEGRATION_FAILURE gateway response, when the template has one, shapes both kinds of
// integration failure, its status replacing theirs as a gateway response's status does.
func TestIntegrationFailureResponseShapesLambdaFailures(t *testing.T) {
	api := testAPI()
	api.GatewayResponses["INTEGRATION_FAILURE"] = &template.GatewayResponse{Type: "INTEGRATION_FAILURE", Status: 502,
		Templates: map[string]string{"application/json": `{"error":"BAD_GATEWAY","message":"over 6 MB? use multipart","request_id":"$context.requestId"}`}}
	g := New(api, newFake(t), Options{})
	for _, path := range []string{"/health", "/stream/x", "/fail"} {
		var body io.Reader
		if path != "/fail" {
			body = bytes.NewReader(bytes.Repeat([]byte("a"), 7<<20))
		}
		rec, parsed := do(t, g, "GET", path, body, map[string]string{"Content-Type": "text/plain"})
		if rec.Code != 502 || parsed["error"] != "BAD_GATEWAY" || parsed["request_id"] != rec.Header().Get("x-amzn-RequestId") {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestCORSPreflightIsTheMockIntegration(t *testing.T) {
	f := newFake(t)
	g := New(testAPI(), f, Options{})
	rec, _ := do(t, g, "OPTIONS", "/health", nil, nil)
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%d %v", rec.Code, rec.Header())
	}
	if f.count("echo") != 0 {
		t.Error("preflight reached a function")
	}
}

func TestAuthorizer(t *testing.T) {
	for _, tc := range []struct {
		name        string
		auth        string
		status      int
		wantErr     string
		retryAfter  string
		invocations int
	}{
		{"allowed, context reaches the function", "Bearer good", 200, "", "", 1},
		{"missing identity source: 401 without calling the authorizer", "", 401, "UNAUTHORIZED", "", 0},
		{"Unauthorized from the authorizer", "Bearer bad", 401, "UNAUTHORIZED", "", 1},
		{"Deny maps to the access-denied response", "Bearer throttled", 429, "RATE_LIMITED", "60", 1},
		{"authorizer failure", "Bearer outage", 503, "AUTH_SERVICE_UNAVAILABLE", "1", 1},
		{"invalid authorizer answer", "Bearer garbage", 500, "GATEWAY_ERROR", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			g := New(testAPI(), f, Options{})
			headers := map[string]string{}
			if tc.auth != "" {
				headers["Authorization"] = tc.auth
			}
			rec, body := do(t, g, "POST", "/api/things/1", strings.NewReader("{}"), headers)
			if rec.Code != tc.status {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if tc.wantErr != "" && body["error"] != tc.wantErr {
				t.Errorf("body %s", rec.Body)
			}
			if rec.Header().Get("Retry-After") != tc.retryAfter {
				t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
			if got := f.count("authorizer"); got != tc.invocations {
				t.Errorf("authorizer invoked %d times, want %d", got, tc.invocations)
			}
			if tc.status == 200 {
				var ev events.APIGatewayProxyRequest
				_ = json.Unmarshal(rec.Body.Bytes(), &ev)
				a := ev.RequestContext.Authorizer
				if a["principalId"] != "user-1" || a["user_id"] != "user-1" || a["scopes"] != "model:read" || a["is_admin"] != false {
					t.Errorf("authorizer context %v", a)
				}
				if ev.PathParameters["proxy"] != "things/1" {
					t.Errorf("proxy param %v", ev.PathParameters)
				}
			}
		})
	}
}

func TestAuthorizerCacheHonoursTTL(t *testing.T) {
	f := newFake(t)
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	g := New(testAPI(), f, Options{Now: clock})
	get := func() int {
		rec, _ := do(t, g, "GET", "/api/x", nil, map[string]string{"Authorization": "Bearer good"})
		return rec.Code
	}
	if get() != 200 || get() != 200 {
		t.Fatal("allowed calls failed")
	}
	if n := f.count("authorizer"); n != 1 {
		t.Errorf("authorizer called %d times within the TTL, want 1", n)
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	get()
	if n := f.count("authorizer"); n != 2 {
		t.Errorf("authorizer called %d times after the TTL, want 2", n)
	}
}

func TestStreaming(t *testing.T) {
	g := New(testAPI(), newFake(t), Options{})
	srv := httptest.NewServer(g)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/stream/file")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || res.Header.Get("Content-Type") != "application/octet-stream" || len(body) != 100000 {
		t.Errorf("status %d type %q len %d", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
}

func TestThrottle(t *testing.T) {
	api := testAPI()
	api.ThrottleRate, api.ThrottleBurst = 1, 2
	now := time.Unix(0, 0)
	g := New(api, newFake(t), Options{Now: func() time.Time { return now }})
	var codes []int
	for range 3 {
		rec, _ := do(t, g, "GET", "/health", nil, nil)
		codes = append(codes, rec.Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("codes %v, want 200 200 429", codes)
	}
}

func TestArnMatch(t *testing.T) {
	arn := "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/api/x"
	for pattern, want := range map[string]bool{
		"*": true,
		"arn:aws:execute-api:us-east-1:123456789012:local/local/*/*":       true,
		"arn:aws:execute-api:us-east-1:123456789012:local/local/POST/*":    false,
		"arn:aws:execute-api:us-east-1:123456789012:local/local/GET/api/?": true,
		"arn:aws:execute-api:us-east-1:123456789012:other/*":               false,
	} {
		if got := arnMatch(pattern, arn); got != want {
			t.Errorf("arnMatch(%q) = %v, want %v", pattern, got, want)
		}
	}
}

// FuzzServe sends arbitrary paths, methods and bodies: the gateway must answer every one without
// panicking, and every answer it generates itself must be JSON.
func FuzzServe(f *testing.F) {
	f.Add("GET", "/items/1", "", "")
	f.Add("POST", "/api/%2e%2e/x", "{}", "Bearer good")
	f.Add("OPTIONS", "//health", "", "")
	f.Add("GET", "/stream/a/b/c", "", "")
	api := testAPI()
	f.Fuzz(func(t *testing.T, method, path, body, auth string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n?#") {
			return
		}
		req, err := http.NewRequest(method, "http://local"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		New(api, newFake(t), Options{IntegrationTimeout: 50 * time.Millisecond}).ServeHTTP(rec, req)
		if rec.Code >= 400 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: %d non-JSON %q", method, path, rec.Code, rec.Body)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// FuzzReadPrelude feeds arbitrary streams: the prelude reader must fail cleanly or return
// exactly the headers before the separator.
func FuzzReadPrelude(f *testing.F) {
	f.Add([]byte(`{"statusCode":200}` + "\x00\x00\x00\x00\x00\x00\x00\x00body"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readPrelude(bufioReader(data))
		if err == nil && p.StatusCode != 0 && (p.StatusCode < -1<<31 || p.StatusCode > 1<<31) {
			t.Fatalf("status %d", p.StatusCode)
		}
	})
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
