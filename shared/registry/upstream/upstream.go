// Package upstream is how every function reaches MLflow. The MLflow proxy, the register function
// and the health probe share one configuration of the upstream (MLFLOW_URL, MLFLOW_UPSTREAM_AUTH,
// MLFLOW_UPSTREAM_SECRET_ARN), credentials resolved once at start, and one http.RoundTripper that
// puts exactly those credentials on every request it sends to MLflow — so an MLflow that requires
// credentials is reachable by all three or by none.
//
// Modes (MLFLOW_UPSTREAM_AUTH):
//   - none: no Authorization header reaches MLflow.
//   - basic, bearer: the secret's credentials, on every request of every function.
//   - forward: the caller's own Authorization header, and only from a request that has a caller
//     (the proxy and register wrap their handlers in Credentials.Caller). The health probe has no
//     caller, so it sends no credentials; see package health for what it then reports.
package upstream

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

// Mode is how the functions authenticate to MLflow (MLFLOW_UPSTREAM_AUTH).
type Mode string

// Upstream authentication modes.
const (
	// None sends no credentials.
	None Mode = "none"
	// Basic sends HTTP basic credentials from the Secrets Manager secret.
	Basic Mode = "basic"
	// Bearer sends a bearer token from the Secrets Manager secret.
	Bearer Mode = "bearer"
	// Forward passes the caller's own Authorization header: the only mode in which the caller's
	// API key reaches MLflow.
	Forward Mode = "forward"
)

// needsSecret reports whether the mode's credentials come from Secrets Manager.
func (m Mode) needsSecret() bool { return m == Basic || m == Bearer }

// Config is the part of a function's configuration that says where MLflow is and how to
// authenticate to it. Every function that calls MLflow embeds it.
type Config struct {
	// MLflowURL is the tracking server, possibly with a base path (https://host/mlflow).
	MLflowURL    *url.URL `env:"MLFLOW_URL,required"`
	UpstreamAuth Mode     `env:"MLFLOW_UPSTREAM_AUTH" envDefault:"none"`
	// UpstreamSecretARN names the secret holding {"username","password"} (basic) or {"token"}
	// (bearer).
	UpstreamSecretARN string `env:"MLFLOW_UPSTREAM_SECRET_ARN"`
}

// Validate names every offending variable; an embedding configuration's Validate calls it.
func (c *Config) Validate() error {
	var errs []error
	if err := config.HTTPURL("MLFLOW_URL", c.MLflowURL); err != nil {
		errs = append(errs, err)
	} else if c.MLflowURL.User != nil || c.MLflowURL.RawQuery != "" || c.MLflowURL.Fragment != "" {
		// Credentials in the URL would bypass MLFLOW_UPSTREAM_AUTH and end up in logs.
		errs = append(errs, errors.New("MLFLOW_URL must be scheme://host[:port][/base-path]: "+
			"no credentials (use MLFLOW_UPSTREAM_AUTH), query or fragment"))
	}
	switch c.UpstreamAuth {
	case None, Basic, Bearer, Forward:
	default:
		errs = append(errs, fmt.Errorf("MLFLOW_UPSTREAM_AUTH must be none, basic, bearer or forward, got %q", c.UpstreamAuth))
	}
	switch {
	case c.UpstreamAuth.needsSecret() && c.UpstreamSecretARN == "":
		errs = append(errs, fmt.Errorf("MLFLOW_UPSTREAM_SECRET_ARN is required with MLFLOW_UPSTREAM_AUTH=%s", c.UpstreamAuth))
	case !c.UpstreamAuth.needsSecret() && c.UpstreamSecretARN != "":
		// Almost certainly a misconfiguration: the operator meant credentials to be used.
		errs = append(errs, fmt.Errorf("MLFLOW_UPSTREAM_SECRET_ARN is set but MLFLOW_UPSTREAM_AUTH=%s does not use it", c.UpstreamAuth))
	}
	return errors.Join(errs...)
}

// NewTransport is the connection settings of every function's calls to MLflow. One Transport
// lives as long as the Lambda container, so connections are reused across invocations.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// A dead host should be a quick 502, not a timeout after the whole budget.
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 8,
		// Below MLflow's keep-alive (uvicorn's 5 s): a connection the server may have closed
		// while the container was frozen is discarded, not reused for a POST that could then not
		// be retried.
		IdleConnTimeout: 4 * time.Second,
		// The proxy relays MLflow's bytes and Content-Encoding as sent; Go would otherwise ask for
		// gzip itself and transparently decompress, changing the body and its length.
		DisableCompression: true,
	}
}

// origin is scheme://host of u, lower-cased, the only place credentials are sent.
func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }
