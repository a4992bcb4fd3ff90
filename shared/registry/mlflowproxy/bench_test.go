package mlflowproxy_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
)

// searchBody is the small call: the first page of runs/search.
var searchBody = []byte(`{"experiment_ids":["0"],"max_results":1}`)

// BenchmarkProxySmallCall times one small MLflow call made directly and through the proxy,
// in-process, iteration by iteration, so both see the same upstream at the same moment. "handler"
// is the http.Handler alone; "lambda" adds the streaming adapter the function runs behind (event
// decoding, pipe, goroutine). It reports the ratio proxied/direct and the µs the proxy adds.
func BenchmarkProxySmallCall(b *testing.B) {
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"runs":[],"next_page_token":""}`)
	}))
	defer stub.Close()
	upstreams := []struct {
		name string
		url  func(testing.TB) string
	}{
		{"httptest", func(testing.TB) string { return stub.URL }},
		{"mlflow", realMLflow},
	}
	for _, up := range upstreams {
		for _, via := range []string{"handler", "lambda"} {
			b.Run(up.name+"/"+via, func(b *testing.B) { benchSmallCall(b, up.url(b), via) })
		}
	}
}

func benchSmallCall(b *testing.B, upstream, via string) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DisableCompression = true
	direct := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	h := newProxy(b, upstream, nil)
	lambda := apigw.StreamingHandler(h, quietLog())
	const path = "/api/2.0/mlflow/runs/search"

	callDirect := func() {
		res, err := direct.Post(upstream+path, "application/json", bytes.NewReader(searchBody))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("direct: %d", res.StatusCode)
		}
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	callProxy := func() {
		if via == "handler" {
			rec := serve(h, request(b, "POST", "/api/mlflow"+path, searchBody, &reader, hdr))
			if rec.Code != 200 {
				b.Fatalf("proxied: %d %s", rec.Code, rec.Body)
			}
			return
		}
		res, err := lambda(context.Background(), event("POST", "/api/mlflow"+path, searchBody, &reader, hdr))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode != 200 {
			b.Fatalf("proxied: %d", res.StatusCode)
		}
	}
	callDirect() // warm both connection pools
	callProxy()

	var directTime, proxyTime time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		callDirect()
		t1 := time.Now()
		callProxy()
		proxyTime += time.Since(t1)
		directTime += t1.Sub(t0)
		n++
	}
	perCall := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) / 1e3 }
	b.ReportMetric(perCall(directTime), "direct-µs/call")
	b.ReportMetric(perCall(proxyTime), "proxied-µs/call")
	b.ReportMetric(perCall(proxyTime-directTime), "added-µs/call")
	b.ReportMetric(float64(proxyTime)/float64(directTime), "ratio")
}

// BenchmarkStreamDownload streams a 150 MB artifact from a generating upstream through the
// proxy behind the Lambda streaming adapter, and reports the peak heap in use while it flows.
func BenchmarkStreamDownload(b *testing.B) {
	const size = 150 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = io.CopyBuffer(w, io.LimitReader(&patternReader{}, size), make([]byte, 64<<10))
	}))
	defer up.Close()
	lambda := apigw.StreamingHandler(newProxy(b, up.URL, nil), quietLog())
	ev := event("GET", "/api/mlflow/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model.bin", nil, &reader, nil)

	runtime.GC()
	peak := sampleHeap()
	b.SetBytes(size)
	for b.Loop() {
		res, err := lambda(context.Background(), ev)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, res.Body)
		if err != nil || n != size || res.StatusCode != 200 {
			b.Fatalf("status %d, %d bytes, err %v", res.StatusCode, n, err)
		}
	}
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
}

// sampleHeap samples HeapInuse every few milliseconds until the returned function is called,
// which stops sampling and returns the peak.
func sampleHeap() func() uint64 {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
