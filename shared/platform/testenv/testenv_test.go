package testenv_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// recorder captures how Missing ends a test without ending this one.
type recorder struct {
	testing.TB
	fatal, skipped bool
}

func (r *recorder) Helper() {}

// Fatalf and Skipf end the goroutine, as testing's do, so that nothing runs past them.
func (r *recorder) Fatalf(string, ...any) { r.fatal = true; runtime.Goexit() }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true; runtime.Goexit() }

// ending runs fn with a recorder on a goroutine of its own, which the recorder's Fatalf and Skipf
// end, and returns the recorder.
func ending(t *testing.T, fn func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		ci             string
		fatal, skipped bool
	}{
		{ci: "true", fatal: true},
		{ci: "", skipped: true},
		{ci: "false", skipped: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := ending(t, func(tb testing.TB) { testenv.Missing(tb, "no %s", "moto") })
			if r.fatal != tc.fatal || r.skipped != tc.skipped {
				t.Errorf("CI=%q: fatal=%v skipped=%v, want fatal=%v skipped=%v", tc.ci, r.fatal, r.skipped, tc.fatal, tc.skipped)
			}
		})
	}
}

// Servers started without testenv.Main would outlive the test binary, so asking for one fails.
func TestServersNeedMain(t *testing.T) {
	if testing.Short() {
		t.Skip("the guard sits behind the -short skip")
	}
	for name, start := range map[string]func(testing.TB){
		"Moto":   func(tb testing.TB) { testenv.Moto(tb) },
		"MLflow": func(tb testing.TB) { testenv.MLflow(tb) },
	} {
		t.Run(name, func(t *testing.T) {
			if r := ending(t, start); !r.fatal {
				t.Errorf("%s without testenv.Main did not fail", name)
			}
		})
	}
}

// Writers on their own goroutines and a reader at once: -race fails a buffer without the lock.
func TestBufferConcurrent(t *testing.T) {
	var b testenv.Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprint(&b, "x")
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := len(b.String()); got != 400 {
		t.Errorf("%d bytes, want 400", got)
	}
}
