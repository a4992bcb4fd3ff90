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

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
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

// BenchmarkPermissionCheck is the cost of a per-resource check served from cache, in process:
// the same small call (experiments/get, which needs READ on its experiment) through a proxy with
// permissions on, their facts in the real permstore.Cached in front of a store, and through one
// with them off, iteration by iteration over the same upstream. It reports the µs the check adds
// (the bound is 200) and the ratio; the uncached check's calls are counted in
// TestPermissionCheckCost.
func BenchmarkPermissionCheck(b *testing.B) {
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"experiment":{"experiment_id":"1","name":"bench"}}`)
	}))
	defer stub.Close()
	store := newPerms()
	cached := permstore.NewCached(store, time.Minute, 100)
	on, _ := enforcedProxy(b, stub.URL, mlflowproxy.PermissionStore{Cached: cached, Owners: newPerms()})
	off := newProxy(b, stub.URL, nil)
	const path = "/api/mlflow/api/2.0/mlflow/experiments/get?experiment_id=1"
	call := func(h http.Handler) {
		if code, _, out := do(b, h, "GET", path, nil, reader, nil); code != 200 {
			b.Fatalf("%d %s", code, out)
		}
	}
	call(on) // the facts are cached from here on
	call(off)
	var onTime, offTime time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		call(off)
		t1 := time.Now()
		call(on)
		onTime += time.Since(t1)
		offTime += t1.Sub(t0)
		n++
	}
	if r := store.reads(); r != 1 {
		b.Fatalf("%d store reads: the checks were not served from the cache", r)
	}
	perCall := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) / 1e3 }
	b.ReportMetric(perCall(offTime), "off-µs/call")
	b.ReportMetric(perCall(onTime), "on-µs/call")
	b.ReportMetric(perCall(onTime-offTime), "check-µs/call")
	b.ReportMetric(float64(onTime)/float64(offTime), "ratio")
}
