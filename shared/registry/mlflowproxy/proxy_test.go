package mlflowproxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
)

func TestProxyForwardsTheCall(t *testing.T) {
	up := newRecorder(t, nil)
	h := newProxy(t, up.URL+"/base", nil)
	body := []byte{0, 1, 2, 0xff, '\n'}
	// Each method on an operation the catalog serves it with.
	for method, path := range map[string]string{
		"GET": "artifacts/1/r/my%20file.bin", "HEAD": "artifacts/1/r/my%20file.bin", "PUT": "artifacts/1/r/my%20file.bin",
		"DELETE": "artifacts/1/r/my%20file.bin", "POST": "mpu/create/1/r/my%20file.bin",
	} {
		t.Run(method, func(t *testing.T) {
			r := request(t, method, "/api/mlflow/api/2.0/mlflow-artifacts/"+path, body, &admin, nil)
			r.URL.RawQuery = "b=2&a=1&a=3&c=x%20y&d=%2F&e" // not re-sorted, not re-encoded
			if rec := serve(h, r); rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			got := up.last(t)
			if want := "/base/api/2.0/mlflow-artifacts/" + strings.ReplaceAll(path, "%20", " "); got.Method != method || got.Path != want {
				t.Errorf("upstream got %s %s", got.Method, got.Path)
			}
			if got.RawQuery != "b=2&a=1&a=3&c=x%20y&d=%2F&e" {
				t.Errorf("query %q", got.RawQuery)
			}
			if !bytes.Equal(got.Body, body) || got.ContentLength != int64(len(body)) {
				t.Errorf("body %q, length %d", got.Body, got.ContentLength)
			}
			if got.Host != strings.TrimPrefix(up.URL, "http://") {
				t.Errorf("Host %q, want the upstream's", got.Host)
			}
		})
	}
}

func TestProxyHeaderRules(t *testing.T) {
	up := newRecorder(t, nil)
	h := newProxy(t, up.URL, nil)
	hdr := http.Header{
		"Authorization":        {"Bearer hk_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD"},
		"X-Api-Key":            {"hk_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD"},
		"X-Hokusai-User-Id":    {"someone-else"},
		"X-Hokusai-Api-Key-Id": {"forged"},
		"X-Hokusai-Admin":      {"true"},
		"Connection":           {"X-Hop"},
		"X-Hop":                {"1"},
		"Keep-Alive":           {"timeout=5"},
		"X-Forwarded-For":      {"10.0.0.1"},
		"Expect":               {"100-continue"},
		"Host":                 {"api.example.com"},
		"Content-Type":         {"application/json"},
		"User-Agent":           {"mlflow-python-client/3.17.2"},
	}
	if code, _, body := do(t, h, "POST", "/api/mlflow/api/2.0/mlflow/runs/search", []byte(`{}`), writer, hdr); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	got := up.last(t).Header
	for _, k := range []string{"Authorization", "X-Api-Key", "X-Hokusai-Admin", "X-Hop", "Keep-Alive", "X-Forwarded-For", "Expect"} {
		if v := got.Values(k); len(v) > 0 {
			t.Errorf("%s reached MLflow: %q", k, v)
		}
	}
	if v := got.Values("X-Hokusai-User-Id"); len(v) != 1 || v[0] != writer.UserID {
		t.Errorf("X-Hokusai-User-Id %q", v)
	}
	if v := got.Values("X-Hokusai-Api-Key-Id"); len(v) != 1 || v[0] != writer.KeyID {
		t.Errorf("X-Hokusai-API-Key-Id %q", v)
	}
	if got.Get("Content-Type") != "application/json" || got.Get("User-Agent") != "mlflow-python-client/3.17.2" {
		t.Errorf("end-to-end headers lost: %v", got)
	}
}

