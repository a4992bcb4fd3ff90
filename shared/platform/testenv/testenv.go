// Package testenv holds what every package's tests share about their environment.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	root, err := RootDir()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// RootDir is Root for a TestMain, which has no testing.TB.
func RootDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Venv is the project virtualenv `make deps` installs (.venv at the root), or VENV_DIR's to try
// the tests against another MLflow or moto, after checking that it holds tool (for example
// "mlflow", "moto_server" or "python"); Missing otherwise. It is the one place tests find it.
func Venv(tb testing.TB, tool string) string {
	tb.Helper()
	venv, err := VenvDir()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(venv, "bin", tool)); err != nil {
		Missing(tb, "no %s in %s (make deps installs it)", tool, venv)
	}
	return venv
}

// VenvDir is Venv for a TestMain, unchecked: what the TestMain starts fails without it.
func VenvDir() (string, error) {
	if venv := os.Getenv("VENV_DIR"); venv != "" {
		return filepath.Abs(venv)
	}
	root, err := RootDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".venv"), nil
}

// Python is the virtualenv's interpreter, for tests that drive MLflow's own Python client.
func Python(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(Venv(tb, "python"), "bin", "python")
}

// Chromium is the headless browser the browser tests drive: CHROMIUM's path, or Debian's
// `chromium` on PATH (`make deps` installs it); Missing otherwise.
func Chromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		Missing(tb, "no chromium on PATH (make deps installs Debian's chromium)")
	}
	return p
}

// Artifacts is a folder for what a test leaves for a person to look at (screenshots): under
// TEST_ARTIFACTS if set, else under the repository's .cache/test-artifacts, one per test name and
// run. Unlike t.TempDir it is kept after the test; the test logs its path.
func Artifacts(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("TEST_ARTIFACTS")
	if base == "" {
		base = filepath.Join(Root(tb), ".cache", "test-artifacts")
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
	if err := os.MkdirAll(base, 0o755); err != nil {
		tb.Fatalf("test artifacts: %v", err)
	}
	// A timestamp to sort by, and MkdirTemp's suffix so two runs never share a folder.
	dir, err := os.MkdirTemp(base, name+"-"+time.Now().UTC().Format("20060102T150405")+"-")
	if err != nil {
		tb.Fatalf("test artifacts: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("artifacts of %s: %s", tb.Name(), abs)
	return abs
}
