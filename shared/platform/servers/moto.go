package servers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"
)

const motoName = "moto"

// MotoOptions configures StartMoto.
type MotoOptions struct {
	// VenvDir is the Python virtualenv with moto[server] installed.
	VenvDir string
	// Port to listen on; 0 picks a free one.
	Port int
	// StateDir holds moto.pid. Required.
	StateDir string
	// LogOutput, if set, receives the server's stdout and stderr. Writes come from one goroutine.
	LogOutput io.Writer
	// StartTimeout bounds waiting for the server to answer; 0 means 30s.
	StartTimeout time.Duration
}

// Moto is a running moto server. All AWS services share its one endpoint.
type Moto struct {
	URL  string // http://127.0.0.1:<Port>
	Port int
	// StartDuration is the time from launching the process to its first answer.
	StartDuration time.Duration

	proc *process
}

// StartMoto launches moto_server on 127.0.0.1 and waits until it answers. ctx bounds the start-up
// only; the server runs until Stop.
func StartMoto(ctx context.Context, opts MotoOptions) (*Moto, error) {
	stateDir, err := prepareStateDir(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("moto: %w", err)
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return withPortRetry(opts.Port, func(port int) (*Moto, error) {
		start := time.Now()
		argv := []string{filepath.Join(opts.VenvDir, "bin", "moto_server"), "-H", "127.0.0.1", "-p", strconv.Itoa(port)}
		p, err := startProcess(motoName, stateDir, argv, childEnv(), opts.LogOutput)
		if err != nil {
			return nil, err
		}
		m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, proc: p}
		// The dashboard is served by moto itself, independent of any AWS service backend.
		if err := p.waitReady(ctx, timeout, func(ctx context.Context) error { return probe(ctx, m.URL+"/moto-api/") }); err != nil {
			_ = p.stop()
			return nil, err
		}
		m.StartDuration = time.Since(start)
		return m, nil
	})
}

// Stop terminates moto and waits until its process group is gone. Safe to call more than once.
func (m *Moto) Stop() error { return m.proc.stop() }

// withPortRetry calls start with port or, when port is 0, with a free port, picking another one up
// to twice if the server could not bind it: someone else can take a picked port before the server
// binds it.
func withPortRetry[T any](port int, start func(port int) (T, error)) (T, error) {
	attempts := 1
	if port == 0 {
		attempts = 3
	}
	var (
		v   T
		err error
	)
	for range attempts {
		p := port
		if p == 0 {
			if p, err = freePort(); err != nil {
				return v, err
			}
		}
		if v, err = start(p); err == nil || !errors.Is(err, errPortInUse) {
			return v, err
		}
	}
	return v, err
}
