package mlflowproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// MultipartHint tells a client how to send artifacts over the gateway's request limits. Its
// wording matches the gateway's own 413 (infra/stack MultipartHint).
const MultipartHint = "set MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true and " +
	"MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=4194304 so large artifacts go to storage in parts"

// apiError is an answer the proxy gives itself, in MLflow's error shape so the stock client shows
// it: {"error_code": …, "message": …} plus any extra fields.
type apiError struct {
	status  int
	code    string
	message string
	extra   map[string]any
	allow   []string // the Allow header of a 405
	cause   error    // logged, never sent
}

func newError(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.status, e.code, e.message)
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.cause }

func (e *apiError) withCause(err error) *apiError { e.cause = err; return e }

// body is the JSON the client receives.
func (e *apiError) body() []byte {
	// No message of the proxy's may carry a key, whatever it quotes.
	v := map[string]any{"error_code": e.code, "message": logging.Redacted(e.message)}
	maps.Copy(v, e.extra)
	b, err := json.Marshal(v)
	if err != nil {
		// Only an unmarshalable extra gets here, a programming error; keep the shape.
		return []byte(`{"error_code":"INTERNAL_ERROR","message":"internal error"}`)
	}
	return b
}

// displayPath is a client's path as an error message may quote it (httpapi.ShownPath, which the
// gateway's other answers use too).
func displayPath(path string) string { return httpapi.ShownPath(path) }

// writeError answers err in MLflow's shape and logs it: server-side failures at error level with
// their cause, client errors at info. Anything but an *apiError is a 500 whose text stays here.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = newError(http.StatusInternalServerError, "INTERNAL_ERROR", "internal error").withCause(err)
	}
	attrs := []any{slog.Int("status", e.status), slog.String("code", e.code)}
	if e.cause != nil {
		attrs = append(attrs, slog.Any("cause", e.cause))
	}
	log := logging.FromContext(r.Context())
	if e.status >= 500 {
		log.Error("mlflow proxy failed", attrs...)
	} else {
		log.Info("mlflow proxy rejected", attrs...)
	}
	if len(e.allow) > 0 {
		w.Header().Set("Allow", strings.Join(e.allow, ", "))
	}
	httpapi.WriteJSON(w, e.status, json.RawMessage(e.body()))
}
