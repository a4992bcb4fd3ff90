package lambdart

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Runtime API headers, as used by aws-lambda-go and documented by AWS.
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	// A header on /error posts; a trailer, with the body below, on responses.
	errorTypeField     = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody   = "Lambda-Runtime-Function-Error-Body"
	runtimeAPIBasePath = "/2018-06-01/runtime/"
	// maxErrorBytes bounds error documents, which are small on Lambda too.
	maxErrorBytes = 1 << 20
)

// instance is one execution environment: a bootstrap process and the
// Runtime API endpoint it polls. It runs one invocation at a time.
type instance struct {
	pool    *Pool
	srv     *http.Server
	started time.Time
	// next holds the invocation assigned to this instance until the
	// runtime's GET /next takes it. Only the instance's owner sends, so
	// capacity 1 never blocks.
	next   chan *invocation
	exited chan struct{}   // closed once the process has been reaped
	output *instanceOutput // nil when the output is discarded

	mu        sync.Mutex
	pid       int
	cur       *invocation // dispatched; over when the runtime asks for more work
	ready     bool        // the runtime has asked for work at least once
	served    bool        // an invocation has been dispatched
	initDur   time.Duration
	initTimer *time.Timer
	reason    error // why the process was killed, or how it exited; first wins
	gone      bool  // reaped: accepts no more work

	// Guarded by pool.mu.
	idle    bool
	removed bool
}

// start launches a cold instance already assigned inv, so a process that
// dies during init fails inv rather than going unnoticed.
func (p *Pool) start(inv *invocation) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.dropStart()
		return nil, fmt.Errorf("lambdart: function %s: listen for runtime API: %w", p.cfg.Name, err)
	}
	in := &instance{
		pool:   p,
		next:   make(chan *invocation, 1),
		exited: make(chan struct{}),
	}
	in.next <- inv
	in.srv = &http.Server{Handler: in.routes()}

	cmd := exec.Command(p.cfg.Binary)
	cmd.Dir = filepath.Dir(p.cfg.Binary)
	stream := time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16)
	cmd.Env = p.environ(ln.Addr().String(), stream)
	if p.out != nil || p.cfg.Logs != nil {
		in.output = &instanceOutput{out: p.out, sink: p.cfg.Logs, stream: stream}
		cmd.Stdout, cmd.Stderr = in.output, in.output
	}
	// A group of its own lets us kill whatever the function spawned, too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	// A leftover child holding the output pipe must not block Wait forever.
	cmd.WaitDelay = time.Second

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		p.dropStart()
		return nil, ErrClosed
	}
	p.all[in] = struct{}{}
	p.wg.Add(2) // server and watcher
	p.mu.Unlock()

	in.started = time.Now()
	go func() {
		defer p.wg.Done()
		_ = in.srv.Serve(ln) // returns once watch closes the server
	}()
	if err := cmd.Start(); err != nil {
		in.srv.Close()
		p.wg.Done() // no watcher
		p.remove(in)
		return nil, fmt.Errorf("lambdart: function %s: start %s: %w", p.cfg.Name, p.cfg.Binary, err)
	}

	in.mu.Lock()
	in.pid = cmd.Process.Pid
	in.initTimer = time.AfterFunc(initTimeout, in.initExpired)
	if in.reason != nil { // Close got to it before it had a pid
		_ = syscall.Kill(-in.pid, syscall.SIGKILL)
	}
	in.mu.Unlock()
	go in.watch(cmd)
	return in, nil
}

// dropStart undoes acquire's reservation for a process that never started.
func (p *Pool) dropStart() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live--
	p.signal()
}

// environ builds the process environment. Lambda's own variables come last
// because function configuration cannot override them on Lambda either.
func (p *Pool) environ(runtimeAPI, stream string) []string {
	env := map[string]string{
		"PATH": os.Getenv("PATH"),
		"HOME": os.Getenv("HOME"),
		"TZ":   "UTC",
	}
	maps.Copy(env, p.cfg.Env)
	maps.Copy(env, map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        p.cfg.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(p.cfg.MemoryMB),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       p.cfg.LogGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME":      stream,
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                filepath.Dir(p.cfg.Binary),
	})
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// assign gives inv to an idle instance; false if its process has gone.
func (in *instance) assign(inv *invocation) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.gone {
		return false
	}
	in.next <- inv
	return true
}

// kill ends the process group, recording why so that the invocation it was
// running reports that reason rather than a bare exit.
func (in *instance) kill(reason error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.killLocked(reason)
}

func (in *instance) killLocked(reason error) {
	if in.gone {
		return
	}
	if in.reason == nil {
		in.reason = reason
	}
	if in.pid != 0 {
		_ = syscall.Kill(-in.pid, syscall.SIGKILL)
	}
}

