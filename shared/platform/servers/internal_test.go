//go:build linux

package servers

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestKillStale(t *testing.T) {
	fakeMoto := spawn(t, "/venv/bin/moto_server") // looks like moto
	unrelated := spawn(t, "sleep")
	dead := spawn(t, "sleep")
	_ = dead.Process.Kill()
	_ = dead.Wait()

	for _, tc := range []struct {
		name     string
		pidFile  string
		cmd      *exec.Cmd
		wantKill bool
	}{
		{"matching cmdline is killed", "moto.pid", fakeMoto, true},
		{"unrelated reused pid is spared", "mlflow.pid", unrelated, false},
		{"dead pid is ignored", "moto.pid", dead, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stateDir := t.TempDir()
			pidFile := filepath.Join(stateDir, tc.pidFile)
			writePid(t, pidFile, tc.cmd.Process.Pid)
			if err := KillStale(stateDir); err != nil {
				t.Fatalf("KillStale: %v", err)
			}
			if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pid file not removed (%v)", err)
			}
			if tc.cmd == dead {
				return
			}
			if killed := !groupAlive(tc.cmd.Process.Pid); killed != tc.wantKill {
				t.Errorf("killed = %v, want %v", killed, tc.wantKill)
			}
		})
	}
}

func TestStartRefusesLivePidFile(t *testing.T) {
	stateDir := t.TempDir()
	writePid(t, filepath.Join(stateDir, "moto.pid"), spawn(t, "/venv/bin/moto_server").Process.Pid)
	_, err := StartMoto(t.Context(), MotoOptions{VenvDir: "/refused-before-it-is-used", StateDir: stateDir})
	if err == nil || !strings.Contains(err.Error(), "KillStale") {
		t.Fatalf("StartMoto over a live pid file: err = %v, want one pointing at KillStale", err)
	}
}

func TestLooksLike(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		want bool
	}{
		{motoName, []string{"/w/.venv/bin/python3", "/w/.venv/bin/moto_server", "-H", "127.0.0.1"}, true},
		{motoName, []string{"/usr/bin/python3", "/w/.venv/bin/mlflow", "server"}, false},
		{mlflowName, []string{"/w/.venv/bin/python3", "/w/.venv/bin/mlflow", "server", "--port", "5000"}, true},
		{mlflowName, []string{"/w/.venv/bin/python3", "-m", "uvicorn", "--workers", "2", "mlflow.server.fastapi_app:app"}, true},
		{mlflowName, []string{"/w/.venv/bin/python3", "/w/.venv/bin/mlflow", "ui"}, false},
		{mlflowName, []string{"sleep", "300"}, false},
	} {
		if got := looksLike(tc.name, tc.argv); got != tc.want {
			t.Errorf("looksLike(%s, %q) = %v, want %v", tc.name, tc.argv, got, tc.want)
		}
	}
}

func TestTailKeepsEnd(t *testing.T) {
	tl := &tail{max: 5}
	fmt.Fprint(tl, "abc")
	fmt.Fprint(tl, "defg")
	if got := tl.String(); got != "cdefg" {
		t.Fatalf("tail = %q, want %q", got, "cdefg")
	}
}

// spawn starts `sleep 300` in its own process group with argv[0] set to arg0, which is what
// /proc/<pid>/cmdline shows, and kills it at the end of the test.
func spawn(t *testing.T, arg0 string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Args[0] = arg0
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func writePid(t *testing.T, path string, pid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
}
