// Package harness runs the synthesized stack on one machine: moto and MLflow as real servers, a
// fault-injecting proxy in front of moto, the stack's resources created in moto, every function's
// real bootstrap behind the Lambda Runtime API, the triggers moto does not run, and the REST API.
// `make local` and the end-to-end tests start it the same way.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/hokusai-protocol/registry-gateway/infra/local/faultproxy"
	"github.com/hokusai-protocol/registry-gateway/infra/local/gateway"
	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/provision"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
	"github.com/hokusai-protocol/registry-gateway/infra/local/triggers"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/servers"
)

// ArtifactBucket is the moto S3 bucket MLflow stores artifacts in.
const ArtifactBucket = "hokusai-mlflow-artifacts"

// Options configure a harness. Ports of 0 pick free ones (tests); `make local` uses fixed ones.
type Options struct {
	// TemplatePath is the synthesized template of the local environment.
	TemplatePath string
	// VenvDir holds moto and MLflow (the project's .venv).
	VenvDir string
	// StateDir holds pid files, MLflow's database and logs; reused across runs.
	StateDir string
	APIPort  int
	// LambdaPort serves Lambda's Invoke API for the stack's functions (aws lambda invoke, make key).
	LambdaPort int
	MLflowPort int
	MotoPort   int
	// Output receives function and server output; Log the harness's own lines.
	Output io.Writer
	Log    *slog.Logger
	// MaxConcurrency caps instances per function (default 4).
	MaxConcurrency int
	// IntegrationTimeout overrides API Gateway's 29 s (tests).
	IntegrationTimeout time.Duration
	// Triggers tune the runner of rules, schedules and queues.
	Triggers triggers.Options
	// MLflowAdmin, when set, runs MLflow with its own basic-auth app and this admin as its only
	// user: an MLflow that refuses calls without credentials.
	MLflowAdmin *servers.BasicAuth
	// UpstreamSecret, when set, is the value of the secret the functions' MLFLOW_UPSTREAM_SECRET_ARN
	// names (the template's has none: operators fill it in after deploying).
	UpstreamSecret string
}

// Harness is a running local stack.
type Harness struct {
	APIURL string
	// LambdaURL is the local Lambda Invoke API endpoint (--endpoint-url).
	LambdaURL string
	MLflowURL string
	// MotoURL is moto itself; AWSEndpoint the fault proxy in front of it, which functions use.
	MotoURL     string
	AWSEndpoint string
	Model       *template.Model
	Resources   *provision.Resources
	Faults      *faultproxy.Proxy
	// MLflowFaults sits between the functions and MLflow: tests slow it, take it down, count the
	// calls and see the headers that reached MLflow. MLflowUpstream is its URL, the functions' MLFLOW_URL.
	MLflowFaults   *faultproxy.Proxy
	MLflowUpstream string
	Gateway        *gateway.Gateway
	Triggers       *triggers.Runner
	// StartDuration is how long Start took.
	StartDuration time.Duration

	opts      Options
	log       *slog.Logger
	moto      *servers.Moto
	mlflow    *servers.MLflow
	mlflowOpt servers.MLflowOptions
	faultSrv  *faultproxy.Server
	apiSrv    *http.Server
	lambdaSrv *http.Server
	pools     map[string]*lambdart.Pool // by logical id
	stopOnce  sync.Once
	cleanups  []func() error
}