func (in *instance) initExpired() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.ready {
		in.killLocked(sandboxError{"Sandbox.Timedout", fmt.Sprintf("Init timed out after %.2f seconds", initTimeout.Seconds())})
	}
}

// expire enforces the function timeout on inv if it is still running.
func (in *instance) expire(inv *invocation) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cur == inv {
		in.killLocked(sandboxError{"Sandbox.Timedout", fmt.Sprintf("Task timed out after %.2f seconds", in.pool.cfg.Timeout.Seconds())})
	}
}

// watch reaps the process and fails whatever it was doing.
func (in *instance) watch(cmd *exec.Cmd) {
	defer in.pool.wg.Done()
	err := cmd.Wait()
	if in.output != nil {
		in.output.flush() // Wait returns once the output is copied
	}
	// Children the function left behind share its group; end them too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	in.mu.Lock()
	in.gone = true
	if in.reason == nil {
		in.reason = exitReason(err)
	}
	reason := in.reason
	cur := in.cur
	in.cur = nil
	var pending *invocation
	select {
	case pending = <-in.next:
	default:
	}
	// An instance that never finished init fails the invocation that started it (init errors
	// are reported to the caller); one that dies after init never received what is pending.
	initialized := in.ready
	in.initTimer.Stop()
	in.mu.Unlock()

	close(in.exited)
	in.srv.Close()
	if cur != nil {
		cur.fail(reason)
	}
	if pending != nil && !initialized {
		pending.fail(reason)
		pending = nil
	}
	in.pool.remove(in)
	if pending != nil {
		// The runtime never received it: the process died while idle (killed, or it exited after
		// its last response). Lambda would run it in another environment, so run it elsewhere.
		go in.pool.redispatch(pending)
	}
}

func exitReason(err error) error {
	// ErrWaitDelay means the process exited 0 but a child kept its output open.
	if err == nil || errors.Is(err, exec.ErrWaitDelay) {
		return sandboxError{"Runtime.ExitError", "Runtime exited without providing a reason"}
	}
	return sandboxError{"Runtime.ExitError", "Runtime exited with error: " + err.Error()}
}

func (in *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimeAPIBasePath+"invocation/next", in.handleNext)
	mux.HandleFunc("POST "+runtimeAPIBasePath+"invocation/{id}/response", in.handleResponse)
	mux.HandleFunc("POST "+runtimeAPIBasePath+"invocation/{id}/error", in.handleError)
	mux.HandleFunc("POST "+runtimeAPIBasePath+"init/error", in.handleInitError)
	return mux
}

func (in *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	if in.endInvocation() {
		in.pool.release(in)
	}
	for {
		var inv *invocation
		select {
		case inv = <-in.next:
		case <-in.exited:
			return
		case <-r.Context().Done():
			return
		}
		if err := inv.ctx.Err(); err != nil {
			// Nobody is waiting for this one any more; skip it.
			inv.finish(outcome{err: err})
			in.pool.release(in)
			continue
		}
		if !in.dispatch(inv) {
			return
		}
		in.pool.countInvocation()
		h := w.Header()
		h.Set(headerRequestID, inv.id)
		h.Set(headerDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(headerFunctionARN, in.pool.arn)
		h.Set(headerTraceID, inv.traceID)
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload) // a failed write means the process is going; watch reports it
		return
	}
}

// endInvocation is called whenever the runtime asks for work: the previous
// invocation, if any, is over. It reports whether the instance is now free;
// on the first call it is not, since a cold instance starts out owned by
// the invocation that started it.
func (in *instance) endInvocation() bool {
	in.mu.Lock()
	prev := in.cur
	in.cur = nil
	first := !in.ready
	if first {
		in.ready = true
		in.initDur = time.Since(in.started)
		if in.initTimer != nil {
			in.initTimer.Stop()
		}
	}
	initDur := in.initDur
	in.mu.Unlock()

	if first {
		in.pool.recordInit(initDur)
		return false
	}
	if prev != nil {
		prev.timer.Stop()
		// No-op unless the runtime moved on without answering.
		prev.finish(outcome{fnErr: &FunctionError{
			Type:    "Runtime.NoResponse",
			Message: fmt.Sprintf("RequestId: %s Error: Runtime asked for the next invocation without responding to this one", prev.id),
		}})
	}
	return true
}

// dispatch makes inv the running invocation and starts its timeout. It reports false, leaving
// inv to another instance, when the process has died or is dying (killed while idle): then the
// runtime never receives inv, and Lambda would run it in another environment.
func (in *instance) dispatch(inv *invocation) bool {
	timeout := in.pool.cfg.Timeout
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.gone {
		// watch has been and gone (it drains next under mu), so it cannot hand inv on: we do.
		go in.pool.redispatch(inv)
		return false
	}
	// pid is 0 only while start has yet to record it, and then the caller is plainly alive.
	if in.pid != 0 && !running(in.pid) {
		// watch has yet to take mu, and hands on what it finds in next.
		in.next <- inv
		return false
	}
	now := time.Now()
	inv.dispatched = now
	inv.deadline = now.Add(timeout)
	if !in.served {
		in.served = true
		inv.initDuration = in.initDur
	}
	inv.timer = time.AfterFunc(timeout, func() { in.expire(inv) })
	in.cur = inv
	return true
}

