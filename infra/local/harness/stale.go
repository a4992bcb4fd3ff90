package harness

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const harnessPidFile = "harness.pid"

// killStaleHarness stops a harness left running by an earlier run (its pid file names it), so its
// ports are free again. A pid now owned by an unrelated process is left alone.
func killStaleHarness(stateDir string) error {
	path := filepath.Join(stateDir, harnessPidFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err == nil && pid != os.Getpid() && looksLikeHarness(pid) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return os.Remove(path)
}

// looksLikeHarness checks the process's command line, so a recycled pid is never killed.
func looksLikeHarness(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	cmd := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
	return strings.Contains(cmd, "local") || strings.Contains(cmd, "e2e.test") || strings.Contains(cmd, "harness")
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", raw, err)
	}
	return u, nil
}
