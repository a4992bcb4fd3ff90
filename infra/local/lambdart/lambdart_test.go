package lambdart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// bootstrap is the test function (testdata/echofn) built by TestMain.
var bootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdart-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", bootstrap, "./testdata/echofn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building test bootstrap: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newPool(t *testing.T, edit func(*Config)) *Pool {
	t.Helper()
	cfg := Config{
		Name:           "echo",
		Binary:         bootstrap,
		Env:            map[string]string{"AWS_REGION": "eu-west-1"},
		Timeout:        5 * time.Second,
		MaxConcurrency: 1,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func payload(t *testing.T, req map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invoke(t *testing.T, p *Pool, req map[string]any) *Result {
	t.Helper()
	res, err := p.Invoke(testContext(t), payload(t, req))
	if err != nil {
		t.Fatalf("Invoke(%v): %v", req, err)
	}
	return res
}

type echoReply struct {
	PID        int               `json:"pid"`
	Data       json.RawMessage   `json:"data"`
	RequestID  string            `json:"requestId"`
	ARN        string            `json:"arn"`
	DeadlineMS int64             `json:"deadlineMs"`
	Env        map[string]string `json:"env"`
}

// echoPID invokes the echo op, which must succeed, and returns the serving pid.
func echoPID(t *testing.T, p *Pool) (int, *Result) {
	t.Helper()
	res := invoke(t, p, map[string]any{"op": "echo"})
	if res.FunctionError != nil {
		t.Fatalf("echo failed: %v", res.FunctionError)
	}
	var r echoReply
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("decode echo reply %q: %v", res.Payload, err)
	}
	return r.PID, res
}

func TestEchoRoundTrip(t *testing.T) {
	var out testenv.Buffer
	p := newPool(t, func(c *Config) {
		c.Env["ECHOFN_CUSTOM"] = "custom"
		c.Env["AWS_LAMBDA_FUNCTION_NAME"] = "not-allowed" // reserved: ours wins
		c.MemoryMB = 256
		c.Output = &out
	})
	start := time.Now()
	res := invoke(t, p, map[string]any{"op": "echo", "data": map[string]any{"hello": "world"}})
	end := time.Now()
	if res.FunctionError != nil {
		t.Fatalf("FunctionError = %v", res.FunctionError)
	}
	var r echoReply
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("decode %q: %v", res.Payload, err)
	}
	if got := string(r.Data); got != `{"hello":"world"}` {
		t.Errorf("data = %s", got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.RequestID) {
		t.Errorf("request id %q is not a v4 UUID", r.RequestID)
	}
	if want := "arn:aws:lambda:eu-west-1:000000000000:function:echo"; r.ARN != want {
		t.Errorf("arn = %q, want %q", r.ARN, want)
	}
	// The deadline is the 5 s timeout from when the invocation began, which lies within the call
	// (bounded by the clock on both sides, so a slow start cannot fail it; ms precision).
	if d := time.UnixMilli(r.DeadlineMS); d.Before(start.Add(5*time.Second-time.Millisecond)) || d.After(end.Add(5*time.Second)) {
		t.Errorf("deadline %v, want 5s after a moment in [%v, %v]", d, start, end)
	}
	wantEnv := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "echo",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/echo",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                filepath.Dir(bootstrap),
		"TZ":                              "UTC",
		"ECHOFN_CUSTOM":                   "custom",
	}
	for k, want := range wantEnv {
		if got := r.Env[k]; got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(r.Env["AWS_LAMBDA_LOG_STREAM_NAME"], "/[$LATEST]") {
		t.Errorf("log stream name = %q", r.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if !strings.HasPrefix(r.Env["_X_AMZN_TRACE_ID"], "Root=1-") {
		t.Errorf("trace id = %q", r.Env["_X_AMZN_TRACE_ID"])
	}
	if res.ContentType != "application/json" {
		t.Errorf("content type = %q", res.ContentType)
	}
	if res.InitDuration <= 0 || res.Duration <= 0 {
		t.Errorf("InitDuration = %v, Duration = %v; want both > 0 on a cold start", res.InitDuration, res.Duration)
	}
	// Output is copied asynchronously, so it may trail the response.
	if !eventually(func() bool { return strings.Contains(out.String(), "echofn: op=echo") }) {
		t.Errorf("process output not captured; got %q", out.String())
	}
}

func TestWarmReuse(t *testing.T) {
	p := newPool(t, nil)
	pid1, first := echoPID(t, p)
	pid2, second := echoPID(t, p)
	if pid1 != pid2 {
		t.Errorf("second call ran in pid %d, want the warm pid %d", pid2, pid1)
	}
	if first.InitDuration == 0 || second.InitDuration != 0 {
		t.Errorf("InitDuration = %v then %v; want >0 then 0", first.InitDuration, second.InitDuration)
	}
	// The instance becomes idle when the runtime asks for more work, just
	// after the response has been returned.
	if !eventually(func() bool { return p.Stats().Idle == 1 }) {
		t.Errorf("instance never became idle: %+v", p.Stats())
	}
	if s := p.Stats(); s.ColdStarts != 1 || s.Invocations != 2 || s.Instances != 1 || len(s.InitDurations) != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	const max, calls, sleep = 3, 8, 300 * time.Millisecond
	p := newPool(t, func(c *Config) { c.MaxConcurrency = max })
	req := payload(t, map[string]any{"op": "sleep", "ms": sleep.Milliseconds()})

	var mu sync.Mutex
	pids := map[int]bool{}
	var wg sync.WaitGroup
	start := time.Now()
	for range calls {
		wg.Go(func() {
			res, err := p.Invoke(testContext(t), req)
			if err != nil || res.FunctionError != nil {
				t.Errorf("Invoke: %v, %v", err, res)
				return
			}
			var r echoReply
			_ = json.Unmarshal(res.Payload, &r)
			mu.Lock()
			pids[r.PID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	if len(pids) != max {
		t.Errorf("served by %d processes, want %d", len(pids), max)
	}
	if s := p.Stats(); s.ColdStarts != max || s.Invocations != calls || s.Instances != max {
		t.Errorf("Stats = %+v", s)
	}
	// 8 calls on 3 single-invocation instances take at least 3 rounds.
	if rounds := (calls + max - 1) / max; elapsed < time.Duration(rounds)*sleep-50*time.Millisecond {
		t.Errorf("took %v, faster than %d rounds of %v: instances ran more than one invocation at a time", elapsed, rounds, sleep)
	}
}

func TestFunctionFailures(t *testing.T) {
	tests := []struct {
		name     string
		req      map[string]any
		wantType string
		wantMsg  string
		warm     bool // the instance survives, so the next call reuses it
	}{
		// Only this case is about the timeout; the others run with a timeout no busy machine
		// reaches (a 7 MB response under -race took more than 1 s on one).
		{"timeout", map[string]any{"op": "sleep", "ms": 60000}, "Sandbox.Timedout", "Task timed out after 1.00 seconds", false},
		{"exit", map[string]any{"op": "exit", "code": 3}, "Runtime.ExitError", "Runtime exited with error: exit status 3", false},
		{"goroutine panic", map[string]any{"op": "crash"}, "Runtime.ExitError", "exit status 2", false},
		// aws-lambda-go reports a handler panic, then exits.
		{"handler panic", map[string]any{"op": "panic"}, "string", "boom", false},
		{"function error", map[string]any{"op": "error", "type": "ValidationError", "message": "bad input"}, "ValidationError", "bad input", true},
		{"response too large", map[string]any{"op": "big", "n": 7 << 20}, "Function.ResponseSizeTooLarge", "(6291456 bytes)", true},
		{"streamed response too large", map[string]any{"op": "stream", "n": 7 << 20}, "Function.ResponseSizeTooLarge", "(6291456 bytes)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeout := 10 * time.Minute
			if tt.wantType == "Sandbox.Timedout" {
				timeout = time.Second
			}
			p := newPool(t, func(c *Config) { c.Timeout = timeout })
			pid, _ := echoPID(t, p)

			res := invoke(t, p, tt.req)
			if fe := res.FunctionError; fe == nil || fe.Type != tt.wantType || !strings.Contains(fe.Message, tt.wantMsg) {
				t.Fatalf("FunctionError = %v, want %s containing %q", fe, tt.wantType, tt.wantMsg)
			}
			if res.Payload != nil {
				t.Errorf("Payload = %d bytes, want none", len(res.Payload))
			}
			next, res := echoPID(t, p)
			if warm := next == pid; warm != tt.warm {
				t.Errorf("next call warm = %v (pid %d then %d), want %v", warm, pid, next, tt.warm)
			}
			if cold := res.InitDuration > 0; cold == tt.warm {
				t.Errorf("next call InitDuration = %v, want cold start %v", res.InitDuration, !tt.warm)
			}
		})
	}
}

func TestBufferedInvokeOfStreamingFunction(t *testing.T) {
	p := newPool(t, nil)
	res := invoke(t, p, map[string]any{"op": "stream", "n": 1 << 20})
	if res.FunctionError != nil || len(res.Payload) != 1<<20 || res.Stream != nil {
		t.Fatalf("got %d bytes, stream %v, error %v", len(res.Payload), res.Stream != nil, res.FunctionError)
	}
	if res.ContentType != "application/octet-stream" {
		t.Errorf("content type = %q", res.ContentType)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	p := newPool(t, nil)
	// Pad a valid request to exactly the limit: accepted.
	base := `{"op":"sleep","data":""}`
	exact := strings.Replace(base, `""`, `"`+strings.Repeat("x", MaxRequestBytes-len(base))+`"`, 1)
	res, err := p.Invoke(testContext(t), []byte(exact))
	if err != nil || res.FunctionError != nil {
		t.Fatalf("request of exactly %d bytes: %v, %v", len(exact), err, res.FunctionError)
	}

	_, err = p.Invoke(testContext(t), make([]byte, MaxRequestBytes+1))
	var ie *InvokeError
	if !errors.As(err, &ie) || ie.Type != "RequestEntityTooLargeException" {
		t.Fatalf("err = %v, want RequestEntityTooLargeException", err)
	}
	if s := p.Stats(); s.Invocations != 1 {
		t.Errorf("oversized request reached the function: %+v", s)
	}
}

func TestStreamLargeResponse(t *testing.T) {
	const size = 50 << 20
	p := newPool(t, func(c *Config) { c.Timeout = 20 * time.Second })
	res, err := p.InvokeStream(testContext(t), payload(t, map[string]any{"op": "stream", "n": size}))
	if err != nil || res.FunctionError != nil || res.Stream == nil || res.Payload != nil {
		t.Fatalf("InvokeStream: %v, %+v", err, res)
	}
	defer res.Stream.Close()

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseline, peak := ms.HeapInuse, ms.HeapInuse
	buf := make([]byte, 64<<10)
	var total, sampled int64
	for {
		n, err := res.Stream.Read(buf)
		total += int64(n)
		if total-sampled >= 4<<20 {
			sampled = total
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", total, err)
		}
	}
	if total != size {
		t.Errorf("read %d bytes, want %d", total, size)
	}
	// Buffering the response would add 50 MB or more.
	if growth := int64(peak) - int64(baseline); growth > 32<<20 {
		t.Errorf("heap grew by %d MB while streaming", growth>>20)
	}
}

func TestStreamErrors(t *testing.T) {
	t.Run("mid-stream function error", func(t *testing.T) {
		p := newPool(t, nil)
		res, err := p.InvokeStream(testContext(t), payload(t, map[string]any{
			"op": "streamerr", "n": 1000, "type": "StreamBroke", "message": "disk on fire"}))
		if err != nil || res.Stream == nil {
			t.Fatalf("InvokeStream: %v, %+v", err, res)
		}
		body, err := io.ReadAll(res.Stream)
		var fe *FunctionError
		if len(body) != 1000 || !errors.As(err, &fe) || fe.Type != "StreamBroke" || fe.Message != "disk on fire" {
			t.Errorf("read %d bytes then %v; want 1000 then StreamBroke: disk on fire", len(body), err)
		}
		res.Stream.Close()
		if _, res := echoPID(t, p); res.InitDuration != 0 {
			t.Errorf("instance was not reused after a reported stream error")
		}
	})

	t.Run("size cap", func(t *testing.T) {
		p := newPool(t, nil)
		p.maxStream = 1 << 20
		res, err := p.InvokeStream(testContext(t), payload(t, map[string]any{"op": "stream", "n": 3 << 20}))
		if err != nil || res.Stream == nil {
			t.Fatalf("InvokeStream: %v, %+v", err, res)
		}
		n, err := io.Copy(io.Discard, res.Stream)
		var fe *FunctionError
		if n != 1<<20 || !errors.As(err, &fe) || fe.Type != "Function.ResponseSizeTooLarge" {
			t.Errorf("read %d bytes then %v; want exactly the 1 MiB cap then Function.ResponseSizeTooLarge", n, err)
		}
		res.Stream.Close()
		if _, res := echoPID(t, p); res.InitDuration != 0 {
			t.Errorf("instance was not reused after the stream was capped")
		}
	})

	t.Run("timeout while the caller is not reading", func(t *testing.T) {
		// 50 MB cannot fit in socket buffers, so the function blocks on its
		// writes until the timeout kills it.
		p := newPool(t, func(c *Config) { c.Timeout = time.Second })
		res, err := p.InvokeStream(testContext(t), payload(t, map[string]any{"op": "stream", "n": 50 << 20}))
		if err != nil || res.Stream == nil {
			t.Fatalf("InvokeStream: %v, %+v", err, res)
		}
		// Read only once the timeout has killed the instance, however late that is.
		if !eventually(func() bool { return p.Stats().Instances == 0 }) {
			t.Fatal("the instance outlived its timeout")
		}
		n, err := io.Copy(io.Discard, res.Stream)
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" {
			t.Errorf("read %d bytes then %v; want Sandbox.Timedout", n, err)
		}
		res.Stream.Close()
	})

	t.Run("caller context ends", func(t *testing.T) {
		p := newPool(t, nil)
		ctx, cancel := context.WithCancel(testContext(t))
		res, err := p.InvokeStream(ctx, payload(t, map[string]any{"op": "stream", "n": 50 << 20}))
		if err != nil || res.Stream == nil {
			t.Fatalf("InvokeStream: %v, %+v", err, res)
		}
		if _, err := io.ReadFull(res.Stream, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := io.Copy(io.Discard, res.Stream); !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel: %v, want context.Canceled", err)
		}
		res.Stream.Close()
		// The function finishes its response into the void and stays warm.
		if _, res := echoPID(t, p); res.InitDuration != 0 {
			t.Errorf("instance was not reused after the caller went away")
		}
	})
}

func TestInitFailure(t *testing.T) {
	tests := []struct {
		mode, wantType, wantMsg string
	}{
		{"post", "Custom.InitFailure", "init failed on purpose"},
		{"exit", "Runtime.ExitError", "Runtime exited with error: exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, func(c *Config) { c.Env["ECHOFN_INIT_FAIL"] = tt.mode })
			for i := range 2 { // each invocation tries a fresh init
				res := invoke(t, p, map[string]any{"op": "echo"})
				if fe := res.FunctionError; fe == nil || fe.Type != tt.wantType || !strings.Contains(fe.Message, tt.wantMsg) {
					t.Fatalf("call %d: FunctionError = %v, want %s containing %q", i, fe, tt.wantType, tt.wantMsg)
				}
			}
			if s := p.Stats(); s.ColdStarts != 2 || s.Invocations != 0 {
				t.Errorf("Stats = %+v", s)
			}
		})
	}
}

func TestCallerGivesUp(t *testing.T) {
	baseline := runtime.NumGoroutine()
	p := newPool(t, nil)
	pid, _ := echoPID(t, p)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Invoke(ctx, payload(t, map[string]any{"op": "sleep", "ms": 800}))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke = %v after %v, want DeadlineExceeded", err, time.Since(start))
	}

	// Like Lambda, the function runs to completion; then its instance is reused.
	next, res := echoPID(t, p)
	if next != pid || res.InitDuration != 0 {
		t.Errorf("next call: pid %d (was %d), InitDuration %v; want the same warm instance", next, pid, res.InitDuration)
	}
	if elapsed := time.Since(start); elapsed < 700*time.Millisecond {
		t.Errorf("next call was served after %v, before the abandoned one finished", elapsed)
	}

	p.Close()
	deadline := time.Now().Add(time.Minute) // a bound on waiting, not a timing assertion
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		t.Errorf("%d goroutines after Close, %d before the pool", n, baseline)
	}
}

func TestClose(t *testing.T) {
	var out testenv.Buffer
	p := newPool(t, func(c *Config) { c.Output = &out })
	res := invoke(t, p, map[string]any{"op": "spawn"})
	var pids struct{ PID, Child int }
	if err := json.Unmarshal(res.Payload, &pids); err != nil || pids.PID == 0 || pids.Child == 0 {
		t.Fatalf("spawn reply %q: %v", res.Payload, err)
	}

	inflight := make(chan error, 1)
	go func() {
		_, err := p.Invoke(context.Background(), payload(t, map[string]any{"op": "sleep", "ms": 120000}))
		inflight <- err
	}()
	for p.Stats().Invocations < 2 {
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close ends the in-flight invocation rather than waiting out its two minutes.
	if elapsed := time.Since(start); elapsed > time.Minute {
		t.Errorf("Close took %v", elapsed)
	}
	if err := <-inflight; !errors.Is(err, ErrClosed) {
		t.Errorf("in-flight Invoke = %v, want ErrClosed", err)
	}
	for _, pid := range []int{pids.PID, pids.Child} {
		if !eventually(func() bool { return processGone(pid) }) {
			t.Errorf("process %d survived Close", pid)
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Invoke(testContext(t), []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
	if s := p.Stats(); s.Instances != 0 || s.Idle != 0 {
		t.Errorf("Stats after Close = %+v", s)
	}
}

// processGone reports whether pid no longer runs. A killed orphan may stay
// a zombie when the container's init does not reap, which counts as gone.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func eventually(cond func() bool) bool {
	// A bound on waiting for the condition, not a timing assertion.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no name", Config{Binary: bootstrap}},
		{"missing binary", Config{Name: "f", Binary: filepath.Join(t.TempDir(), "nope")}},
		{"directory", Config{Name: "f", Binary: t.TempDir()}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

// A process killed while idle has not received the next invocation: that invocation must run in
// a fresh instance, not fail, as Lambda would run it in another environment.
func TestIdleInstanceKilledIsReplaced(t *testing.T) {
	p := newPool(t, nil)
	for i := range 20 {
		pid, _ := echoPID(t, p)
		if !eventually(func() bool { return p.Stats().Idle == 1 }) {
			t.Fatalf("round %d: instance never became idle", i)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Wait only until it looks dead from outside, its executable gone from /proc (which
		// comes before it is a zombie, and long before the harness reaps it): the next
		// invocation races the exit and the reaping. Both once failed it or left it hanging.
		if !eventually(func() bool { _, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); return err != nil }) {
			t.Fatalf("round %d: pid %d survived SIGKILL", i, pid)
		}
		next, res := echoPID(t, p)
		if next == pid || res.InitDuration == 0 {
			t.Fatalf("round %d: served by pid %d (killed %d), init %v", i, next, pid, res.InitDuration)
		}
	}
}

// Logs gets each output line of each execution environment whole, under the log stream and
// group the environment was told (AWS_LAMBDA_LOG_STREAM_NAME, AWS_LAMBDA_LOG_GROUP_NAME), as
// CloudWatch Logs files a Lambda's output; concurrent environments get streams of their own.
func TestLogsSinkGetsLinesByStream(t *testing.T) {
	var mu sync.Mutex
	lines := map[string][]string{}
	p := newPool(t, func(c *Config) {
		c.LogGroup = "/custom/group"
		c.Logs = func(stream string, _ time.Time, line string) {
			mu.Lock()
			defer mu.Unlock()
			lines[stream] = append(lines[stream], line)
		}
	})
	var wg sync.WaitGroup
	envs := make([]map[string]string, 2)
	for i := range envs {
		wg.Go(func() {
			res, err := p.Invoke(testContext(t), payload(t, map[string]any{"op": "echo"}))
			if err != nil {
				t.Error(err)
				return
			}
			var e struct{ Env map[string]string }
			_ = json.Unmarshal(res.Payload, &e)
			envs[i] = e.Env
		})
	}
	wg.Wait()
	for _, env := range envs {
		if env["AWS_LAMBDA_LOG_GROUP_NAME"] != "/custom/group" {
			t.Errorf("log group = %q", env["AWS_LAMBDA_LOG_GROUP_NAME"])
		}
		stream := env["AWS_LAMBDA_LOG_STREAM_NAME"]
		if !eventually(func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines[stream] {
				if strings.HasSuffix(l, "echofn: op=echo") {
					return true
				}
			}
			return false
		}) {
			mu.Lock()
			t.Errorf("stream %q: lines %q", stream, lines)
			mu.Unlock()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for stream, ls := range lines {
		for _, l := range ls {
			if strings.ContainsAny(l, "\n\r") || l == "" {
				t.Errorf("%s: line %q is not one whole line", stream, l)
			}
		}
	}
}
