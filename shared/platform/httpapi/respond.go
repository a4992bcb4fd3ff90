package httpapi

import (
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v, nil) }

// redacted scrubs key-shaped text from an error body as rendered: details quote paths, ids and
// member names that came from the client, in strings, lists and extra fields alike, and a pasted
// key must not come back in an answer. The replacement holds no JSON syntax, so the body stays JSON.
func redacted(b []byte) []byte { return []byte(logging.Redacted(string(b))) }

func writeJSON(w http.ResponseWriter, status int, v any, filter func([]byte) []byte) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here (an unmarshalable type); say so without leaking it.
		status, body = http.StatusInternalServerError, []byte(`{"detail":"internal error","error":"INTERNAL_ERROR"}`)
	} else if filter != nil {
		body = filter(body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteError answers err as {"detail":…, "error":…} with its mapped status, and logs it: server
// errors at error level with their cause, client errors at info.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	he := StatusOf(err)
	log := logging.FromContext(r.Context())
	attrs := []any{slog.Int("status", he.Status), slog.String("code", he.Code)}
	if he.Err != nil {
		attrs = append(attrs, slog.Any("cause", he.Err))
	}
	if he.Status >= 500 {
		log.Error("request failed", attrs...)
	} else {
		log.Info("request rejected", attrs...)
	}
	for k, v := range he.Headers {
		w.Header()[k] = v
	}
	body := map[string]any{"detail": he.Detail, "error": he.Code}
	maps.Copy(body, he.Extra)
	writeJSON(w, he.Status, body, redacted)
}

// Endpoint adapts a handler that returns its answer (status and JSON body, or an error), so that
// every error reaches WriteError and every success is JSON.
func Endpoint(fn func(http.ResponseWriter, *http.Request) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := fn(w, r)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		WriteJSON(w, status, body)
	})
}
