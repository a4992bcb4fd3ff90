// Package testenv holds what every package's tests share about their environment.
package testenv

import (
	"os"
	"path/filepath"
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

// Root is the repository's root: the directory of the module's go.mod, found from the test's
// working directory (go test runs a test in its package's directory), so a package's tests find
// it wherever the package sits.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Venv is the project virtualenv `make deps` installs (.venv at the root), after checking that
// it holds tool (for example "mlflow" or "moto_server"); Missing otherwise.
func Venv(tb testing.TB, tool string) string {
	tb.Helper()
	venv := filepath.Join(Root(tb), ".venv")
	if _, err := os.Stat(filepath.Join(venv, "bin", tool)); err != nil {
		Missing(tb, "no %s in %s (make deps installs it)", tool, venv)
	}
	return venv
}