// Start brings the whole stack up. On error, everything started so far is stopped.
func Start(ctx context.Context, opts Options) (h *Harness, err error) {
	began := time.Now()
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	h = &Harness{opts: opts, log: opts.Log, pools: map[string]*lambdart.Pool{}}
	defer func() {
		if err != nil {
			_ = h.Stop()
			h = nil
		}
	}()
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	// A crashed earlier run may have left servers, functions or its own process behind.
	if err := killStaleHarness(opts.StateDir); err != nil {
		return nil, err
	}
	if err := servers.KillStale(opts.StateDir); err != nil {
		return nil, fmt.Errorf("stale servers: %w", err)
	}
	if err := h.startServices(ctx); err != nil {
		return nil, err
	}
	model, err := template.Load(opts.TemplatePath, template.Options{
		EndpointURL:  h.AWSEndpoint,
		EnvOverrides: map[string]string{"MLFLOW_URL": h.MLflowUpstream},
	})
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	h.Model = model
	if model.API == nil {
		return nil, errors.New("the template has no REST API")
	}
	if opts.UpstreamSecret != "" {
		if err := setUpstreamSecret(model, opts.UpstreamSecret); err != nil {
			return nil, err
		}
	}
	h.Resources, err = provision.Provision(ctx, h.AWSConfig(), model)
	if err != nil {
		return nil, fmt.Errorf("create the stack's resources in moto: %w", err)
	}
	// The runner exists before the functions: their output feeds its subscription filters.
	h.Triggers = triggers.New(h.AWSConfig(), model, h.Resources, h, withTriggerLog(opts.Triggers, h.log))
	if err := h.startFunctions(); err != nil {
		return nil, err
	}
	// Stopped before the functions (cleanups run in reverse), so pending deliveries are cancelled.
	h.cleanups = append(h.cleanups, func() error { h.Triggers.Stop(); return nil })
	if err := h.Triggers.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("start triggers: %w", err)
	}
	if err := h.startAPI(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.StateDir, harnessPidFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	h.StartDuration = time.Since(began)
	return h, nil
}

func withTriggerLog(o triggers.Options, log *slog.Logger) triggers.Options {
	if o.Log == nil {
		o.Log = log
	}
	return o
}

func (h *Harness) startServices(ctx context.Context) error {
	out := h.opts.Output
	moto, err := servers.StartMoto(ctx, servers.MotoOptions{
		VenvDir: h.opts.VenvDir, Port: h.opts.MotoPort, StateDir: h.opts.StateDir, LogOutput: prefixed(out, "moto"),
	})
	if err != nil {
		return fmt.Errorf("start moto: %w", err)
	}
	h.moto, h.MotoURL = moto, moto.URL
	h.cleanups = append(h.cleanups, moto.Stop)

	target, err := parseURL(moto.URL)
	if err != nil {
		return err
	}
	h.Faults = faultproxy.New(target)
	h.faultSrv, err = h.Faults.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the fault proxy: %w", err)
	}
	h.AWSEndpoint = h.faultSrv.URL
	h.cleanups = append(h.cleanups, h.faultSrv.Close)

	h.mlflowOpt = servers.MLflowOptions{
		VenvDir: h.opts.VenvDir, Port: h.opts.MLflowPort, StateDir: h.opts.StateDir,
		ArtifactsDestination: "s3://" + ArtifactBucket + "/",
		S3EndpointURL:        h.AWSEndpoint,
		LogOutput:            prefixed(out, "mlflow"),
		Admin:                h.opts.MLflowAdmin,
	}
	mlflow, err := servers.StartMLflow(ctx, h.mlflowOpt)
	if err != nil {
		return fmt.Errorf("start MLflow: %w", err)
	}
	h.mlflow, h.MLflowURL = mlflow, mlflow.URL
	h.mlflowOpt.Port = mlflow.Port // a restart comes back where the fault proxy points
	h.cleanups = append(h.cleanups, func() error { return h.mlflow.Stop() })

	mlflowTarget, err := parseURL(mlflow.URL)
	if err != nil {
		return err
	}
	h.MLflowFaults = faultproxy.NewService(mlflowTarget, "mlflow")
	mlflowSrv, err := h.MLflowFaults.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the MLflow fault proxy: %w", err)
	}
	h.MLflowUpstream = mlflowSrv.URL
	h.cleanups = append(h.cleanups, mlflowSrv.Close)
	return nil
}

// StopMLflow kills the MLflow server, leaving its fault proxy in front of nothing: what a crashed
// MLflow host looks like to the functions. RestartMLflow brings it back.
func (h *Harness) StopMLflow() error { return h.mlflow.Stop() }

// RestartMLflow starts MLflow again on the same port and state after StopMLflow.
func (h *Harness) RestartMLflow(ctx context.Context) error {
	m, err := servers.StartMLflow(ctx, h.mlflowOpt)
	if err != nil {
		return fmt.Errorf("restart MLflow: %w", err)
	}
	h.mlflow = m
	return nil
}

