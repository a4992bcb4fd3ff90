// Package apigw adapts API Gateway REST (v1) Lambda proxy events to net/http, so every function's
// logic is an ordinary http.Handler, testable with httptest, and API Gateway is met only at the edge.
package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/eventheader"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

type requestContextKey struct{}

// RequestContext returns the API Gateway request context of the event being served.
func RequestContext(ctx context.Context) (events.APIGatewayProxyRequestContext, bool) {
	rc, ok := ctx.Value(requestContextKey{}).(events.APIGatewayProxyRequestContext)
	return rc, ok
}

// RequestID is the API Gateway request id of the request being served ("" outside API Gateway).
func RequestID(ctx context.Context) string {
	rc, _ := RequestContext(ctx)
	return rc.RequestID
}

// NewRequest turns a proxy event into an *http.Request whose context carries the request context
// and a logger tagged with the request id. An event the gateway could not have produced (a body
// flagged base64 that is not, a path that is not absolute) is an error.
func NewRequest(ctx context.Context, ev events.APIGatewayProxyRequest, log *slog.Logger) (*http.Request, error) {
	if !strings.HasPrefix(ev.Path, "/") {
		return nil, fmt.Errorf("event path %q is not absolute", ev.Path)
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("decode base64 body: %w", err)
		}
		body = decoded
	}

	query := url.Values{}
	for k, vs := range ev.MultiValueQueryStringParameters {
		query[k] = append([]string(nil), vs...)
	}
	for k, v := range ev.QueryStringParameters {
		if _, ok := query[k]; !ok {
			query.Set(k, v)
		}
	}
	u := &url.URL{Path: ev.Path, RawQuery: query.Encode()}

	if log == nil {
		log = slog.Default()
	}
	attrs := []any{slog.String("request_id", ev.RequestContext.RequestID)}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("aws_request_id", lc.AwsRequestID))
	}
	ctx = context.WithValue(ctx, requestContextKey{}, ev.RequestContext)
	ctx = logging.WithLogger(ctx, log.With(attrs...))

	r, err := http.NewRequestWithContext(ctx, ev.HTTPMethod, "/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	// Set, not parsed: a path such as //host/x must stay a path, never become a host.
	r.URL = u
	r.Header = eventheader.Parse(ev.Headers, ev.MultiValueHeaders)
	r.Host = r.Header.Get("Host")
	r.RequestURI = u.RequestURI()
	r.RemoteAddr = ev.RequestContext.Identity.SourceIP
	r.ContentLength = int64(len(body))
	return r, nil
}
