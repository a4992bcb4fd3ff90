// Package health answers the unauthenticated liveness and MLflow-reachability checks.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/config"
	"github.com/hokusai-protocol/registry-gateway/shared/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
)

// probePath is the cheapest authenticated-nothing call that proves MLflow's registry answers.
const probePath = "api/2.0/mlflow/registered-models/search?max_results=1"

// Config is the health function's configuration.
type Config struct {
	config.Common
	MLflowURL *url.URL `env:"MLFLOW_URL,required"`
	// ProbeTimeout bounds the MLflow probe.
	ProbeTimeout time.Duration `env:"MLFLOW_HEALTH_TIMEOUT" envDefault:"5s"`
}

// Validate rejects a configuration the handler cannot work with.
func (c *Config) Validate() error {
	if err := config.HTTPURL("MLFLOW_URL", c.MLflowURL); err != nil {
		return err
	}
	if c.ProbeTimeout <= 0 {
		return fmt.Errorf("MLFLOW_HEALTH_TIMEOUT must be positive, got %s", c.ProbeTimeout)
	}
	return nil
}

// Handler serves GET /health and GET /health/mlflow.
type Handler struct {
	mux      *httpapi.Mux
	version  string
	probeURL string
	shownURL string
	timeout  time.Duration
	client   *http.Client
	now      func() time.Time
}

// New builds the handler. client is reused across invocations so the probe keeps its connection.
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
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, probeFailure{
			Status: "error", ErrorType: errType, Error: describe(errType, h.timeout),
		})
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"status":     "ok",
		"latency_ms": h.now().Sub(start).Milliseconds(),
		"mlflow_url": h.shownURL,
	})
}

// probe returns the failure class and cause, or "" and nil when MLflow answered 2xx.
func (h *Handler) probe(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.probeURL, nil)
	if err != nil {
		return "internal_error", err
	}
	res, err := h.client.Do(req)
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
	if res.StatusCode/100 != 2 {
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
	default:
		return "MLflow probe failed"
	}
}
