package apigw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
)

func streamEvent(method string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		HTTPMethod:     method,
		Path:           "/files/big.bin",
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-stream"},
	}
}

// invoke runs the adapter with a deadline, as the Lambda runtime does.
func invoke(t *testing.T, h http.Handler, ev events.APIGatewayProxyRequest) *events.APIGatewayProxyStreamingResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	res, err := apigw.StreamingHandler(h, nil)(ctx, ev)
	if err != nil {
		t.Fatalf("handler error: %v", err)
	}
	return res
}

func TestStreamingHandlerReturnsWhenHeadersAreWritten(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(http.StatusCreated)
		w.(http.Flusher).Flush()
		<-release // the body is not written until the test has the response in hand
		w.Header().Set("X-Late", "ignored")
		_, _ = io.WriteString(w, "body")
	})
	res := invoke(t, h, streamEvent("GET"))
	if res.StatusCode != http.StatusCreated {
		t.Errorf("status %d", res.StatusCode)
	}
	hdr := http.Header(res.MultiValueHeaders)
	if hdr.Get("X-Request-Id") != "req-stream" || hdr.Get("Content-Type") != "application/octet-stream" || len(hdr.Values("X-Multi")) != 2 {
		t.Errorf("headers %v", hdr)
	}
	close(release)
	body, err := io.ReadAll(res.Body)
	if err != nil || string(body) != "body" {
		t.Errorf("body %q, err %v", body, err)
	}
	if hdr.Get("X-Late") != "" {
		t.Error("a header changed after the response started leaked into it")
	}
}

func TestStreamingHandlerAnswers(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	for _, tc := range []struct {
		name       string
		method     string
		h          http.HandlerFunc
		wantStatus int
		wantBody   []byte
	}{
		{"nothing written is an empty 200", "GET", func(http.ResponseWriter, *http.Request) {}, 200, nil},
		{"binary bytes pass as they are, not base64", "GET", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(binary)
		}, 200, binary},
		{"HEAD drops a body written anyway", "HEAD", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}, 200, nil},
		{"1xx is not the final status", "GET", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusAccepted)
		}, 202, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := invoke(t, tc.h, streamEvent(tc.method))
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantStatus || !bytes.Equal(body, tc.wantBody) {
				t.Errorf("status %d body %q, want %d %q", res.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestStreamingHandlerWireFormat(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "tea")
	})
	// What the runtime sends: the JSON prelude, eight NUL bytes, then the body.
	raw, err := io.ReadAll(invoke(t, h, streamEvent("GET")))
	if err != nil {
		t.Fatal(err)
	}
	prelude, body, ok := bytes.Cut(raw, make([]byte, 8))
	if !ok || string(body) != "tea" {
		t.Fatalf("stream %q", raw)
	}
	var p struct {
		StatusCode        int                 `json:"statusCode"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	}
	if err := json.Unmarshal(prelude, &p); err != nil || p.StatusCode != http.StatusTeapot || p.MultiValueHeaders["X-Request-Id"][0] != "req-stream" {
		t.Errorf("prelude %s (%v)", prelude, err)
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

func TestStreamingHandlerStreamsWithBoundedMemory(t *testing.T) {
	const size = 100 << 20
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		buf := make([]byte, 32<<10)
		_, _ = io.CopyBuffer(w, io.LimitReader(&patternReader{}, size), buf)
	})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	res := invoke(t, h, streamEvent("GET"))
	check := &patternReader{}
	want := make([]byte, 64<<10)
	got := make([]byte, 64<<10)
	var n int64
	for {
		k, err := res.Body.Read(got)
		if k > 0 {
			_, _ = check.Read(want[:k])
			if !bytes.Equal(got[:k], want[:k]) {
				t.Fatalf("byte mismatch near offset %d", n)
			}
			n += int64(k)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if n != size {
		t.Errorf("streamed %d bytes, want %d", n, size)
	}
	// Everything allocated during the transfer, not just what is live: a buffered body would
	// account for at least its 100 MB.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KB while streaming %d MB", alloc>>10, size>>20)
	if alloc > 8<<20 {
		t.Errorf("allocated %d MB while streaming %d MB", alloc>>20, size>>20)
	}
}

func TestStreamingHandlerPanics(t *testing.T) {
	t.Run("before writing: a 500 JSON answer with none of the handler's headers", func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", "1000")
			panic("boom")
		})
		res := invoke(t, h, streamEvent("GET"))
		body, _ := io.ReadAll(res.Body)
		hdr := http.Header(res.MultiValueHeaders)
		if res.StatusCode != 500 || hdr.Get("Content-Type") != "application/json" || hdr.Get("Content-Length") != "" || hdr.Get("X-Request-Id") != "req-stream" {
			t.Errorf("status %d headers %v", res.StatusCode, hdr)
		}
		if !strings.Contains(string(body), `"INTERNAL_ERROR"`) || strings.Contains(string(body), "boom") {
			t.Errorf("body %s", body)
		}
	})
	for _, p := range []any{"boom", http.ErrAbortHandler} {
		t.Run("after writing: the body ends with an error", func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "partial")
				panic(p)
			})
			res := invoke(t, h, streamEvent("GET"))
			body, err := io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(body) != "partial" || err == nil {
				t.Errorf("status %d body %q err %v: a short body must not look complete", res.StatusCode, body, err)
			}
		})
	}
}

func TestStreamingHandlerMalformedEvent(t *testing.T) {
	ev := streamEvent("GET")
	ev.Body, ev.IsBase64Encoded = "not base64!", true
	res := invoke(t, http.NotFoundHandler(), ev)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(body), "BAD_REQUEST") {
		t.Errorf("status %d body %s", res.StatusCode, body)
	}
}

func TestStreamingHandlerInvocationEndsBeforeHeaders(t *testing.T) {
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		w.WriteHeader(http.StatusGatewayTimeout)
		_, err := io.WriteString(w, "too late")
		done <- err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := apigw.StreamingHandler(h, nil)(ctx, streamEvent("GET")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("a write after the invocation ended succeeded; nobody reads it")
		}
	case <-time.After(time.Minute): // a stuck goroutine never returns; a slow one does well before
		t.Fatal("the handler's goroutine is stuck on a pipe nobody reads")
	}
}
