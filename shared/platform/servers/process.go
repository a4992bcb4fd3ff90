// Package servers starts and stops the Python servers the local harness and the tests run against:
// moto in server mode (every AWS service on one port) and an MLflow tracking server, whose
// artifacts the harness keeps in moto's S3. Both listen on 127.0.0.1 only and run as child processes of the
// calling Go program, each in its own process group so that Stop also ends the worker processes
// the servers fork.
//
// The package relies on Unix process groups; reading command lines and group members uses /proc,
// so KillStale works on Linux only.
package servers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Credentials and region handed to both servers; moto accepts any, so fixed values keep every
// client in the harness consistent.
const (
	AccessKeyID     = "test"
	SecretAccessKey = "test"
	Region          = "us-east-1"
)

const (
	// stopGrace is how long a server gets to exit after SIGTERM before its group is SIGKILLed.
	stopGrace = 10 * time.Second
	// pollInterval paces readiness probes and process-exit polling.
	pollInterval = 100 * time.Millisecond
	// logTailSize bounds the server output kept for error messages.
	logTailSize = 8 << 10
)

var (
	errExited    = errors.New("exited before becoming ready")
	errPortInUse = fmt.Errorf("%w: port already in use", errExited)
)

// process is one server started in its own process group.
type process struct {
	name    string // "moto" or "mlflow"; names the pid file
	cmd     *exec.Cmd
	pidFile string
	log     *tail
	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// startProcess runs argv with env (the complete environment) and records its pid in
// stateDir/<name>.pid. It refuses to start while that file names a live server of the same kind,
// since overwriting it would lose track of that process.
func startProcess(name, stateDir string, argv, env []string, logOutput io.Writer) (*process, error) {
	pidFile := filepath.Join(stateDir, name+".pid")
	if pid, err := readPidFile(pidFile); err == nil && isOurs(name, pid) {
		return nil, fmt.Errorf("%s: %s records running process %d; call KillStale(%q) first", name, pidFile, pid, stateDir)
	}

	t := &tail{max: logTailSize}
	var out io.Writer = t
	if logOutput != nil {
		out = io.MultiWriter(t, logOutput)
	}
	// Not exec.CommandContext: the caller's context bounds the start-up, not the server's life.
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	// Forked workers inherit the output pipe; if one outlived the group kill, Wait would block on
	// the pipe forever without this.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	p := &process{name: name, cmd: cmd, pidFile: pidFile, log: t, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("%s: write pid file: %w", name, err)
	}
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// waitReady polls ready until it succeeds, the process exits, ctx ends or timeout passes. Errors
// carry the tail of the server's output, which is where the real reason is.
func (p *process) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			out := p.log.String()
			cause := errExited
			if strings.Contains(out, "Address already in use") {
				cause = errPortInUse
			}
			return fmt.Errorf("%s %w (%v); output:\n%s", p.name, cause, p.waitErr, out)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w (last probe: %v); output:\n%s", p.name, timeout, ctx.Err(), err, p.log)
		case <-tick.C:
		}
	}
}

// stop terminates the whole process group: SIGTERM, then SIGKILL after stopGrace. It returns once
// no member of the group is left, so callers can rely on the port and files being released.
func (p *process) stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.terminate() })
	return p.stopErr
}

func (p *process) terminate() error {
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	if !p.waitGone(pgid, stopGrace) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if !p.waitGone(pgid, 5*time.Second) {
			return fmt.Errorf("%s: process group %d still running after SIGKILL", p.name, pgid)
		}
	}
	if err := os.Remove(p.pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: remove pid file: %w", p.name, err)
	}
	return nil
}

// waitGone reports whether the group leader has been reaped and no other member remains within d.
// The leader exiting is not enough: uvicorn workers, for one, may still be shutting down.
func (p *process) waitGone(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	select {
	case <-p.exited:
	case <-time.After(d):
		return false
	}
	for groupAlive(pgid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval / 2)
	}
	return true
}

// KillStale ends servers left behind by an earlier run that crashed before calling Stop. For each
// pid file in stateDir it kills that process group, but only if a member still looks like the
// server the file is named after: a recycled pid belonging to an unrelated program is left alone.
// The pid files are removed either way.
func KillStale(stateDir string) error {
	var errs []error
	for _, name := range []string{motoName, mlflowName} {
		pidFile := filepath.Join(stateDir, name+".pid")
		pid, err := readPidFile(pidFile)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil && isOurs(name, pid) {
			err = killGroup(pid)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s: remove pid file: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// killGroup SIGTERMs process group pgid and SIGKILLs it if it outlives stopGrace. The processes
// are not our children, so we can only poll for them to disappear.
func killGroup(pgid int) error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := syscall.Kill(-pgid, sig); errors.Is(err, syscall.ESRCH) {
			return nil
		} else if err != nil {
			return fmt.Errorf("signal process group %d: %w", pgid, err)
		}
		for deadline := time.Now().Add(stopGrace); time.Now().Before(deadline); time.Sleep(pollInterval) {
			if !groupAlive(pgid) {
				return nil
			}
		}
	}
	return fmt.Errorf("process group %d survived SIGKILL", pgid)
}

// isOurs reports whether process group pgid has a live member whose command line is the named
// server's. Checking the group rather than only the leader also catches workers orphaned by a
// leader that died alone.
func isOurs(name string, pgid int) bool {
	for _, cmdline := range groupCmdlines(pgid) {
		if looksLike(name, cmdline) {
			return true
		}
	}
	return false
}

// looksLike reports whether argv (as in /proc/<pid>/cmdline) runs the named server. Both are
// Python entry points, so the interpreter comes first and the script path second.
func looksLike(name string, argv []string) bool {
	for i, arg := range argv {
		base := filepath.Base(arg)
		switch name {
		case motoName:
			if base == "moto_server" {
				return true
			}
		case mlflowName:
			// The CLI is ".../mlflow server ..."; its uvicorn child names the app module.
			if (base == "mlflow" && i+1 < len(argv) && argv[i+1] == "server") || strings.HasPrefix(arg, "mlflow.server") {
				return true
			}
		}
	}
	return false
}

func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s: bad content %q", path, b)
	}
	return pid, nil
}

// freePort asks the kernel for an unused port on 127.0.0.1. Another process may take it before the
// server binds it; callers retry on a failed start when they picked the port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// childEnv returns the parent environment without AWS_* and MLFLOW_* variables, plus extra. A
// developer's AWS_PROFILE or AWS_ENDPOINT_URL, or an MLFLOW_* server setting, would otherwise
// silently change how the servers behave.
func childEnv(extra ...string) []string {
	env := []string{"PYTHONUNBUFFERED=1"} // so the log tail in errors is current
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "MLFLOW_") || strings.HasPrefix(kv, "PYTHONUNBUFFERED=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+SecretAccessKey,
		"AWS_DEFAULT_REGION="+Region,
		"AWS_REGION="+Region,
	)
	return append(env, extra...)
}

// prepareStateDir makes dir absolute (the MLflow SQLite URI needs that) and creates it.
func prepareStateDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("StateDir is required: it holds the pid file")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("state dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("state dir: %w", err)
	}
	return abs, nil
}

// probe GETs url and succeeds on HTTP 200.
func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// tail keeps the last max bytes written to it. Safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// AWSConfig is an SDK configuration that reaches the AWS services at endpoint (moto's URL, or a
// proxy in front of it) with the credentials and region the servers are given.
func AWSConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}
}
