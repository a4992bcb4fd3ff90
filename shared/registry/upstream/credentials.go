package upstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsAPI is the part of the Secrets Manager client LoadCredentials uses;
// *secretsmanager.Client satisfies it, tests fake it.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Credentials is what the functions present to MLflow. The zero value presents nothing and
// reaches nowhere: build it with LoadCredentials.
type Credentials struct {
	mode          Mode
	origin        string // scheme://host of MLFLOW_URL: credentials go nowhere else
	authorization string // the Authorization value for basic and bearer
}

// LoadCredentials resolves cfg's MLFLOW_UPSTREAM_AUTH once, at start: for basic and bearer it
// reads the secret, so a missing or malformed secret fails the cold start, not every request.
// sm may be nil when the mode needs no secret.
func LoadCredentials(ctx context.Context, cfg Config, sm SecretsAPI) (Credentials, error) {
	if cfg.MLflowURL == nil {
		return Credentials{}, errors.New("MLflow credentials: no MLFLOW_URL")
	}
	creds := Credentials{mode: cfg.UpstreamAuth, origin: origin(cfg.MLflowURL)}
	if !cfg.UpstreamAuth.needsSecret() {
		return creds, nil
	}
	if sm == nil {
		return creds, fmt.Errorf("MLFLOW_UPSTREAM_AUTH=%s needs a Secrets Manager client", cfg.UpstreamAuth)
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(cfg.UpstreamSecretARN)})
	if err != nil {
		return creds, fmt.Errorf("read MLflow credentials from %s: %w", cfg.UpstreamSecretARN, err)
	}
	if out.SecretString == nil {
		return creds, fmt.Errorf("MLflow credentials %s: the secret has no string value", cfg.UpstreamSecretARN)
	}
	creds.authorization, err = authorization(cfg.UpstreamAuth, *out.SecretString)
	if err != nil {
		return creds, fmt.Errorf("MLflow credentials %s: %w", cfg.UpstreamSecretARN, err)
	}
	return creds, nil
}

// Mode is the configured MLFLOW_UPSTREAM_AUTH.
func (c Credentials) Mode() Mode { return c.mode }

// authorization builds the header value from the secret's JSON. Errors never quote the secret.
func authorization(mode Mode, secret string) (string, error) {
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Token    string `json:"token"`
	}
	if err := json.Unmarshal([]byte(secret), &v); err != nil {
		return "", errors.New("the secret is not a JSON object")
	}
	switch mode {
	case Basic:
		if v.Username == "" || v.Password == "" {
			return "", errors.New(`basic auth needs {"username": …, "password": …}`)
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(v.Username+":"+v.Password)), nil
	case Bearer:
		if v.Token == "" {
			return "", errors.New(`bearer auth needs {"token": …}`)
		}
		return "Bearer " + v.Token, nil
	}
	return "", fmt.Errorf("MLFLOW_UPSTREAM_AUTH=%s takes no secret", mode)
}

// ErrNotMLflow is a request to somewhere other than MLFLOW_URL's origin, which the upstream
// transport refuses rather than send it MLflow's credentials or the caller's.
var ErrNotMLflow = errors.New("upstream: the request is not for MLFLOW_URL's origin")

// Transport wraps base (nil: NewTransport()) so that every request it sends carries exactly the
// upstream credentials: whatever Authorization header the request had is replaced.
func (c Credentials) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = NewTransport()
	}
	return &transport{base: base, creds: c}
}

// Client is an http.Client over Transport(nil). It does not follow redirects: MLflow's API
// answers with JSON, and a redirect would be a misconfigured URL, not somewhere to go.
func (c Credentials) Client() *http.Client {
	return &http.Client{
		Transport:     c.Transport(nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type transport struct {
	base  http.RoundTripper
	creds Credentials
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.creds.origin == "" || origin(r.URL) != t.creds.origin {
		if r.Body != nil {
			_ = r.Body.Close() // RoundTripper's contract, even on error
		}
		return nil, ErrNotMLflow
	}
	// A RoundTripper must not change the request it is given.
	out := r.Clone(r.Context())
	out.Header.Del("Authorization")
	switch t.creds.mode {
	case Basic, Bearer:
		out.Header.Set("Authorization", t.creds.authorization)
	case Forward:
		if v, ok := r.Context().Value(callerKey{}).(string); ok && v != "" {
			out.Header.Set("Authorization", v)
		}
	}
	return t.base.RoundTrip(out)
}

type callerKey struct{}

// Caller wraps a handler whose MLflow calls are made on behalf of the request's caller (the
// proxy's, register's). In forward mode it hands the request's Authorization header to the
// transport, through the request's context, for the calls made with that context; in every
// other mode it returns next unchanged, so the caller's key is not even carried.
func (c Credentials) Caller(next http.Handler) http.Handler {
	if c.mode != Forward {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("Authorization"); v != "" {
			r = r.WithContext(context.WithValue(r.Context(), callerKey{}, v))
		}
		next.ServeHTTP(w, r)
	})
}
