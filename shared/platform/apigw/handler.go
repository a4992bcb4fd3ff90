package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
)

// MaxBufferedResponseBytes is Lambda's limit on a buffered response payload, which Lambda counts
// as the proxy response encoded as JSON: status, headers and the body as it travels (base64 for a
// binary one). A larger response fails the invocation, and API Gateway answers an opaque 502.
const MaxBufferedResponseBytes = 6 << 20

// ErrResponseTooLarge is what a handler's Write gets once its response cannot fit in a buffered
// Lambda response; the client then gets a JSON 502 naming the limit instead of the gateway's.
var ErrResponseTooLarge = errors.New("the response is over the 6 MB a buffered Lambda response carries; serve the route with StreamingHandler")

// ProxyHandler is the signature lambda.Start takes for a buffered REST API proxy integration.
type ProxyHandler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Handler adapts h to a buffered Lambda proxy handler. Every response carries X-Request-Id; a
// panic in h becomes a 500 JSON answer instead of a crashed container and the gateway's 502; a
// response over MaxBufferedResponseBytes becomes a 502 RESPONSE_TOO_LARGE JSON answer.
func Handler(h http.Handler, log *slog.Logger) ProxyHandler {
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		head := ev.HTTPMethod == http.MethodHead
		w := newBufferWriter(head, ev.RequestContext.RequestID)
		r, err := NewRequest(ctx, ev, log)
		if err != nil {
			// Not something API Gateway sends; answer as the client's fault without echoing it.
			r, _ = http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			httpapi.WriteError(w, r, httpapi.BadRequest("malformed request event").WithCause(err))
		} else {
			serve(h, w, r)
		}
		res, err := w.response()
		if err != nil {
			w = newBufferWriter(head, ev.RequestContext.RequestID)
			httpapi.WriteError(w, r, httpapi.NewError(http.StatusBadGateway, "RESPONSE_TOO_LARGE",
				fmt.Sprintf("the response is over the %d bytes a Lambda response carries", MaxBufferedResponseBytes)).WithCause(err))
			res, _ = w.response()
		}
		return res, nil
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

// bufferWriter is the http.ResponseWriter of a buffered invocation: it keeps the whole response,
// up to what Lambda can carry, and answers as net/http does (an unset Content-Type sniffed from the
// first write, headers fixed at the first WriteHeader or Write, no body for HEAD, 204 or 304).
type bufferWriter struct {
	header  http.Header
	status  int
	sent    http.Header // the headers as they were when the status was fixed
	body    bytes.Buffer
	discard bool // HEAD: a body written anyway is dropped, as net/http does
	tooBig  bool
}

func newBufferWriter(discardBody bool, requestID string) *bufferWriter {
	return &bufferWriter{header: http.Header{"X-Request-Id": {requestID}}, discard: discardBody}
}

func (w *bufferWriter) Header() http.Header { return w.header }

// WriteHeader fixes the status and headers. Informational (1xx) codes are ignored: a Lambda
// response has exactly one status.
func (w *bufferWriter) WriteHeader(status int) {
	if w.sent != nil || status < http.StatusOK {
		return
	}
	w.status, w.sent = status, w.header.Clone()
}

func (w *bufferWriter) Write(p []byte) (int, error) {
	if w.sent == nil {
		if _, ok := w.header["Content-Type"]; !ok && w.header.Get("Transfer-Encoding") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.status == http.StatusNoContent || w.status == http.StatusNotModified:
		return 0, http.ErrBodyNotAllowed
	case w.discard:
		return len(p), nil
	case w.tooBig || w.body.Len()+len(p) > MaxBufferedResponseBytes:
		// The body alone is over the limit: stop buffering it, the answer is an error anyway.
		w.tooBig = true
		return 0, ErrResponseTooLarge
	}
	return w.body.Write(p)
}

// Flush fixes the headers, as a flush does on a server; the body goes out when h returns.
func (w *bufferWriter) Flush() { w.WriteHeader(http.StatusOK) }

// response is the proxy response, or ErrResponseTooLarge when Lambda would refuse to carry it.
func (w *bufferWriter) response() (events.APIGatewayProxyResponse, error) {
	w.WriteHeader(http.StatusOK) // h wrote nothing: an empty 200, as net/http answers
	if w.tooBig {
		return events.APIGatewayProxyResponse{}, ErrResponseTooLarge
	}
	body := w.body.Bytes()
	out := events.APIGatewayProxyResponse{StatusCode: w.status, MultiValueHeaders: w.sent}
	if isText(w.sent.Get("Content-Type")) && utf8.Valid(body) {
		out.Body = string(body)
	} else {
		out.Body = base64.StdEncoding.EncodeToString(body)
		out.IsBase64Encoded = true
	}
	// Counted as the Lambda runtime encodes it (json.Encoder, HTML not escaped).
	var n countingWriter
	enc := json.NewEncoder(&n)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out) // a number, strings and a map of strings: it cannot fail
	if n > MaxBufferedResponseBytes {
		return events.APIGatewayProxyResponse{}, ErrResponseTooLarge
	}
	return out, nil
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
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
