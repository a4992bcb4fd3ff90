package lambdart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Lambda's documented payload limits.
const (
	MaxRequestBytes  = 6 << 20   // Invoke request payload
	MaxResponseBytes = 6 << 20   // buffered response payload
	MaxStreamBytes   = 200 << 20 // streamed response payload
)

const (
	defaultTimeout     = 30 * time.Second
	defaultMemoryMB    = 128
	defaultConcurrency = 4
	// initTimeout is Lambda's limit on the init phase of on-demand functions.
	initTimeout = 10 * time.Second
	// keptInitDurations bounds Stats.InitDurations.
	keptInitDurations = 16
)

// ErrClosed is returned by invocations on, or interrupted by, a closed Pool.
var ErrClosed = errors.New("lambdart: pool closed")

// Config describes one function.
type Config struct {
	Name           string            // function name (AWS_LAMBDA_FUNCTION_NAME)
	Binary         string            // path to the bootstrap executable
	Env            map[string]string // function environment, on top of PATH, HOME and TZ=UTC
	Timeout        time.Duration     // function timeout (default 30s)
	MemoryMB       int               // default 128
	MaxConcurrency int               // max instances (processes) alive at once, default 4
	Output         io.Writer         // receives every process's stdout and stderr, whole lines; may be nil
	// LogGroup is the function's log group (AWS_LAMBDA_LOG_GROUP_NAME); default /aws/lambda/<Name>.
	LogGroup string
	// Logs, when set, receives every line of every process's output with its log stream, as
	// CloudWatch Logs would (the harness applies subscription filters to it).
	Logs LogSink
}

// Result is the outcome of an invocation that reached the function.
type Result struct {
	// Payload is the buffered response; nil when the response is streamed.
	Payload []byte
	// Stream is the response as the function writes it, set by InvokeStream
	// on success. Reading it ends with a *FunctionError if the function
	// failed mid-stream, and with the context's error if the InvokeStream
	// context ends first. The caller must close it.
	Stream io.ReadCloser
	// ContentType is the Content-Type the runtime posted the response with.
	ContentType string
	// FunctionError is set when the function or its runtime failed.
	FunctionError *FunctionError
	// InitDuration is non-zero on a cold start: the time from process start
	// to its first request for work.
	InitDuration time.Duration
	// Duration runs from dispatch to the complete buffered response, or to
	// the start of a streamed one.
	Duration time.Duration
}

