package apigw_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// The buffered writer answers as net/http would: these pin what the handler's client sees.
func TestHandlerWriterSemantics(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		h            http.HandlerFunc
		status       int
		contentType  string
		body         string
		header       map[string]string // headers that must (value) or must not ("") be there
	}{
		{"nothing written is an empty 200", "GET", func(http.ResponseWriter, *http.Request) {}, 200, "", "", nil},
		{"an unset Content-Type is sniffed", "GET", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "<html><body>hi</body></html>")
		}, 200, "text/html; charset=utf-8", "<html><body>hi</body></html>", nil},
		{"headers are fixed at WriteHeader", "GET", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(202)
			w.Header().Set("X-After", "1")
			w.WriteHeader(500)
		}, 202, "", "", map[string]string{"X-Before": "1", "X-After": ""}},
		{"1xx is not the status", "GET", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(103)
			w.WriteHeader(201)
		}, 201, "", "", nil},
		{"HEAD drops the body", "HEAD", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "body")
		}, 200, "text/plain", "", nil},
		{"204 carries no body", "GET", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(204)
			if _, err := io.WriteString(w, "body"); err != http.ErrBodyNotAllowed {
				panic("write after 204 accepted")
			}
		}, 204, "", "", nil},
		{"flush fixes the status", "GET", func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush()
			w.WriteHeader(500)
			_, _ = io.WriteString(w, "{}")
		}, 200, "", "{}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := event()
			ev.HTTPMethod, ev.Body = tc.method, ""
			res, err := apigw.Handler(tc.h, slog.New(slog.DiscardHandler))(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header(res.MultiValueHeaders)
			if res.StatusCode != tc.status || h.Get("Content-Type") != tc.contentType || res.Body != tc.body || res.IsBase64Encoded {
				t.Errorf("status %d type %q body %q base64 %v", res.StatusCode, h.Get("Content-Type"), res.Body, res.IsBase64Encoded)
			}
			if h.Get("X-Request-Id") != "req-123" {
				t.Errorf("X-Request-Id %v", h["X-Request-Id"])
			}
			for k, v := range tc.header {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
		})
	}
}

// A response Lambda would refuse to carry (over 6 MB as Lambda counts it: the proxy response as
// JSON, a binary body base64-encoded) is answered with a JSON 502 naming the limit, and the
// handler's writes get apigw.ErrResponseTooLarge.
func TestHandlerRefusesResponsesOverTheLambdaLimit(t *testing.T) {
	const limit = apigw.MaxBufferedResponseBytes
	// What the envelope of a text/plain answer costs, so a body can fill the limit exactly.
	envelope := func() int {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(events.APIGatewayProxyResponse{StatusCode: 200, MultiValueHeaders: map[string][]string{
			"Content-Type": {"text/plain"}, "X-Handler": {"mine"}, "X-Request-Id": {"req-123"},
		}})
		return b.Len()
	}()
	writes := func(contentType string, n int) func(w http.ResponseWriter, _ *http.Request) error {
		return func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("X-Handler", "mine")
			_, err := w.Write(bytes.Repeat([]byte{'x'}, n))
			return err
		}
	}
	for _, tc := range []struct {
		name     string
		h        func(w http.ResponseWriter, r *http.Request) error
		refused  bool
		writeErr bool
	}{
		{"exactly the limit", writes("text/plain", limit-envelope), false, false},
		{"one byte over the limit, envelope counted", writes("text/plain", limit-envelope+1), true, false},
		{"a body alone over the limit", writes("text/plain", limit+1), true, true},
		{"a binary body over the limit once base64-encoded", writes("application/octet-stream", 5<<20), true, false},
		{"a small binary body", writes("application/octet-stream", 1<<20), false, false},
		{"many writes adding up", func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Type", "text/plain")
			for range 7 {
				if _, err := w.Write(bytes.Repeat([]byte{'x'}, 1<<20)); err != nil {
					return err
				}
			}
			return nil
		}, true, true},
		{"a proxy aborting when its copy fails", func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Type", "text/plain")
			if _, err := io.Copy(w, io.LimitReader(zeros{}, 7<<20)); err != nil {
				panic(http.ErrAbortHandler) // what httputil.ReverseProxy does
			}
			return nil
		}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var writeErr error
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeErr = tc.h(w, r) })
			ev := event()
			ev.HTTPMethod, ev.Body = "GET", ""
			res, err := apigw.Handler(h, slog.New(slog.DiscardHandler))(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if tc.writeErr != errors.Is(writeErr, apigw.ErrResponseTooLarge) {
				t.Errorf("write error %v", writeErr)
			}
			hdr := http.Header(res.MultiValueHeaders)
			if hdr.Get("X-Request-Id") != "req-123" {
				t.Errorf("X-Request-Id %v", hdr["X-Request-Id"])
			}
			if !tc.refused {
				if res.StatusCode != 200 || hdr.Get("X-Handler") != "mine" {
					t.Errorf("refused: %d %.200s", res.StatusCode, res.Body)
				}
				return
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(res.Body), &body); err != nil || res.StatusCode != 502 ||
				body["error"] != "RESPONSE_TOO_LARGE" || !strings.Contains(body["detail"].(string), "6291456 bytes") {
				t.Errorf("status %d body %.200s", res.StatusCode, res.Body)
			}
			if hdr.Get("X-Handler") != "" || hdr.Get("Content-Type") != "application/json" {
				t.Errorf("the refused answer's headers leaked into the error: %v", hdr)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
