package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// Requests net/http refuses before any handler runs are answered with the gateway's JSON error
// responses, not Go's text/plain.
func TestServerErrorsAreGatewayJSON(t *testing.T) {
	api := testAPI()
	api.GatewayResponses["DEFAULT_4XX"] = &template.GatewayResponse{Type: "DEFAULT_4XX", Headers: map[string]string{"Access-Control-Allow-Origin": "*"},
		Templates: map[string]string{"application/json": `{"error":"BAD_REQUEST","message":$context.error.messageString,"request_id":"$context.requestId"}`}}
	g := New(api, newFake(t), Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g, MaxHeaderBytes: 4 << 10, ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(g.Listener(ln)) }()
	defer srv.Close()

	for _, tc := range []struct {
		name, request string
		status        int
		error         string
	}{
		{"malformed request line", "GARBAGE\r\n\r\n", 400, "BAD_REQUEST"},
		{"no Host header", "GET /health HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST"},
		{"malformed header", "GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "BAD_REQUEST"},
		{"headers over the limit", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431, "BAD_REQUEST"},
		{"unsupported transfer encoding", "POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zstd\r\n\r\n", 501, "GATEWAY_ERROR"},
		{"unsupported HTTP version", "GET /health HTTP/2.1\r\nHost: x\r\n\r\n", 505, "GATEWAY_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.request); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("%d %s: body is not JSON: %q", res.StatusCode, res.Header.Get("Content-Type"), b)
			}
			if res.StatusCode != tc.status || body["error"] != tc.error || res.Header.Get("Content-Type") != "application/json" ||
				body["request_id"] == "" || body["request_id"] != res.Header.Get("x-amzn-RequestId") {
				t.Errorf("%d %v %s", res.StatusCode, res.Header, b)
			}
		})
	}

	// A served request on the same listener is untouched.
	res, err := http.Get("http://" + ln.Addr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("health through the wrapped listener: %d", res.StatusCode)
	}
}
