// Package authservice is the client of a Hokusai-style external auth service: one call that says
// whether an API key is valid, for whom, and with which scopes (SPEC section 4, AUTH_SOURCE=external).
package authservice

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

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// The three ways a validation can fail; every error Validate and Decode return wraps one of them.
var (
	// ErrInvalid: the service says the key is not valid (401, 403, 404, or a 200 naming no user).
	ErrInvalid = errors.New("auth service: key not valid")
	// ErrRateLimited: the service throttled this key (429); its validity is unknown.
	ErrRateLimited = errors.New("auth service: rate limited")
	// ErrUnavailable: no usable answer (timeout, transport error, 5xx, anything unexpected).
	ErrUnavailable = errors.New("auth service: unavailable")
)

// validatePath is the service's endpoint, relative to AUTH_SERVICE_URL.
const validatePath = "api/v1/keys/validate"

// maxBody bounds what is read of an answer: a validation is a few hundred bytes, and a service that
// sends megabytes is misbehaving, not vouching for a key.
const maxBody = 64 << 10

// Result is a valid key's description.
type Result struct {
	principal.Principal
	// Roles and RateLimitPerHour are what the service reported; the gateway's own throttling does
	// not use them yet, but they are kept so a caller can log or enforce them.
	Roles            []string
	RateLimitPerHour int
}

// Client calls the service. It is safe for concurrent use and keeps its connections across
// invocations, so a warm Lambda pays the TLS handshake once.
type Client struct {
	endpoint  string
	serviceID string
	timeout   time.Duration
	http      *http.Client
}

// New returns a client for the service at base. serviceID is sent with every call and reported
// for keys whose answer names none. hc may be nil (a client of its own); redirects are never
// followed either way, so the key is never re-sent to a host the operator did not configure.
func New(base *url.URL, serviceID string, timeout time.Duration, hc *http.Client) *Client {
	endpoint := base.JoinPath(validatePath)
	c := http.Client{}
	if hc != nil {
		c = *hc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{endpoint: endpoint.String(), serviceID: serviceID, timeout: timeout, http: &c}
}

type request struct {
	ServiceID string `json:"service_id"`
	ClientIP  string `json:"client_ip,omitempty"`
}

// Validate asks the service about key on behalf of a caller at clientIP (API Gateway's sourceIp:
// X-Forwarded-For is whatever the client wrote). Errors never contain the key.
func (c *Client) Validate(ctx context.Context, key, clientIP string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body, err := json.Marshal(request{ServiceID: c.serviceID, ClientIP: clientIP})
	if err != nil {
		return Result{}, fmt.Errorf("encode validation request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("%w: build request: %w", ErrUnavailable, err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the endpoint and the cause, never the headers.
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return Result{}, fmt.Errorf("%w: read answer (status %d): %w", ErrUnavailable, resp.StatusCode, err)
	}
	if len(data) > maxBody {
		return Result{}, fmt.Errorf("%w: answer over %d bytes (status %d)", ErrUnavailable, maxBody, resp.StatusCode)
	}
	res, err := Decode(resp.StatusCode, data)
	if err == nil && res.ServiceID == "" {
		res.ServiceID = c.serviceID
	}
	return res, err
}

// Decode classifies the service's answer: 200 with a JSON object naming a user is valid; 200 with
// anything else, 401, 403 and 404 are invalid; 429 is rate limited; the rest is unavailable (a 400
// or a redirect means our request or the URL is wrong, which must not lock users out as invalid).
func Decode(status int, body []byte) (Result, error) {
	switch status {
	case http.StatusOK:
		return decodeValid(body)
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return Result{}, fmt.Errorf("%w (status %d)", ErrInvalid, status)
	case http.StatusTooManyRequests:
		return Result{}, ErrRateLimited
	}
	return Result{}, fmt.Errorf("%w: status %d", ErrUnavailable, status)
}

// decodeValid reads a 200's body field by field, tolerating a wrong type in any one field: a
// service that sends is_admin as "true" should not lock its users out.
func decodeValid(body []byte) (Result, error) {
	obj := object(body)
	if obj == nil {
		return Result{}, fmt.Errorf("%w: status 200 without a JSON object", ErrInvalid)
	}
	user := object(obj["user"])
	r := Result{
		Principal: principal.Principal{
			UserID:    firstNonEmpty(text(obj["user_id"]), text(user["id"])),
			KeyID:     firstNonEmpty(text(obj["key_id"]), text(obj["api_key_id"])),
			Email:     firstNonEmpty(text(obj["email"]), text(user["email"])),
			ServiceID: text(obj["service_id"]),
			Scopes:    words(obj["scopes"]),
			Admin:     flag(obj["is_admin"]) || flag(user["is_admin"]),
		},
		Roles:            words(obj["roles"]),
		RateLimitPerHour: count(obj["rate_limit_per_hour"]),
	}
	if r.UserID == "" {
		return Result{}, fmt.Errorf("%w: status 200 without a user id", ErrInvalid)
	}
	patterns, err := resourcePatterns(obj["resource_patterns"])
	if err != nil {
		return Result{}, fmt.Errorf("%w: status 200 with resource_patterns %w", ErrInvalid, err)
	}
	r.Patterns = patterns
	return r, nil
}

// resourcePatterns reads the key's narrowing, when the service sends one: a list of
// "<kind>:<glob>" (absent or null: not narrowed). Unlike the other fields it is never read
// leniently: a narrowing the gateway cannot read, taken for none, would widen the key.
func resourcePatterns(raw json.RawMessage) ([]permissions.Pattern, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("that is not a list of strings")
	}
	if len(list) > principal.MaxPatterns {
		return nil, fmt.Errorf("of more than %d entries", principal.MaxPatterns)
	}
	return permissions.ParsePatterns(list)
}

// object decodes raw as a JSON object, or returns nil.
func object(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// text is a string or a number (ids are sometimes numeric), as a string.
func text(raw json.RawMessage) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if len(raw) == 0 || d.Decode(&v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	}
	return ""
}

// words is a list of strings or one space-separated string, split on white space: the authorizer
// context joins scopes with spaces, so a scope holding one would become two downstream.
func words(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, s := range list {
			out = append(out, strings.Fields(s)...)
		}
		return out
	}
	return strings.Fields(text(raw))
}

// flag is true for JSON true or the string "true".
func flag(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	return text(raw) == "true"
}

// count is a non-negative integer, or 0.
func count(raw json.RawMessage) int {
	var n int
	if json.Unmarshal(raw, &n) != nil || n < 0 {
		return 0
	}
	return n
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