// AWSConfig is an SDK configuration for the local AWS (through the fault proxy).
func (h *Harness) AWSConfig() aws.Config {
	return servers.AWSConfig(h.AWSEndpoint)
}

// awsEnv points a function's AWS SDK at the local endpoint.
func (h *Harness) awsEnv() map[string]string {
	return map[string]string{
		"AWS_REGION":                servers.Region,
		"AWS_DEFAULT_REGION":        servers.Region,
		"AWS_ACCESS_KEY_ID":         servers.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     servers.SecretAccessKey,
		"AWS_ENDPOINT_URL":          h.AWSEndpoint,
		"AWS_EC2_METADATA_DISABLED": "true",
	}
}

// setUpstreamSecret gives value to the secret the functions' MLFLOW_UPSTREAM_SECRET_ARN names.
func setUpstreamSecret(m *template.Model, value string) error {
	var arn string
	for _, fn := range m.Functions {
		if v := fn.Env["MLFLOW_UPSTREAM_SECRET_ARN"]; v != "" {
			arn = v
		}
	}
	for _, s := range m.Secrets {
		if arn != "" && strings.HasSuffix(arn, ":secret:"+s.Name) {
			s.Value = value
			return nil
		}
	}
	return errors.New("an upstream secret value was given, but no function's MLFLOW_UPSTREAM_SECRET_ARN names a secret of the template")
}

// FunctionEnv is the environment the harness runs fn with: the template's variables (MLFLOW_URL
// pointing at the MLflow fault proxy) and the AWS variables Lambda would set.
func (h *Harness) FunctionEnv(fn *template.Function) map[string]string {
	env := map[string]string{}
	maps.Copy(env, fn.Env)
	maps.Copy(env, h.awsEnv())
	return env
}

func (h *Harness) startFunctions() error {
	for id, fn := range h.Model.Functions {
		pool, err := lambdart.New(lambdart.Config{
			Name:           fn.Name,
			Binary:         filepath.Join(fn.AssetDir, "bootstrap"),
			Env:            h.FunctionEnv(fn),
			Timeout:        fn.Timeout,
			MemoryMB:       fn.MemoryMB,
			MaxConcurrency: h.opts.MaxConcurrency,
			Output:         prefixed(h.opts.Output, fn.Name),
			LogGroup:       fn.LogGroup,
			Logs:           h.Triggers.LogSink(fn),
		})
		if err != nil {
			return fmt.Errorf("function %s: %w", fn.Name, err)
		}
		h.pools[id] = pool
		h.cleanups = append(h.cleanups, pool.Close)
	}
	return nil
}

func (h *Harness) startAPI() error {
	h.Gateway = gateway.New(h.Model.API, h, gateway.Options{
		Log:                h.log,
		AccessLog:          prefixed(h.opts.Output, "access"),
		IntegrationTimeout: h.opts.IntegrationTimeout,
	})
	var err error
	h.APIURL, h.apiSrv, err = h.serve(h.opts.APIPort, "LOCAL_API_PORT", h.Gateway, h.Gateway.Listener)
	if err != nil {
		return fmt.Errorf("serve the API: %w", err)
	}
	h.LambdaURL, h.lambdaSrv, err = h.serve(h.opts.LambdaPort, "LOCAL_LAMBDA_PORT", h.invokeAPI(), nil)
	if err != nil {
		return fmt.Errorf("serve the Lambda invoke API: %w", err)
	}
	return nil
}

// serve runs handler on 127.0.0.1:port until Stop; wrap, if set, wraps the listener.
func (h *Harness) serve(port int, variable string, handler http.Handler, wrap func(net.Listener) net.Listener) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", nil, fmt.Errorf("port %d is taken (set %s to use another): %w", port, variable, err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	h.cleanups = append(h.cleanups, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), srv, nil
}

// Invoke runs a function by logical id (the gateway's and the triggers' Invoker).
func (h *Harness) Invoke(ctx context.Context, function string, payload []byte) (*lambdart.Result, error) {
	p, ok := h.pools[function]
	if !ok {
		return nil, fmt.Errorf("no function %q in the template", function)
	}
	return p.Invoke(ctx, payload)
}