// FunctionError is a failure of the function or its runtime, reported the
// way Lambda reports it to the caller (the X-Amz-Function-Error case).
type FunctionError struct {
	Type    string // e.g. "Runtime.ExitError", "Sandbox.Timedout", or the function's own
	Message string
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// InvokeError is an error the Lambda Invoke API itself returns without
// running the function.
type InvokeError struct {
	Type    string // e.g. "RequestEntityTooLargeException"
	Message string
}

func (e *InvokeError) Error() string { return e.Type + ": " + e.Message }

// Stats describes a pool's activity so far.
type Stats struct {
	ColdStarts    int             // process launches
	Invocations   int             // invocations handed to a runtime
	Instances     int             // processes alive now
	Idle          int             // alive processes waiting for work
	InitDurations []time.Duration // latest init durations, oldest first
}

// Pool runs one function's bootstrap processes and invokes them.
type Pool struct {
	cfg Config
	arn string
	out io.Writer // nil discards process output

	// Overridable by tests so limits can be exercised cheaply.
	maxResponse int64
	maxStream   int64

	wg sync.WaitGroup // every instance's server and watcher goroutine

	mu      sync.Mutex
	closed  bool
	live    int         // processes started and not yet removed
	idle    []*instance // warm instances, most recently freed last
	all     map[*instance]struct{}
	changed chan struct{} // closed and replaced whenever an instance may have become available
	stats   Stats
}

// New validates cfg and returns a pool that starts processes on demand.
func New(cfg Config) (*Pool, error) {
	if cfg.Name == "" {
		return nil, errors.New("lambdart: function name is required")
	}
	bin, err := filepath.Abs(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("lambdart: function %s: resolve binary: %w", cfg.Name, err)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return nil, fmt.Errorf("lambdart: function %s: %w", cfg.Name, err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("lambdart: function %s: %s is not an executable file", cfg.Name, bin)
	}
	cfg.Binary = bin
	cfg.Env = maps.Clone(cfg.Env)
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.LogGroup == "" {
		cfg.LogGroup = "/aws/lambda/" + cfg.Name
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = defaultMemoryMB
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = defaultConcurrency
	}
	region := cfg.Env["AWS_REGION"]
	if region == "" {
		region = "us-east-1"
	}
	p := &Pool{
		cfg:         cfg,
		arn:         fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", region, cfg.Name),
		maxResponse: MaxResponseBytes,
		maxStream:   MaxStreamBytes,
		all:         make(map[*instance]struct{}),
		changed:     make(chan struct{}),
	}
	if cfg.Output != nil {
		p.out = &lockedWriter{w: cfg.Output}
	}
	return p, nil
}

// Invoke runs the function once and buffers its response, like Invoke with
// InvocationType RequestResponse. A response over 6 MB becomes a
// Function.ResponseSizeTooLarge FunctionError.
//
// If ctx ends first Invoke returns ctx.Err() at once, but the function runs
// on to completion or timeout, as on Lambda, and keeps its instance busy.
func (p *Pool) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	return p.invoke(ctx, payload, false)
}

// InvokeStream runs the function once like InvokeWithResponseStream: a
// successful response is returned as Result.Stream while the function is
// still writing it. Every response posted by the runtime is streamed,
// because aws-lambda-go does not announce streaming (it always posts
// chunked) and Lambda streams whatever it gets in this mode. The function's
// writes block while the caller is not reading.
func (p *Pool) InvokeStream(ctx context.Context, payload []byte) (*Result, error) {
	return p.invoke(ctx, payload, true)
}

func (p *Pool) invoke(ctx context.Context, payload []byte, stream bool) (*Result, error) {
	if len(payload) > MaxRequestBytes {
		return nil, &InvokeError{
			Type:    "RequestEntityTooLargeException",
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxRequestBytes),
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv := newInvocation(ctx, bytes.Clone(payload), stream)
	if err := p.acquire(ctx, inv); err != nil {
		inv.stopCtx()
		return nil, err
	}
	select {
	case o := <-inv.done:
		if !o.stream {
			inv.stopCtx()
		}
		if o.err != nil {
			return nil, o.err
		}
		res := &Result{
			Payload:       o.payload,
			ContentType:   o.contentType,
			FunctionError: o.fnErr,
			InitDuration:  inv.initDuration,
		}
		if !inv.dispatched.IsZero() {
			res.Duration = o.at.Sub(inv.dispatched)
		}
		if o.stream {
			res.Stream = inv.pr
		}
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// acquire hands inv to an instance: a warm one if any is idle, otherwise a
// new one if the concurrency limit allows, otherwise the first to free up.
func (p *Pool) acquire(ctx context.Context, inv *invocation) error {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		if n := len(p.idle); n > 0 {
			in := p.idle[n-1]
			p.idle = p.idle[:n-1]
			in.idle = false
			p.mu.Unlock()
			if in.assign(inv) {
				return nil
			}
			// It died while idle; Lambda would quietly pick another environment.
			continue
		}
		if p.live < p.cfg.MaxConcurrency {
			p.live++
			p.stats.ColdStarts++
			p.mu.Unlock()
			_, err := p.start(inv)
			return err
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// redispatch hands an invocation whose instance died before receiving it to another instance.
func (p *Pool) redispatch(inv *invocation) {
	if err := p.acquire(inv.ctx, inv); err != nil {
		inv.fail(err)
	}
}

// release makes an instance that has finished its invocation available.
func (p *Pool) release(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || in.removed || in.idle {
		return
	}
	in.idle = true
	p.idle = append(p.idle, in)
	p.signal()
}

// remove forgets an instance whose process has gone.
func (p *Pool) remove(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.removed {
		return
	}
	in.removed = true
	delete(p.all, in)
	if in.idle {
		in.idle = false
		p.idle = slices.DeleteFunc(p.idle, func(x *instance) bool { return x == in })
	}
	p.live--
	p.signal()
}

// signal wakes every acquire waiting for an instance; they re-check.
// Callers hold p.mu.
func (p *Pool) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Pool) recordInit(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.InitDurations = append(p.stats.InitDurations, d)
	if n := len(p.stats.InitDurations); n > keptInitDurations {
		p.stats.InitDurations = slices.Delete(p.stats.InitDurations, 0, n-keptInitDurations)
	}
}

func (p *Pool) countInvocation() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Invocations++
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.InitDurations = slices.Clone(s.InitDurations)
	s.Instances = p.live
	s.Idle = len(p.idle)
	return s
}

// Close kills every process with its process group, waits for them and
// shuts their Runtime API endpoints. In-flight invocations fail with
// ErrClosed. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.idle = nil
		p.signal()
	}
	insts := slices.Collect(maps.Keys(p.all))
	p.mu.Unlock()
	for _, in := range insts {
		in.kill(ErrClosed)
	}
	// No instance can be added once closed is set, so Wait cannot race Add.
	p.wg.Wait()
	return nil
}

// lockedWriter serialises writes from the output copiers of all processes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