func TestProxyAuthorization(t *testing.T) {
	const runsCreate = "/api/mlflow/api/2.0/mlflow/runs/create"
	for _, tc := range []struct {
		name         string
		env          map[string]string
		caller       *principal.Principal
		method, path string
		wantStatus   int
		wantCode     string
		wantRequired string
	}{
		{"read scope reads", nil, &reader, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", 200, "", ""},
		{"read scope searches through POST", nil, &reader, "POST", "/api/mlflow/api/2.0/mlflow/runs/search", 200, "", ""},
		{"read scope searches through POST in 3.0", nil, &reader, "POST", "/api/3.0/mlflow/traces/search", 200, "", ""},
		{"read scope cannot write", nil, &reader, "POST", runsCreate, 403, "PERMISSION_DENIED", "write"},
		{"read scope cannot upload", nil, &reader, "PUT", "/api/2.0/mlflow-artifacts/artifacts/a.txt", 403, "PERMISSION_DENIED", "write"},
		{"a near miss is no operation", nil, &reader, "POST", "/api/mlflow/api/2.0/mlflow/runs/search-extra", 404, "ENDPOINT_NOT_FOUND", ""},
		{"a wrong method is MLflow's 405", nil, &admin, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/update", 405, "BAD_REQUEST", ""},
		{"OPTIONS is no operation's", nil, &admin, "OPTIONS", "/api/mlflow/api/2.0/mlflow/experiments/get", 405, "BAD_REQUEST", ""},
		{"webhooks are admin's", nil, &writer, "POST", "/api/mlflow/api/2.0/mlflow/webhooks", 403, "PERMISSION_DENIED", "admin"},
		{"AI gateway secrets are admin's", nil, &writer, "POST", "/api/mlflow/api/3.0/mlflow/gateway/secrets/create", 403, "PERMISSION_DENIED", "admin"},
		{"MCP-server registry changes are admin's", nil, &writer, "POST", "/api/mlflow/api/3.0/mlflow/mcp-servers", 403, "PERMISSION_DENIED", "admin"},
		{"write scope writes", nil, &writer, "POST", runsCreate, 200, "", ""},
		{"no scope cannot read", nil, &nobody, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", 403, "PERMISSION_DENIED", "read"},
		{"no principal", nil, nil, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", 401, "UNAUTHENTICATED", ""},
		{"admin only: writer refused", map[string]string{"REGISTRY_ADMIN_ONLY": "true"}, &writer, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", 403, "REGISTRY_ADMIN_REQUIRED", "admin"},
		{"admin only: admin scope", map[string]string{"REGISTRY_ADMIN_ONLY": "true"}, &admin, "POST", runsCreate, 200, "", ""},
		{"admin only: ADMIN_EMAILS", map[string]string{"REGISTRY_ADMIN_ONLY": "true", "ADMIN_EMAILS": "W@example.com"}, &writer, "POST", runsCreate, 200, "", ""},
		{"artifacts disabled", map[string]string{"MLFLOW_SERVE_ARTIFACTS": "false"}, &admin, "GET", "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/a.txt", 503, "ARTIFACTS_DISABLED", ""},
		{"artifacts disabled, tracking works", map[string]string{"MLFLOW_SERVE_ARTIFACTS": "false"}, &admin, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", 200, "", ""},
		{"not MLflow's API", nil, &admin, "GET", "/api/mlflow/static/js/main.js", 404, "RESOURCE_NOT_FOUND", ""},
		{"read scope loads the UI", nil, &reader, "GET", "/api/mlflow/", 200, "", ""},
		{"read scope loads the UI's files", nil, &reader, "GET", "/static-files/static/js/main.c2f5f8d4.js", 200, "", ""},
		{"read scope reads the UI's charts", nil, &reader, "GET", "/mlflow/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id=r", 200, "", ""},
		{"read scope cannot upload through the UI", nil, &reader, "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=r&path=a", 403, "PERMISSION_DENIED", "write"},
		{"no scope cannot load the UI", nil, &nobody, "GET", "/api/mlflow/", 403, "PERMISSION_DENIED", "read"},
		{"no principal cannot load the UI", nil, nil, "GET", "/", 401, "UNAUTHENTICATED", ""},
		{"the page is GET only", nil, &admin, "POST", "/mlflow/", 405, "BAD_REQUEST", ""},
		{"read scope reads the bare-host version", nil, &reader, "GET", "/version", 200, "", ""},
		{"write scope exports spans", nil, &writer, "POST", "/api/mlflow/v1/traces", 200, "", ""},
		{"write scope exports spans from the bare host", nil, &writer, "POST", "/v1/traces", 200, "", ""},
		{"read scope cannot export spans", nil, &reader, "POST", "/mlflow/v1/traces", 403, "PERMISSION_DENIED", "write"},
		{"span export is POST only", nil, &admin, "GET", "/api/mlflow/v1/traces", 405, "BAD_REQUEST", ""},
		{"the version is GET only", nil, &admin, "DELETE", "/version", 405, "BAD_REQUEST", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, nil)
			h := newProxy(t, up.URL, tc.env)
			rec := serve(h, request(t, tc.method, tc.path, []byte(`{}`), tc.caller, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode == "" {
				return
			}
			if n := up.count.Load(); n != 0 {
				t.Errorf("MLflow was called %d times", n)
			}
			if allow := rec.Header().Get("Allow"); (rec.Code == http.StatusMethodNotAllowed) != (allow != "") {
				t.Errorf("status %d with Allow %q", rec.Code, allow)
			}
			body := mlflowBody(t, rec.Body.Bytes())
			if body["error_code"] != tc.wantCode {
				t.Errorf("error_code %v, want %s", body["error_code"], tc.wantCode)
			}
			if tc.wantRequired != "" {
				scopes, _ := body["current_scopes"].([]any)
				if body["required_scope"] != tc.wantRequired || scopes == nil {
					t.Errorf("scope fields: %v", body)
				}
			}
		})
	}
}

func TestProxyRefusesUnsafeRequestsWithoutCallingMLflow(t *testing.T) {
	up := newRecorder(t, nil)
	h := newProxy(t, up.URL, nil)
	for _, tc := range unsafePaths {
		r := request(t, "GET", "/placeholder", nil, &admin, nil)
		r.URL.Path, r.URL.RawPath = tc.path, tc.rawPath
		rec := serve(h, r)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", tc.name, rec.Code)
			continue
		}
		if body := mlflowBody(t, rec.Body.Bytes()); body["error_code"] != "INVALID_PARAMETER_VALUE" {
			t.Errorf("%s: %v", tc.name, body)
		}
	}
	for _, q := range []string{"a=1\r\nX-Injected:%201", "a=b c", "a=\x00", "a=1#frag"} {
		r := request(t, "GET", "/api/mlflow/api/2.0/mlflow/runs/get", nil, &admin, nil)
		r.URL.RawQuery = q
		if rec := serve(h, r); rec.Code != http.StatusBadRequest {
			t.Errorf("query %q: status %d", q, rec.Code)
		}
	}
	if n := up.count.Load(); n != 0 {
		t.Errorf("MLflow was called %d times", n)
	}
}

func TestProxyResponses(t *testing.T) {
	const jsonError = `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=x not found"}` + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte(`{"runs":[]}`), 100))
	_ = zw.Close()
	gzipped := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = io.WriteString(zw, s)
		_ = zw.Close()
		return b.Bytes()
	}
	gzJSONError := gzipped(jsonError)
	// Compresses well past errorBodyLimit: judged on at most that much, then replaced.
	gzBomb := gzipped(`{"error_code":"BAD_REQUEST","message":"` + strings.Repeat("a", 1<<20) + `"}`)
	gzipReply := func(status int, contentType string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}
	}
	replaced := func(code string) func(t *testing.T, hdr http.Header, body []byte) {
		return func(t *testing.T, hdr http.Header, body []byte) {
			if v := mlflowBody(t, body); v["error_code"] != code || hdr.Get("Content-Encoding") != "" || hdr.Get("Content-Type") != "application/json" {
				t.Errorf("body %s, headers %v", body, hdr)
			}
		}
	}

	for _, tc := range []struct {
		name       string
		reply      http.HandlerFunc
		reqHeader  http.Header
		wantStatus int
		check      func(t *testing.T, hdr http.Header, body []byte)
	}{
		{"JSON error passes byte for byte", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, jsonError)
		}, nil, 404, func(t *testing.T, _ http.Header, body []byte) {
			if string(body) != jsonError {
				t.Errorf("body %q", body)
			}
		}},
		{"JSON 400 passes byte for byte", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad"}`)
		}, nil, 400, func(t *testing.T, hdr http.Header, body []byte) {
			if string(body) != `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad"}` || hdr.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("body %q, type %q", body, hdr.Get("Content-Type"))
			}
		}},
		{"gzipped JSON error passes byte for byte with its Content-Encoding",
			gzipReply(404, "application/json", gzJSONError), http.Header{"Accept-Encoding": {"gzip"}}, 404,
			func(t *testing.T, hdr http.Header, body []byte) {
				if !bytes.Equal(body, gzJSONError) || hdr.Get("Content-Encoding") != "gzip" || hdr.Get("Content-Length") != strconv.Itoa(len(gzJSONError)) {
					t.Errorf("gzipped JSON error altered: %q, headers %v", body, hdr)
				}
			}},
		{"gzipped HTML 404 becomes JSON", gzipReply(404, "text/html", gzipped("<!doctype html><title>404 Not Found</title>")),
			http.Header{"Accept-Encoding": {"gzip"}}, 404, replaced("RESOURCE_NOT_FOUND")},
		{"gzipped HTML labelled JSON becomes JSON", gzipReply(400, "application/json", gzipped("<pre>Traceback (most recent call last)</pre>")),
			http.Header{"Accept-Encoding": {"gzip"}}, 400, replaced("BAD_REQUEST")},
		{"gzipped JSON error decompressing past the bound becomes JSON", gzipReply(400, "application/json", gzBomb),
			http.Header{"Accept-Encoding": {"gzip"}}, 400, replaced("BAD_REQUEST")},
		{"JSON error in an unknown encoding becomes JSON", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "br")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, jsonError)
		}, http.Header{"Accept-Encoding": {"br"}}, 404, replaced("RESOURCE_NOT_FOUND")},
		{"HTML 404 becomes JSON", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "<!doctype html><title>404 Not Found</title>")
		}, nil, 404, func(t *testing.T, hdr http.Header, body []byte) {
			v := mlflowBody(t, body)
			if v["error_code"] != "RESOURCE_NOT_FOUND" || !strings.HasSuffix(v["message"].(string), "/api/mlflow/api/2.0/mlflow/experiments/get") {
				t.Errorf("body %v", v)
			}
			if hdr.Get("Content-Type") != "application/json" || hdr.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("headers %v", hdr)
			}
		}},
		{"HTML 500 becomes JSON without the page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<pre>Traceback (most recent call last): sqlalchemy.exc.OperationalError</pre>")
		}, nil, 500, func(t *testing.T, _ http.Header, body []byte) {
			if v := mlflowBody(t, body); v["error_code"] != "INTERNAL_ERROR" || strings.Contains(string(body), "Traceback") {
				t.Errorf("body %s", body)
			}
		}},
		{"HTML 413 names the multipart settings", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, "<h1>413 Request Entity Too Large</h1>")
		}, nil, 413, func(t *testing.T, _ http.Header, body []byte) {
			v := mlflowBody(t, body)
			if v["error_code"] != "PAYLOAD_TOO_LARGE" || !strings.Contains(v["message"].(string), mlflowproxy.MultipartHint) {
				t.Errorf("body %v", v)
			}
		}},
		{"gzip passes through with Content-Encoding", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept-Encoding") != "gzip" {
				http.Error(w, "client's Accept-Encoding lost", 500)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
			_, _ = w.Write(gz.Bytes())
		}, http.Header{"Accept-Encoding": {"gzip"}}, 200, func(t *testing.T, hdr http.Header, body []byte) {
			if !bytes.Equal(body, gz.Bytes()) || hdr.Get("Content-Encoding") != "gzip" || hdr.Get("Content-Length") != strconv.Itoa(gz.Len()) {
				t.Errorf("gzip altered: %d bytes, headers %v", len(body), hdr)
			}
		}},
		{"no compression asked for, none added", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"accept_encoding":"`+r.Header.Get("Accept-Encoding")+`"}`)
		}, nil, 200, func(t *testing.T, _ http.Header, body []byte) {
			if string(body) != `{"accept_encoding":""}` {
				t.Errorf("body %s", body)
			}
		}},
		{"redirects are relayed, not followed", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", "https://bucket.s3.amazonaws.com/a?X-Amz-Signature=x")
			w.WriteHeader(http.StatusFound)
		}, nil, 302, func(t *testing.T, hdr http.Header, _ []byte) {
			if hdr.Get("Location") != "https://bucket.s3.amazonaws.com/a?X-Amz-Signature=x" {
				t.Errorf("Location %q", hdr.Get("Location"))
			}
		}},
		{"upstream's X-Request-Id does not replace ours", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Request-Id", "mlflow-id")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
		}, nil, 200, func(t *testing.T, hdr http.Header, _ []byte) {
			if hdr.Get("X-Request-Id") != "" {
				t.Errorf("X-Request-Id %q", hdr.Values("X-Request-Id"))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, tc.reply)
			h := newProxy(t, up.URL, nil)
			code, hdr, body := do(t, h, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, admin, tc.reqHeader)
			if code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", code, tc.wantStatus, body)
			}
			tc.check(t, hdr, body)
		})
	}
}

func TestProxyConnectFailureIs502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: connection refused
	h := newProxy(t, "http://"+addr, nil)
	code, _, body := do(t, h, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, admin, nil)
	v := mlflowBody(t, body)
	if code != http.StatusBadGateway || v["error_code"] != "BAD_GATEWAY" || strings.Contains(string(body), "refused") || strings.Contains(string(body), addr) {
		t.Errorf("status %d body %s", code, body)
	}
}

// slowUpstream answers only when the request is cancelled or after a minute.
func slowUpstream(t *testing.T) *recorder {
	return newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
}

func TestProxyTimeouts(t *testing.T) {
	t.Run("MLFLOW_TIMEOUT", func(t *testing.T) {
		h := newProxy(t, slowUpstream(t).URL, map[string]string{"MLFLOW_TIMEOUT": "200ms"})
		start := time.Now()
		code, _, body := do(t, h, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, admin, nil)
		assertTimeout(t, code, body, time.Since(start), 200*time.Millisecond)
	})
	t.Run("the invocation's deadline", func(t *testing.T) {
		h := newProxy(t, slowUpstream(t).URL, nil) // MLFLOW_TIMEOUT 25 s
		ctx, cancel := context.WithTimeout(context.Background(), mlflowproxy.DeadlineMargin+300*time.Millisecond)
		defer cancel()
		r := requestCtx(t, ctx, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, &admin, nil)
		start := time.Now()
		rec := serve(h, r)
		assertTimeout(t, rec.Code, rec.Body.Bytes(), time.Since(start), 300*time.Millisecond)
	})
	t.Run("no time left: answered without calling MLflow", func(t *testing.T) {
		up := slowUpstream(t)
		h := newProxy(t, up.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), mlflowproxy.DeadlineMargin/2)
		defer cancel()
		rec := serve(h, requestCtx(t, ctx, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, &admin, nil))
		if rec.Code != http.StatusGatewayTimeout || up.count.Load() != 0 {
			t.Errorf("status %d, %d upstream calls", rec.Code, up.count.Load())
		}
	})
	t.Run("a slow body is not cut by MLFLOW_TIMEOUT", func(t *testing.T) {
		up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			for range 4 {
				_, _ = io.WriteString(w, "chunk")
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
		})
		h := newProxy(t, up.URL, map[string]string{"MLFLOW_TIMEOUT": "150ms"})
		code, _, body := do(t, h, "GET", "/api/2.0/mlflow-artifacts/artifacts/slow.bin", nil, admin, nil)
		if code != 200 || string(body) != strings.Repeat("chunk", 4) {
			t.Errorf("status %d body %q", code, body)
		}
	})
}

func assertTimeout(t *testing.T, code int, body []byte, took, budget time.Duration) {
	t.Helper()
	if v := mlflowBody(t, body); code != http.StatusGatewayTimeout || v["error_code"] != "TIMEOUT" {
		t.Errorf("status %d body %s", code, body)
	}
	// The upstream hangs for a minute: an answer well before that came from the budget, however
	// slow the machine; one before the budget came too early.
	if took < budget || took > 30*time.Second {
		t.Errorf("answered after %s, budget %s", took, budget)
	}
}

// TestProxyStreamsThroughTheLambdaAdapter runs the handler as the function does, behind
// apigw.StreamingHandler: headers first, then the body as MLflow sends it, and a body cut by
// MLflow ends the stream with an error instead of looking complete.
func TestProxyStreamsThroughTheLambdaAdapter(t *testing.T) {
	const size = 3 << 20
	up := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		if strings.HasSuffix(r.URL.Path, "cut.bin") {
			_, _ = w.Write(make([]byte, size/2))
			panic(http.ErrAbortHandler) // the connection drops mid-body
		}
		_, _ = io.CopyN(w, &patternReader{}, size)
	})
	lambda := apigw.StreamingHandler(newProxy(t, up.URL, nil), quietLog())

	res, err := lambda(context.Background(), event("GET", "/api/2.0/mlflow-artifacts/artifacts/whole.bin", nil, &reader, nil))
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header(res.MultiValueHeaders)
	if res.StatusCode != 200 || hdr.Get("Content-Length") != strconv.Itoa(size) || hdr.Get("X-Request-Id") != "req-1" {
		t.Errorf("status %d headers %v", res.StatusCode, hdr)
	}
	got, err := io.ReadAll(res.Body)
	want, _ := io.ReadAll(io.LimitReader(&patternReader{}, size))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("body: %d bytes, err %v", len(got), err)
	}

	res, err = lambda(context.Background(), event("GET", "/api/2.0/mlflow-artifacts/artifacts/cut.bin", nil, &reader, nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(res.Body)
	if err == nil {
		t.Errorf("a body cut after %d of %d bytes ended cleanly", len(got), size)
	}
}

// patternReader is an endless, allocation-free source of known bytes.
type patternReader struct{ off int }

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte((p.off + i) % 251)
	}
	p.off += len(b)
	return len(b), nil
}

func TestProxyReusesConnections(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "{}")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	defer up.Close()
	h := newProxy(t, up.URL, nil)
	for range 5 {
		if code, _, _ := do(t, h, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, admin, nil); code != 200 {
			t.Fatal(code)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 sequential calls", n)
	}
}