// InvokeStream runs a function with a streamed response.
func (h *Harness) InvokeStream(ctx context.Context, function string, payload []byte) (*lambdart.Result, error) {
	p, ok := h.pools[function]
	if !ok {
		return nil, fmt.Errorf("no function %q in the template", function)
	}
	return p.InvokeStream(ctx, payload)
}

// Function returns a function's pool by short name ("health"), for stats and tests.
func (h *Harness) Function(name string) (*template.Function, *lambdart.Pool) {
	for id, fn := range h.Model.Functions {
		if fn.Name == name {
			return fn, h.pools[id]
		}
	}
	return nil, nil
}

// Stop stops everything Start started, in reverse order, and removes the pid file.
func (h *Harness) Stop() error {
	var errs []error
	h.stopOnce.Do(func() {
		for i := len(h.cleanups) - 1; i >= 0; i-- {
			if err := h.cleanups[i](); err != nil {
				errs = append(errs, err)
			}
		}
		_ = os.Remove(filepath.Join(h.opts.StateDir, harnessPidFile))
	})
	return errors.Join(errs...)
}

// Banner is what `make local` prints once the stack is up.
func (h *Harness) Banner(adminKey string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("")
	w("Hokusai Registry Gateway — local stack ready in %s", h.StartDuration.Round(100*time.Millisecond))
	w("")
	w("  API          %s", h.APIURL)
	w("  Lambda       %s   (aws lambda invoke --endpoint-url …)", h.LambdaURL)
	w("  MLflow UI    %s", h.MLflowURL)
	w("  AWS (moto)   %s   (functions reach it through the fault proxy %s)", h.MotoURL, h.AWSEndpoint)
	w("               region %s, access key %s / secret %s", servers.Region, servers.AccessKeyID, servers.SecretAccessKey)
	var tables, buses, queues []string
	for _, t := range h.Model.Tables {
		tables = append(tables, t.Name)
	}
	for _, bus := range h.Model.Buses {
		buses = append(buses, bus.Name)
	}
	for _, q := range h.Model.Queues {
		queues = append(queues, q.Name)
	}
	sort.Strings(tables)
	w("  tables       %s", orNone(tables))
	w("  event bus    %s", orNone(buses))
	w("  queues       %s", orNone(queues))
	w("  artifacts    s3://%s/ (on moto)", ArtifactBucket)
	var fns []string
	for _, fn := range h.Model.Functions {
		fns = append(fns, fn.Name)
	}
	sort.Strings(fns)
	w("  functions    %s", strings.Join(fns, ", "))
	w("")
	switch {
	case adminKey != "":
		w("  admin key    %s", adminKey)
		w("               shown once; `make key` mints another")
	case h.hasRoute("/api/keys"):
		w("  admin key    none: the stack's keys come from the external auth service")
	default:
		w("  admin key    none: this stack has no key store")
	}
	w("")
	w("Try it:")
	w("  curl -s %s/health", h.APIURL)
	w("  curl -s %s/health/mlflow", h.APIURL)
	if adminKey != "" {
		w("  curl -s -H 'Authorization: Bearer %s' %s/api/keys", adminKey, h.APIURL)
	}
	w("")
	if h.hasRoute("/api/mlflow/{proxy+}") {
		w("MLflow client through the gateway:")
		w("  export MLFLOW_TRACKING_URI=%s/api/mlflow", h.APIURL)
		w("  export MLFLOW_TRACKING_TOKEN=<your hk_ key>")
	} else {
		w("MLflow client (straight to MLflow: the stack has no MLflow proxy route yet):")
		w("  export MLFLOW_TRACKING_URI=%s", h.MLflowURL)
	}
	w("  .venv/bin/python -c 'import mlflow; print(mlflow.search_experiments())'")
	w("")
	w("Ctrl-C stops everything.")
	return b.String()
}

func (h *Harness) hasRoute(path string) bool {
	for _, r := range h.Model.API.Routes {
		if r.Path == path {
			return true
		}
	}
	return false
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

// prefixed writes each line of output with a "[name] " prefix, so interleaved logs stay readable.
func prefixed(w io.Writer, name string) io.Writer {
	return &linePrefixer{w: w, prefix: []byte("[" + name + "] ")}
}

type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte(nil), l.prefix...), l.buf[:i+1]...)
		l.buf = l.buf[i+1:]
		if _, err := l.w.Write(line); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}