// claim returns the running invocation if id names it and it has not been
// answered yet; otherwise it writes the Runtime API's error response.
func (in *instance) claim(w http.ResponseWriter, id string) (*invocation, bool) {
	in.mu.Lock()
	inv := in.cur
	known := inv != nil && inv.id == id
	answered := known && inv.answered
	if known && !answered {
		inv.answered = true
	}
	in.mu.Unlock()
	switch {
	case !known:
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID: "+id)
		return nil, false
	case answered:
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "Response already posted for request ID: "+id)
		return nil, false
	}
	return inv, true
}

func (in *instance) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv, ok := in.claim(w, r.PathValue("id"))
	if !ok {
		return
	}
	var err error
	if inv.stream {
		err = in.pump(inv, r)
	} else {
		err = in.buffer(inv, r)
	}
	if err != nil {
		// The connection broke, so the process is going away (or we killed
		// it); watch reports the failure.
		return
	}
	accepted(w)
}

// buffer reads a whole response for a buffered invocation.
func (in *instance) buffer(inv *invocation, r *http.Request) error {
	limit := in.pool.maxResponse
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > limit {
		inv.finish(outcome{fnErr: tooLarge(limit)})
		// Drain instead of cutting the runtime off, so it stays usable.
		return drain(r.Body)
	}
	if fe := trailerError(r.Trailer); fe != nil {
		inv.finish(outcome{fnErr: fe})
		return nil
	}
	inv.finish(outcome{payload: body, contentType: r.Header.Get("Content-Type")})
	return nil
}

// pump passes a response through to the InvokeStream caller as it arrives.
// The pipe is unbuffered, so the function is held back to the caller's pace
// and memory use does not depend on the response size.
func (in *instance) pump(inv *invocation, r *http.Request) error {
	defer inv.stopCtx()
	inv.finish(outcome{stream: true, contentType: r.Header.Get("Content-Type")})
	limit := in.pool.maxStream
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if room := limit - total; int64(n) > room {
				_, _ = inv.pw.Write(buf[:room])
				inv.pw.CloseWithError(tooLarge(limit))
				return drain(r.Body)
			}
			total += int64(n)
			if _, werr := inv.pw.Write(buf[:n]); werr != nil {
				// The caller stopped reading; on Lambda the function still runs to the end.
				return drain(r.Body)
			}
		}
		if err == io.EOF {
			if fe := trailerError(r.Trailer); fe != nil {
				inv.pw.CloseWithError(fe)
			} else {
				inv.pw.Close()
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func drain(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (in *instance) handleError(w http.ResponseWriter, r *http.Request) {
	inv, ok := in.claim(w, r.PathValue("id"))
	if !ok {
		return
	}
	fe, err := readFunctionError(r)
	if err != nil {
		return
	}
	inv.finish(outcome{fnErr: fe})
	accepted(w)
}

func (in *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	ready := in.ready
	in.mu.Unlock()
	if ready {
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "Init error posted after init")
		return
	}
	fe, err := readFunctionError(r)
	if err != nil {
		return
	}
	// Lambda discards an environment whose init failed.
	in.kill(fe)
	accepted(w)
}

// errorDocument is the body of /error and /init/error posts and of the
// base64 Lambda-Runtime-Function-Error-Body trailer.
type errorDocument struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func readFunctionError(r *http.Request) (*FunctionError, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	if err != nil {
		return nil, err
	}
	return parseFunctionError(r.Header.Get(errorTypeField), body), nil
}

func parseFunctionError(typ string, body []byte) *FunctionError {
	fe := &FunctionError{Type: typ, Message: string(body)}
	var doc errorDocument
	if json.Unmarshal(body, &doc) == nil {
		fe.Message = doc.Message
		if doc.Type != "" {
			fe.Type = doc.Type
		}
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

// trailerError reports an error the runtime announced in the trailers of a
// response, after the body has been read to EOF.
func trailerError(t http.Header) *FunctionError {
	typ := t.Get(errorTypeField)
	if typ == "" {
		return nil
	}
	body, err := base64.StdEncoding.DecodeString(t.Get(trailerErrorBody))
	if err != nil {
		return &FunctionError{Type: typ}
	}
	return parseFunctionError(typ, body)
}

func tooLarge(limit int64) *FunctionError {
	return &FunctionError{
		Type:    "Function.ResponseSizeTooLarge",
		Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", limit),
	}
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(errorDocument{Type: typ, Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
