// Package testenv holds what every package's tests share about their environment.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where every dependency `make test`
// installs must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing reports a test dependency that is not there (the project virtualenv, a server, a
// source file). On a developer's machine the test is skipped, so `go test` of one package works
// before `make deps`; under CI the test fails, because a skipped test there would hide a broken
// install step behind a green run.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("missing test dependency (CI=true, so this fails instead of skipping): "+format, args...)
		return
	}
	tb.Skipf(format, args...)
}
