package testenv_test

import (
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// recorder captures how Missing ends a test without ending this one.
type recorder struct {
	testing.TB
	fatal, skipped bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.fatal = true }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }

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
			r := &recorder{TB: t}
			testenv.Missing(r, "no %s", "moto")
			if r.fatal != tc.fatal || r.skipped != tc.skipped {
				t.Errorf("CI=%q: fatal=%v skipped=%v, want fatal=%v skipped=%v", tc.ci, r.fatal, r.skipped, tc.fatal, tc.skipped)
			}
		})
	}
}
