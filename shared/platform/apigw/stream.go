package apigw

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// StreamingProxyHandler is the signature lambda.Start takes for a REST API integration whose
// response transfer mode is STREAM.
type StreamingProxyHandler func(context.Context, events.APIGatewayProxyRequest) (*events.APIGatewayProxyStreamingResponse, error)

// StreamingHandler adapts h to a streaming Lambda proxy handler, the counterpart of Handler for
// routes whose responses may exceed what a buffered integration carries (6 MB).
//
// h runs in its own goroutine and writes into a pipe. The Lambda handler returns as soon as h has
// fixed its status and headers (first WriteHeader, Write or Flush); the body then flows to the
// runtime as h writes it, so memory does not depend on the body's size. API Gateway relays the
// bytes as they are: nothing is base64-encoded, whatever the media type.
//
// Every response carries X-Request-Id. A panic before anything was written becomes a 500 JSON
// answer; a panic after the headers went out (including http.ErrAbortHandler) ends the body with
// an error, so the client sees a broken stream rather than a short one that looks complete.
func StreamingHandler(h http.Handler, log *slog.Logger) StreamingProxyHandler {
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (*events.APIGatewayProxyStreamingResponse, error) {
		pr, pw := io.Pipe()
		w := newStreamWriter(pw, ev.HTTPMethod == http.MethodHead)
		w.Header().Set("X-Request-Id", ev.RequestContext.RequestID)

		serve := h
		r, err := NewRequest(ctx, ev, log)
		if err != nil {
			// Not something API Gateway sends; answer as the client's fault without echoing it.
			r, _ = http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			serve = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				httpapi.WriteError(w, r, httpapi.BadRequest("malformed request event").WithCause(err))
			})
		}
		go w.serve(serve, r)

		select {
		case head := <-w.ready:
			return &events.APIGatewayProxyStreamingResponse{
				StatusCode:        head.status,
				MultiValueHeaders: head.header,
				Body:              pr,
			}, nil
		case <-ctx.Done():
			// The invocation is over before h answered; unblock h's writes so its goroutine ends.
			pr.CloseWithError(ctx.Err())
			return nil, fmt.Errorf("handler wrote no response before the invocation ended: %w", ctx.Err())
		}
	}
}

// responseHead is the status and a snapshot of the headers, taken when they were committed so
// later changes by the handler cannot race with the runtime reading them.
type responseHead struct {
	status int
	header map[string][]string
}

// streamWriter is an http.ResponseWriter over a pipe. Only the handler's goroutine calls it, as
// net/http requires of any ResponseWriter.
type streamWriter struct {
	pipe    *io.PipeWriter
	header  http.Header
	ready   chan responseHead // receives exactly one head
	sent    bool
	discard bool // HEAD: a body written anyway is dropped, as net/http does
}

func newStreamWriter(pipe *io.PipeWriter, discardBody bool) *streamWriter {
	return &streamWriter{pipe: pipe, header: http.Header{}, ready: make(chan responseHead, 1), discard: discardBody}
}

func (w *streamWriter) Header() http.Header { return w.header }

// WriteHeader commits the status and headers. Informational (1xx) codes are ignored: a Lambda
// response has exactly one status.
func (w *streamWriter) WriteHeader(status int) {
	if w.sent || status < http.StatusOK {
		return
	}
	w.sent = true
	w.ready <- responseHead{status: status, header: w.header.Clone()}
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.discard {
		return len(p), nil
	}
	n, err := w.pipe.Write(p)
	if err != nil {
		return n, fmt.Errorf("stream response: %w", err)
	}
	return n, nil
}

// Flush commits the headers. Writes reach the reader synchronously through the pipe, so there is
// nothing else to flush; handlers that flush to start a response (ReverseProxy does) rely on this.
func (w *streamWriter) Flush() { w.WriteHeader(http.StatusOK) }

// serve runs h and always ends the stream: closed cleanly when h returns, with an error when it
// panicked after the response started.
func (w *streamWriter) serve(h http.Handler, r *http.Request) {
	defer func() {
		p := recover()
		switch {
		case p == nil:
			w.WriteHeader(http.StatusOK) // h wrote nothing: an empty 200, as net/http answers
			_ = w.pipe.Close()
		case !w.sent:
			id := w.header.Get("X-Request-Id")
			w.header = http.Header{"X-Request-Id": {id}} // drop whatever h had set for its own answer
			httpapi.WriteError(w, r, fmt.Errorf("panic: %v", p))
			_ = w.pipe.Close()
		default:
			if p != http.ErrAbortHandler {
				logging.FromContext(r.Context()).Error("handler panicked while streaming", "panic", fmt.Sprint(p))
			}
			_ = w.pipe.CloseWithError(fmt.Errorf("response aborted: %v", p))
		}
	}()
	h.ServeHTTP(w, r)
}
