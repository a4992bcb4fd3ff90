package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchKey mints an admin key for benchmarks (no *testing.T there).
func benchKey(b *testing.B) string {
	key, err := h.MintAdminKey(context.Background(), "bench-admin", "bench@e2e.test")
	if err != nil {
		b.Fatal(err)
	}
	return key
}

func timedCalls(b *testing.B, n int, do func() (*http.Response, error)) time.Duration {
	start := time.Now()
	for range n {
		res, err := do()
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	return time.Since(start)
}

// BenchmarkMLflowThroughGateway makes the same small MLflow call straight to MLflow and through
// the whole local stack (gateway, authorizer, proxy function), interleaved in one run, and reports
// the ratio and the added time per call.
func BenchmarkMLflowThroughGateway(b *testing.B) {
	key := benchKey(b)
	body := `{"max_results":1}`
	direct := func() (*http.Response, error) {
		return http.Post(h.MLflowURL+"/api/2.0/mlflow/experiments/search", "application/json", strings.NewReader(body))
	}
	gateway := func() (*http.Response, error) {
		req, _ := http.NewRequest("POST", h.APIURL+"/api/mlflow/api/2.0/mlflow/experiments/search", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(req)
	}
	timedCalls(b, 5, gateway) // warm the functions and the authorizer's cache
	var d, g time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d += timedCalls(b, 1, direct)
		g += timedCalls(b, 1, gateway)
	}
	n := float64(b.N)
	b.ReportMetric(float64(d.Microseconds())/n, "direct-µs/call")
	b.ReportMetric(float64(g.Microseconds())/n, "gateway-µs/call")
	b.ReportMetric(float64((g-d).Microseconds())/n, "added-µs/call")
	b.ReportMetric(float64(g)/float64(d), "ratio")
}

// BenchmarkStream150MB downloads a 150 MB artifact through the gateway and reports the proxy
// function process's peak resident memory (VmHWM), which must not grow with the artifact.
func BenchmarkStream150MB(b *testing.B) {
	key := benchKey(b)
	const size = 150 << 20
	path := fmt.Sprintf("bench/%d/big.bin", time.Now().UnixNano())
	// Put it straight into MLflow's artifact store: the upload is not what is measured.
	data := make([]byte, size)
	_, _ = rand.Read(data)
	req, _ := http.NewRequest("PUT", h.MLflowURL+"/api/2.0/mlflow-artifacts/artifacts/"+path, bytes.NewReader(data))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("upload: %v %v", res, err)
	}
	res.Body.Close()
	data = nil
	fn, _ := h.Function("mlflowproxy")
	for b.Loop() {
		req, _ := http.NewRequest("GET", h.APIURL+"/api/2.0/mlflow-artifacts/artifacts/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || n != size {
			b.Fatalf("status %d, %d bytes", res.StatusCode, n)
		}
	}
	var peak int
	for _, pid := range processesOf(filepath.Join(fn.AssetDir, "bootstrap")) {
		peak = max(peak, vmHWM(pid))
	}
	b.ReportMetric(float64(peak)/1024, "proxy-peak-RSS-MB")
	b.ReportMetric(float64(size)/(1<<20), "artifact-MB")
}

// vmHWM is a process's peak resident set in KiB.
func vmHWM(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}

// BenchmarkColdStart reports each function's init time: its processes are killed, and the next
// invocation starts a new one, as a new Lambda sandbox would.
func BenchmarkColdStart(b *testing.B) {
	for _, name := range []string{"health", "authorizer", "keys", "mlflowproxy", "register", "outbox"} {
		b.Run(name, func(b *testing.B) {
			fn, pool := h.Function(name)
			if fn == nil {
				b.Skip("no such function")
			}
			var total time.Duration
			for b.Loop() {
				for _, pid := range processesOf(filepath.Join(fn.AssetDir, "bootstrap")) {
					_ = killPid(pid)
				}
				for len(processesOf(filepath.Join(fn.AssetDir, "bootstrap"))) > 0 {
					time.Sleep(5 * time.Millisecond)
				}
				// Any payload will do: init happens before the handler sees it.
				res, err := pool.Invoke(context.Background(), []byte(`{}`))
				if err != nil {
					b.Fatal(err)
				}
				total += res.InitDuration
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "init-ms")
		})
	}
}

// BenchmarkRegistryThroughGateway is issue 13's cost: a registry write (a tag set, which the proxy
// publishes as registered_model_tag.set with one PutEvents) and a registry read (which gains no
// call), each made straight to MLflow and through the whole local stack, interleaved in one run.
// It reports the ratio and the time the gateway adds per call; compare write and read.
func BenchmarkRegistryThroughGateway(b *testing.B) {
	key := benchKey(b)
	name := fmt.Sprintf("bench-registry-%d", time.Now().UnixNano())
	res, err := http.Post(h.MLflowURL+"/api/2.0/mlflow/registered-models/create", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("create %s: %v %v", name, err, res)
	}
	res.Body.Close()
	call := func(base, method, path, body string, auth bool) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, _ := http.NewRequest(method, base+path, rd)
			req.Header.Set("Content-Type", "application/json")
			if auth {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			return http.DefaultClient.Do(req)
		}
	}
	for _, tc := range []struct{ name, method, endpoint, body string }{
		{"write", "POST", "registered-models/set-tag", `{"name":"` + name + `","key":"bench","value":"1"}`},
		{"read", "GET", "registered-models/get?name=" + name, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			direct := call(h.MLflowURL, tc.method, "/api/2.0/mlflow/"+tc.endpoint, tc.body, false)
			gateway := call(h.APIURL, tc.method, "/api/mlflow/api/2.0/mlflow/"+tc.endpoint, tc.body, true)
			timedCalls(b, 5, gateway) // warm the functions and the authorizer's cache
			var d, g time.Duration
			b.ResetTimer()
			for b.Loop() {
				d += timedCalls(b, 1, direct)
				g += timedCalls(b, 1, gateway)
			}
			n := float64(b.N)
			b.ReportMetric(float64(d.Microseconds())/n, "direct-µs/call")
			b.ReportMetric(float64(g.Microseconds())/n, "gateway-µs/call")
			b.ReportMetric(float64((g-d).Microseconds())/n, "added-µs/call")
			b.ReportMetric(float64(g)/float64(d), "ratio")
		})
	}
}
