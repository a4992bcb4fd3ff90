// Package mlflow is a small typed client for the MLflow 3 REST API calls the registry makes on
// its own behalf (the proxy relays clients' calls; this package makes ours). Every call is bounded
// by the client's per-call timeout and by the caller's context, and every failure is one of three
// kinds a caller can act on: ErrUnavailable (no usable answer), ErrTimeout (no answer in time) or
// an *APIError (MLflow answered with an error).
package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// MLflow error codes the registry acts on.
const (
	ResourceDoesNotExist  = "RESOURCE_DOES_NOT_EXIST"
	ResourceAlreadyExists = "RESOURCE_ALREADY_EXISTS"
	InvalidParameterValue = "INVALID_PARAMETER_VALUE"
)

var (
	// ErrUnavailable is a call that got no usable answer: connection refused or reset, or a
	// response that is not MLflow's JSON.
	ErrUnavailable = errors.New("MLflow is unavailable")
	// ErrTimeout is a call that got no answer within its time.
	ErrTimeout = errors.New("MLflow did not answer in time")
)

// APIError is an error answer from MLflow. Message is MLflow's own text: for logs, never for
// clients.
type APIError struct {
	Op      string // "GET runs/get"
	Status  int
	Code    string // MLflow's error_code; "" when the body carried none
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("MLflow %s: HTTP %d %s: %s", e.Op, e.Status, e.Code, e.Message)
}

// Code returns the MLflow error code of err, or "" when err is not an MLflow error answer.
func Code(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// maxResponseBytes bounds what is read of one answer; the registry's calls return a handful of
// entities, and an answer beyond this is not one MLflow would give.
const maxResponseBytes = 16 << 20

// Client calls one MLflow tracking server. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	http    *http.Client
	timeout time.Duration
}

// New returns a client for the server at base (scheme://host[:port][/base-path]). timeout bounds
// each call; the caller's context may bound it further. hc is the function's upstream client
// (upstream.Credentials.Client), which carries MLflow's credentials; nil means one without
// credentials. Either way its connections are reused across invocations of a warm container.
func New(base *url.URL, timeout time.Duration, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: upstream.NewTransport()}
	}
	b := *base
	b.Path = strings.TrimSuffix(b.Path, "/")
	b.RawPath = ""
	// MLflow answers with JSON; a redirect would be a misconfigured URL, not something to follow.
	client := *hc
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: &b, http: &client, timeout: timeout}
}

// call sends one request and decodes a 200 answer into out (nil: ignore the body). query is
// sent as the query string, in with a JSON body.
func (c *Client) call(ctx context.Context, method, endpoint string, query url.Values, in, out any) error {
	op := method + " " + endpoint
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, endpoint, query, in)
	if err != nil {
		return fmt.Errorf("MLflow %s: %w", op, err)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return transportError(ctx, op, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return transportError(ctx, op, err)
	}
	if res.StatusCode != http.StatusOK {
		return answerError(op, res.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("MLflow %s: %w: the answer is not the JSON expected: %w", op, ErrUnavailable, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, method, endpoint string, query url.Values, in any) (*http.Request, error) {
	// endpoint is escaped (an id in it is url.PathEscape'd), so it cannot add path segments.
	decoded, err := url.PathUnescape(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	u := *c.base
	u.Path += "/api/2.0/mlflow/" + decoded
	u.RawPath = c.base.EscapedPath() + "/api/2.0/mlflow/" + endpoint
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		// MLflow refuses a JSON body without this content type.
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// transportError classifies a failed exchange: out of time (ours or the caller's) or unavailable.
func transportError(ctx context.Context, op string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("MLflow %s: %w: %w", op, ErrTimeout, context.DeadlineExceeded)
	}
	return fmt.Errorf("MLflow %s: %w: %w", op, ErrUnavailable, err)
}

// answerError turns a non-200 answer into an *APIError when it is MLflow's JSON error; anything
// else (an HTML page from a load balancer, an empty 502) means MLflow itself did not answer.
func answerError(op string, status int, body []byte) error {
	var e struct {
		Code    string `json:"error_code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		if status >= 500 {
			return fmt.Errorf("MLflow %s: %w: HTTP %d without an MLflow error", op, ErrUnavailable, status)
		}
		return &APIError{Op: op, Status: status, Message: http.StatusText(status)}
	}
	return &APIError{Op: op, Status: status, Code: e.Code, Message: e.Message}
}
