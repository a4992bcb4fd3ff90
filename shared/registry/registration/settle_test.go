package registration_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
)

// clock is a settable clock for the handler (Deps.Now).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func withClock(c *clock) envOption { return func(d *registration.Deps) { d.Now = c.now } }

// A key whose create was lost answers 409 REGISTRATION_OUTCOME_UNKNOWN with Retry-After only
// while MLflow may still be committing that create; after that, having searched once more, it
// answers the same code without Retry-After, telling the client to use a new key. A version that
// lands late, but before that search, still completes the registration.
func TestLostCreateOutcomeIsSettledInTime(t *testing.T) {
	const timeout = 300 * time.Millisecond
	// The window is max(2 min, 30 × the MLflow timeout): 2 minutes here.
	const window = 2 * time.Minute
	searches := func(e *env) int { return e.ml.callCounts()["GET /api/2.0/mlflow/model-versions/search"] }
	lose := func(t *testing.T, key string) (*env, *clock, func()) {
		c := &clock{t: time.Now()}
		e := newEnv(t, "", withTimeout(timeout), withClock(c))
		e.ml.addRun(runID, modelID)
		late := e.ml.holdNextCreate()
		var release sync.Once
		land := func() {
			release.Do(func() { close(late.release) })
			<-late.landed
		}
		t.Cleanup(func() { release.Do(func() { close(late.release) }) })
		if rec := e.register(t, registerBody(nil), writer, key); rec.Code != 504 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		<-late.arrived
		return e, c, land
	}
	unknown := func(t *testing.T, rec *httptest.ResponseRecorder, retryAfter bool) {
		t.Helper()
		b := decode(t, rec)
		if rec.Code != 409 || b["error"] != registration.CodeOutcomeUnknown || (rec.Header().Get("Retry-After") != "") != retryAfter {
			t.Fatalf("%d %s, Retry-After %q; want 409 %s with Retry-After %v", rec.Code, rec.Body, rec.Header().Get("Retry-After"),
				registration.CodeOutcomeUnknown, retryAfter)
		}
	}

	t.Run("never landed: terminal after the window", func(t *testing.T) {
		e, c, _ := lose(t, "lost-terminal")
		for _, d := range []time.Duration{time.Second, window - 2*time.Second} {
			c.advance(d)
			unknown(t, e.register(t, registerBody(nil), writer, "lost-terminal"), true)
		}
		c.advance(2 * time.Second)
		before := searches(e)
		rec := e.register(t, registerBody(nil), writer, "lost-terminal")
		unknown(t, rec, false)
		if detail := decode(t, rec)["detail"].(string); !strings.Contains(detail, "was not created") || !strings.Contains(detail, "new Idempotency-Key") {
			t.Errorf("detail %q", detail)
		}
		if searches(e) != before+1 {
			t.Errorf("%d searches for the version before the terminal answer, want 1", searches(e)-before)
		}
		// It stays terminal, and nothing was created behind it.
		c.advance(time.Hour)
		unknown(t, e.register(t, registerBody(nil), writer, "lost-terminal"), false)
		if n := len(e.ml.allVersions()); n != 0 {
			t.Errorf("%d versions", n)
		}
		// A new key registers it.
		registered(t, e.register(t, registerBody(nil), writer, "lost-terminal-2"))
	})

	t.Run("landed after the window, before the last search: registered once", func(t *testing.T) {
		e, c, land := lose(t, "lost-late")
		c.advance(time.Second)
		unknown(t, e.register(t, registerBody(nil), writer, "lost-late"), true)
		land()
		c.advance(window)
		v := registered(t, e.register(t, registerBody(nil), writer, "lost-late"))
		if vs := e.ml.allVersions(); len(vs) != 1 || vs[0].Version != v.Version {
			t.Errorf("answer %+v, versions %+v", v, vs)
		}
	})
}
