// Package e2e runs end-to-end tests against the whole local stack: the harness is started once
// for the package (real moto, real MLflow, the functions' real binaries) and stopped after.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

var (
	h        *harness.Harness
	root     string
	venv     string
	stateDir string
	// output collects every line the stack printed, so tests can search it (for leaked keys).
	output = &testenv.Buffer{}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if root, err = testenv.RootDir(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if venv, err = testenv.VenvDir(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// The one way assets are built: the Makefile target `make local` uses too.
	build := exec.Command("make", "--no-print-directory", "local-assets")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: make local-assets: %v\n%s", err, out)
		return 1
	}
	stateDir, err = os.MkdirTemp("", "hokusai-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(stateDir)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h, err = harness.Start(ctx, harness.Options{
		TemplatePath: filepath.Join(root, ".local/cdk.out/HokusaiRegistryGateway-local.template.json"),
		VenvDir:      venv,
		StateDir:     stateDir,
		Output:       output,
		Log:          slog.New(slog.NewTextHandler(output, nil)),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start the harness: %v\n--- output ---\n%s", err, tail(output.String(), 4000))
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: harness ready in %s (API %s, MLflow %s)\n", h.StartDuration.Round(time.Millisecond), h.APIURL, h.MLflowURL)
	code := m.Run()
	if err := h.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stop:", err)
		code = 1
	}
	if left := leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: processes left behind after Stop:\n  %s\n", strings.Join(left, "\n  "))
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- stack output (tail) ---\n%s\n", tail(output.String(), 6000))
	}
	return code
}

// leftovers lists live processes that belong to this run: servers using its state dir, and
// function binaries from the local assets.
func leftovers() []string {
	var found []string
	time.Sleep(200 * time.Millisecond) // let the kernel reap what Stop killed
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmd) == 0 {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		line := strings.ReplaceAll(string(cmd), "\x00", " ")
		if strings.Contains(line, stateDir) || strings.Contains(line, filepath.Join(root, ".local/cdk.out")) ||
			strings.Contains(line, h.MotoURL[strings.LastIndex(h.MotoURL, ":")+1:]) && strings.Contains(line, "moto_server") {
			found = append(found, e.Name()+": "+line)
		}
	}
	return found
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// startStack starts a second local stack for one test, from tmpl (see synthTemplate) with opts
// for the rest, and stops it when the test ends, showing its output if the test failed. Its
// output is returned for the test to search.
func startStack(t testing.TB, tmpl string, opts harness.Options) (*harness.Harness, *testenv.Buffer) {
	t.Helper()
	out := &testenv.Buffer{}
	opts.TemplatePath, opts.VenvDir, opts.StateDir = tmpl, venv, t.TempDir()
	opts.Output, opts.Log = out, slog.New(slog.NewTextHandler(out, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, tail(out.String(), 3000))
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("%s stack output (tail):\n%s", t.Name(), tail(out.String(), 5000))
		}
	})
	return s, out
}
