package testenv_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// Without a browser, a browser test skips on a developer's machine and fails under CI.
func TestChromiumMissing(t *testing.T) {
	t.Setenv("CHROMIUM", "")
	t.Setenv("PATH", t.TempDir())
	for ci, wantFatal := range map[string]bool{"true": true, "": false} {
		t.Setenv("CI", ci)
		r := ending(t, func(tb testing.TB) { testenv.Chromium(tb) })
		if r.fatal != wantFatal || r.skipped == wantFatal {
			t.Errorf("CI=%q: fatal=%v skipped=%v", ci, r.fatal, r.skipped)
		}
	}
	t.Setenv("CHROMIUM", "/opt/chromium")
	if got := testenv.Chromium(t); got != "/opt/chromium" {
		t.Errorf("CHROMIUM set: %q", got)
	}
}

// Artifacts outlive the test, one fresh folder a call, under TEST_ARTIFACTS when it is set.
func TestArtifacts(t *testing.T) {
	base := t.TempDir()
	t.Setenv("TEST_ARTIFACTS", base)
	a, b := testenv.Artifacts(t), testenv.Artifacts(t)
	if a == b || filepath.Dir(a) != base || !strings.HasPrefix(filepath.Base(a), "TestArtifacts-") {
		t.Errorf("artifacts %s, %s under %s", a, b, base)
	}
	if st, err := os.Stat(a); err != nil || !st.IsDir() {
		t.Errorf("not a folder: %v", err)
	}
}
