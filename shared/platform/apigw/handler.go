package apigw

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
)

// ProxyHandler is the signature lambda.Start takes for a buffered REST API proxy integration.
type ProxyHandler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Handler adapts h to a buffered Lambda proxy handler. Every response carries X-Request-Id; a
// panic in h becomes a 500 JSON answer instead of a crashed container and the gateway's 502.
func Handler(h http.Handler, log *slog.Logger) ProxyHandler {
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-Id", ev.RequestContext.RequestID)
		r, err := NewRequest(ctx, ev, log)
		if err != nil {
			// Not something API Gateway sends; answer as the client's fault without echoing it.
			r, _ = http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			httpapi.WriteError(rec, r, httpapi.BadRequest("malformed request event").WithCause(err))
		} else {
			serve(h, rec, r)
		}
		return toResponse(rec), nil
	}
}

func serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			httpapi.WriteError(w, r, fmt.Errorf("panic: %v", p))
		}
	}()
	h.ServeHTTP(w, r)
}

func toResponse(rec *httptest.ResponseRecorder) events.APIGatewayProxyResponse {
	res := rec.Result()
	body := rec.Body.Bytes()
	out := events.APIGatewayProxyResponse{
		StatusCode:        res.StatusCode,
		MultiValueHeaders: map[string][]string(res.Header),
	}
	if isText(res.Header.Get("Content-Type")) && utf8.Valid(body) {
		out.Body = string(body)
	} else {
		out.Body = base64.StdEncoding.EncodeToString(body)
		out.IsBase64Encoded = true
	}
	return out
}

// isText reports whether a body of this media type travels as a plain string. Anything else is
// base64, which API Gateway decodes when the API's binary media types say so.
func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}
