package audit

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
)

// Response wraps a handler's http.ResponseWriter to learn what the client was answered: the
// status and, for an error, its code, read from the first bytes of the JSON error body (MLflow's
// "error_code" or the gateway's "error"). Only the code is kept, and only when it looks like one;
// the body itself is never kept past the answer nor written anywhere.
type Response struct {
	http.ResponseWriter
	status int
	head   []byte
}

// headLimit is how much of an error body is looked at for its code; error answers are small (the proxy relays MLflow's up to 64 KB).
const headLimit = 64 << 10

// NewResponse wraps w.
func NewResponse(w http.ResponseWriter) *Response { return &Response{ResponseWriter: w} }

func (r *Response) WriteHeader(status int) {
	if r.status == 0 && status >= 200 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *Response) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 400 && len(r.head) < headLimit {
		r.head = append(r.head, p[:min(len(p), headLimit-len(r.head))]...)
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the writer's Flush (the proxy streams).
func (r *Response) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes a flush on, for handlers that assert http.Flusher.
func (r *Response) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		if r.status == 0 {
			r.status = http.StatusOK
		}
		f.Flush()
	}
}

// Status is the status answered: 0 when nothing was written yet.
func (r *Response) Status() int { return r.status }

var codeShape = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// Reason is the error code of an error answer, "" when there is none or it cannot be read (a
// compressed or non-JSON body).
func (r *Response) Reason() string {
	if r.status < 400 || len(r.head) == 0 {
		return ""
	}
	var body struct {
		ErrorCode json.RawMessage `json:"error_code"`
		Error     json.RawMessage `json:"error"`
	}
	if json.NewDecoder(bytes.NewReader(r.head)).Decode(&body) != nil {
		return ""
	}
	for _, raw := range []json.RawMessage{body.ErrorCode, body.Error} {
		var code string
		if json.Unmarshal(raw, &code) == nil && codeShape.MatchString(code) {
			return code
		}
	}
	return ""
}
