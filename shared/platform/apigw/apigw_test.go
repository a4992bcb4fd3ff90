package apigw_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

func event() events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		HTTPMethod: "POST",
		Path:       "/api/things/a%2Fb",
		MultiValueHeaders: map[string][]string{
			"Host": {"api.example.com"}, "Content-Type": {"application/json"}, "X-Multi": {"1", "2"},
		},
		Headers:                         map[string]string{"Host": "api.example.com", "X-Single": "s"},
		MultiValueQueryStringParameters: map[string][]string{"tag": {"a", "b"}, "q": {"x y"}},
		Body:                            `{"n":1}`,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID:  "req-123",
			Identity:   events.APIGatewayRequestIdentity{SourceIP: "203.0.113.9"},
			Authorizer: map[string]any{"user_id": "u1"},
		},
	}
}

func TestNewRequestCarriesEverything(t *testing.T) {
	var buf bytes.Buffer
	r, err := apigw.NewRequest(context.Background(), event(), logging.New(&buf, slog.LevelInfo, "t"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "POST" || r.Host != "api.example.com" || r.RemoteAddr != "203.0.113.9" {
		t.Errorf("method/host/remote: %s %s %s", r.Method, r.Host, r.RemoteAddr)
	}
	if got := r.URL.Query()["tag"]; len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("repeated query lost: %v", got)
	}
	if r.URL.Query().Get("q") != "x y" {
		t.Errorf("query value %q", r.URL.Query().Get("q"))
	}
	if got := r.Header.Values("X-Multi"); len(got) != 2 {
		t.Errorf("multi-value header %v", got)
	}
	if r.Header.Get("X-Single") != "s" {
		t.Error("single-value header lost")
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != `{"n":1}` || r.ContentLength != int64(len(body)) {
		t.Errorf("body %q length %d", body, r.ContentLength)
	}
	if apigw.RequestID(r.Context()) != "req-123" {
		t.Error("request id not in context")
	}
	rc, _ := apigw.RequestContext(r.Context())
	if rc.Authorizer["user_id"] != "u1" {
		t.Error("authorizer context lost")
	}
	logging.FromContext(r.Context()).Info("x")
	if !strings.Contains(buf.String(), `"request_id":"req-123"`) {
		t.Errorf("logger lacks request id: %s", buf.String())
	}
}

func TestNewRequestDecodesBase64AndRejectsGarbage(t *testing.T) {
	ev := event()
	ev.Body = base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})
	ev.IsBase64Encoded = true
	r, err := apigw.NewRequest(context.Background(), ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r.Body); !bytes.Equal(b, []byte{0, 1, 2, 255}) {
		t.Errorf("decoded %v", b)
	}
	for name, mutate := range map[string]func(*events.APIGatewayProxyRequest){
		"bad base64":       func(e *events.APIGatewayProxyRequest) { e.Body, e.IsBase64Encoded = "%%%", true },
		"relative path":    func(e *events.APIGatewayProxyRequest) { e.Path = "api/x" },
		"bad method token": func(e *events.APIGatewayProxyRequest) { e.HTTPMethod = "GE T" },
	} {
		ev := event()
		mutate(&ev)
		if _, err := apigw.NewRequest(context.Background(), ev, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHandlerResponses(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		httpapi.WriteJSON(w, 201, map[string]string{"ok": "yes"})
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte{0, 159, 146, 150})
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := apigw.Handler(mux, slog.New(slog.DiscardHandler))

	for _, tc := range []struct {
		path, method string
		base64       bool
		status       int
		check        func(t *testing.T, res events.APIGatewayProxyResponse)
	}{
		{"/json", "GET", false, 201, func(t *testing.T, res events.APIGatewayProxyResponse) {
			if res.Body != `{"ok":"yes"}` {
				t.Errorf("body %q", res.Body)
			}
			if len(res.MultiValueHeaders["Set-Cookie"]) != 2 {
				t.Errorf("cookies %v", res.MultiValueHeaders["Set-Cookie"])
			}
		}},
		{"/binary", "GET", true, 200, func(t *testing.T, res events.APIGatewayProxyResponse) {
			if b, _ := base64.StdEncoding.DecodeString(res.Body); !bytes.Equal(b, []byte{0, 159, 146, 150}) {
				t.Errorf("binary body %q", res.Body)
			}
		}},
		{"/panic", "GET", false, 500, func(t *testing.T, res events.APIGatewayProxyResponse) {
			if strings.Contains(res.Body, "boom") {
				t.Errorf("panic text leaked: %s", res.Body)
			}
		}},
		{"", "BAD METHOD", false, 400, nil},
	} {
		ev := event()
		ev.Path, ev.HTTPMethod, ev.Body = tc.path, tc.method, ""
		if tc.path == "" {
			ev.Path = "/x"
		}
		res, err := h(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if res.StatusCode != tc.status || res.IsBase64Encoded != tc.base64 {
			t.Errorf("%s: status %d base64 %v", tc.path, res.StatusCode, res.IsBase64Encoded)
		}
		if got := res.MultiValueHeaders["X-Request-Id"]; len(got) != 1 || got[0] != "req-123" {
			t.Errorf("%s: X-Request-Id %v", tc.path, got)
		}
		if tc.status >= 400 {
			var body map[string]any
			if err := json.Unmarshal([]byte(res.Body), &body); err != nil || body["error"] == nil {
				t.Errorf("%s: error body %q", tc.path, res.Body)
			}
		}
		if tc.check != nil {
			tc.check(t, res)
		}
	}
}

// FuzzNewRequest feeds arbitrary events: the adapter must either refuse them or build a request
// whose body is exactly what the event carried.
func FuzzNewRequest(f *testing.F) {
	f.Add("GET", "/health", "", false, "a=1", "X-API-Key", "v")
	f.Add("POST", "/api/x", "eyJhIjoxfQ==", true, "", "Authorization", "Bearer k")
	f.Add("PUT", "/../../etc/passwd", "%%", true, "a=%zz", "Host", "")
	f.Add("GET", "//evil.example.com/x", "", false, "", "", "")
	f.Fuzz(func(t *testing.T, method, path, body string, b64 bool, query, hk, hv string) {
		ev := events.APIGatewayProxyRequest{
			HTTPMethod: method, Path: path, Body: body, IsBase64Encoded: b64,
			MultiValueQueryStringParameters: map[string][]string{query: {hv}},
			MultiValueHeaders:               map[string][]string{hk: {hv}},
		}
		r, err := apigw.NewRequest(context.Background(), ev, slog.New(slog.DiscardHandler))
		if err != nil {
			return
		}
		got, _ := io.ReadAll(r.Body)
		want := []byte(body)
		if b64 {
			want, _ = base64.StdEncoding.DecodeString(body)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("body %q, want %q", got, want)
		}
		if r.URL.Path != path || r.URL.Host != "" {
			t.Fatalf("path %q host %q from event path %q", r.URL.Path, r.URL.Host, path)
		}
	})
}
