// Package health answers the unauthenticated liveness and MLflow-reachability checks.
//
// The probe reaches MLflow as every function does (package upstream): with the basic or bearer
// credentials of MLFLOW_UPSTREAM_AUTH, so a wrong secret shows here as a 503. In forward mode
// there is no caller whose credentials could be forwarded, so the probe sends none; an MLflow that
// then answers 401 or 403 has answered, and the probe reports it up with "credentials":
// "not_checked" (as it does for every forward-mode answer), since only a caller's own key can be
// checked.
//
// Unlike the other functions, health does not stop at init when the upstream secret is missing
// or malformed (an operator fills it in after deploying): /health still answers, and
// /health/mlflow answers 503 "credentials_unavailable" until the secret loads.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// probePath is the cheapest authenticated-nothing call that proves MLflow's registry answers.
const probePath = "api/2.0/mlflow/registered-models/search?max_results=1"

// RetryAfter is the Retry-After of a failed probe's 503: long enough for a restarting MLflow,
// short enough for a load balancer's or a deploy script's next look.
const RetryAfter = 5 * time.Second

// Config is the health function's configuration.
type Config struct {
	config.Common
	// Config is where MLflow is and how every function authenticates to it.
	upstream.Config
	// ProbeTimeout bounds the MLflow probe.
	ProbeTimeout time.Duration `env:"MLFLOW_HEALTH_TIMEOUT" envDefault:"5s"`
}

// Validate rejects a configuration the handler cannot work with.
func (c *Config) Validate() error {
	errs := []error{c.Config.Validate()}
	if c.ProbeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("MLFLOW_HEALTH_TIMEOUT must be positive, got %s", c.ProbeTimeout))
	}
	return errors.Join(errs...)
}

// Handler serves GET /health and GET /health/mlflow.
type Handler struct {
	mux      *httpapi.Mux
	version  string
	probeURL string
	shownURL string
	timeout  time.Duration
	// forward: the probe has no caller, so MLflow's 401 or 403 proves it answers.
	forward bool
	now     func() time.Time

	// mu guards the upstream client, which Load may not have yet.
	mu     sync.Mutex
	client *http.Client
	// load builds the client from the credentials; nil when New was given one.
	load    func(context.Context) (*http.Client, error)
	loadErr error
	// retryAt is when load may run again: /health/mlflow is unauthenticated, so a failing
	// secret is read at most once per RetryAfter, however often the probe is called.
	retryAt time.Time
}

// Load builds the handler with the upstream credentials of cfg, read through sm (nil when the
// mode needs no secret). A missing or malformed secret does not stop the function: it is
// logged (its reason, never its value), /health answers 200, and /health/mlflow answers 503
// "credentials_unavailable" with Retry-After, trying the secret again at most once per
// RetryAfter, so filling it in heals a warm container.
func Load(cfg Config, version string, sm upstream.SecretsAPI, log *slog.Logger) *Handler {
	h := New(cfg, version, nil)
	h.load = func(ctx context.Context) (*http.Client, error) {
		creds, err := upstream.LoadCredentials(ctx, cfg.Config, sm)
		if err != nil {
			return nil, fmt.Errorf("MLflow upstream credentials: %w", err)
		}
		return creds.Client(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ProbeTimeout)
	defer cancel()
	if _, err := h.upstreamClient(ctx); err != nil {
		log.Error("MLflow upstream credentials unavailable; /health/mlflow answers 503 until they load", "error", err)
	}
	return h
}

// upstreamClient is the client the probe uses, loading the credentials if Load could not.
func (h *Handler) upstreamClient(ctx context.Context) (*http.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil {
		return h.client, nil
	}
	if h.now().Before(h.retryAt) {
		return nil, h.loadErr
	}
	c, err := h.load(ctx)
	if err != nil {
		h.loadErr, h.retryAt = err, h.now().Add(RetryAfter)
		return nil, err
	}
	h.client = c
	return c, nil
}

// New builds the handler. client is the upstream client (upstream.Credentials.Client), reused
// across invocations so the probe keeps its connection; the function itself uses Load.
func New(cfg Config, version string, client *http.Client) *Handler {
	base := *cfg.MLflowURL
	if base.Path == "" || base.Path[len(base.Path)-1] != '/' {
		base.Path += "/"
	}
	probe, _ := base.Parse(probePath)
	shown := *cfg.MLflowURL
	shown.User = nil // credentials in the URL are never echoed
	h := &Handler{
		mux:      httpapi.NewMux(),
		version:  version,
		probeURL: probe.String(),
		shownURL: shown.String(),
		timeout:  cfg.ProbeTimeout,
		client:   client,
		forward:  cfg.UpstreamAuth == upstream.Forward,
		now:      time.Now,
	}
	h.mux.HandleFunc("GET /health", h.live)
	h.mux.HandleFunc("GET /health/mlflow", h.mlflow)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) live(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": h.version})
}

type probeFailure struct {
	Status    string `json:"status"`
	ErrorType string `json:"error_type"`
	Error     string `json:"error"`
}

func (h *Handler) mlflow(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	start := h.now()
	errType, err := h.probe(ctx)
	if err != nil {
		logging.FromContext(r.Context()).Warn("mlflow probe failed", "error_type", errType, "cause", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, probeFailure{
			Status: "error", ErrorType: errType, Error: describe(errType, h.timeout),
		})
		return
	}
	body := map[string]any{
		"status":     "ok",
		"latency_ms": h.now().Sub(start).Milliseconds(),
		"mlflow_url": h.shownURL,
	}
	if h.forward {
		body["credentials"] = "not_checked"
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
}

// probe returns the failure class and cause, or "" and nil when MLflow answered 2xx.
func (h *Handler) probe(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.probeURL, nil)
	if err != nil {
		return "internal_error", err
	}
	client, err := h.upstreamClient(ctx)
	if err != nil {
		return "credentials_unavailable", err
	}
	res, err := client.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
			return "timeout", err
		default:
			return "connection_error", err
		}
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // drain so the connection is reused
	refused := res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden
	if res.StatusCode/100 != 2 && !(h.forward && refused) {
		return "http_error", fmt.Errorf("mlflow answered %d", res.StatusCode)
	}
	return "", nil
}

// describe is the client-facing message: our words, never the upstream's or the transport's.
func describe(errType string, timeout time.Duration) string {
	switch errType {
	case "timeout":
		return fmt.Sprintf("MLflow did not answer within %s", timeout)
	case "connection_error":
		return "MLflow could not be reached"
	case "http_error":
		return "MLflow answered with an error status"
	case "credentials_unavailable":
		return "the gateway's MLflow credentials are not available"
	default:
		return "MLflow probe failed"
	}
}
