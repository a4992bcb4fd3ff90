package mlflowproxy_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	cct "github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding/contentcodingtest"
)

// MLflow decompresses an OTLP export whatever it decompresses to; the proxy refuses one that
// decompresses past 20 MiB, or not at all, before MLflow reads it, and relays every other
// export byte for byte.
func TestOTLPBodiesAreBoundedDecompressed(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	var codings []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		codings = append(codings, r.Header.Get("Content-Encoding"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer upstream.Close()
	h := newProxy(t, upstream.URL, nil)

	spans := []byte(`{"resourceSpans":[]}`)
	bomb := make([]byte, 21<<20) // zeros: 21 MiB, a few kilobytes compressed
	for _, tc := range []struct {
		name    string
		body    []byte
		codings []string
		status  int
		code    string
	}{
		{"uncompressed", spans, nil, 200, ""},
		{"gzip", cct.Encode(t, cct.Gzip, spans), []string{"gzip"}, 200, ""},
		{"deflate, zlib-wrapped", cct.Encode(t, cct.Zlib, spans), []string{"deflate"}, 200, ""},
		{"deflate, raw", cct.Encode(t, cct.Raw, spans), []string{"deflate"}, 200, ""},
		{"GZIP in capitals, as MLflow lower-cases it", cct.Encode(t, cct.Gzip, spans), []string{"GZIP"}, 200, ""},
		{"20 MiB decompressed, the bound", cct.Encode(t, cct.Gzip, bomb[:20<<20]), []string{"gzip"}, 200, ""},
		// Codings MLflow does not decompress: it refuses them itself.
		{"a coding MLflow does not know", spans, []string{"br"}, 200, ""},
		{"a gzip bomb", cct.Encode(t, cct.Gzip, bomb), []string{"gzip"}, 413, "PAYLOAD_TOO_LARGE"},
		{"a zlib bomb", cct.Encode(t, cct.Zlib, bomb), []string{"deflate"}, 413, "PAYLOAD_TOO_LARGE"},
		{"a raw deflate bomb", cct.Encode(t, cct.Raw, bomb), []string{"Deflate"}, 413, "PAYLOAD_TOO_LARGE"},
		{"not gzip", spans, []string{"gzip"}, 400, "INVALID_PARAMETER_VALUE"},
		{"truncated gzip", cct.Encode(t, cct.Gzip, spans)[:12], []string{"gzip"}, 400, "INVALID_PARAMETER_VALUE"},
		{"not deflate either way", []byte{0xff, 0xfe, 0xfd}, []string{"deflate"}, 400, "INVALID_PARAMETER_VALUE"},
		{"two codings", cct.Encode(t, cct.Gzip, spans), []string{"identity", "gzip"}, 400, "INVALID_PARAMETER_VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got, codings = nil, nil
			mu.Unlock()
			hdr := http.Header{"Content-Type": {"application/json"}, "X-Mlflow-Experiment-Id": {"0"}}
			for _, c := range tc.codings {
				hdr.Add("Content-Encoding", c)
			}
			status, _, b := do(t, h, "POST", "/api/mlflow/v1/traces", tc.body, writer, hdr)
			if status != tc.status {
				t.Fatalf("%d %s, want %d", status, b, tc.status)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.code != "" {
				if e := mlflowBody(t, b); e["error_code"] != tc.code {
					t.Errorf("error %v, want %s", e, tc.code)
				}
				if len(got) != 0 {
					t.Errorf("MLflow was sent %d bytes", len(got[0]))
				}
				return
			}
			if len(got) != 1 || !bytes.Equal(got[0], tc.body) {
				t.Fatalf("MLflow got %d calls, not the body as sent", len(got))
			}
			if want := ""; len(tc.codings) > 0 {
				want = tc.codings[0]
				if codings[0] != want {
					t.Errorf("MLflow got Content-Encoding %q, want %q", codings[0], want)
				}
			}
		})
	}
}

// Against the real server: a gzipped export within the bound is decompressed by MLflow itself.
func TestOTLPGzipReachesMLflow(t *testing.T) {
	h := newProxy(t, realMLflow(t), nil)
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Mlflow-Experiment-Id": {"0"}, "Content-Encoding": {"gzip"}}
	span := `{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",` +
		`"spanId":"eee19b7ec3c1b174","name":"gzipped","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000","kind":1}]}]}]}`
	status, _, b := do(t, h, "POST", "/api/mlflow/v1/traces", cct.Encode(t, cct.Gzip, []byte(span)), writer, hdr)
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	// And MLflow's own refusal of a body it cannot decompress is not what the client sees: the
	// proxy's answer is.
	hdr.Set("Content-Encoding", "gzip")
	status, _, b = do(t, h, "POST", "/api/mlflow/v1/traces", []byte("plain"), writer, hdr)
	if e := mlflowBody(t, b); status != 400 || e["error_code"] != "INVALID_PARAMETER_VALUE" {
		t.Fatalf("%d %s", status, b)
	}
}
