package permissionsapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// Error is an answer in MLflow's error shape, {"error_code": …, "message": …}, with the status
// MLflow gives that code (protos/databricks.proto's mapping in mlflow/exceptions.py), so MLflow's
// auth client raises it as a RestException naming the code.
type Error struct {
	Status  int
	Code    string
	Message string
	cause   error // logged, never sent
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.cause }

func invalid(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "INVALID_PARAMETER_VALUE", Message: fmt.Sprintf(format, a...)}
}

func alreadyExists(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "RESOURCE_ALREADY_EXISTS", Message: fmt.Sprintf(format, a...)}
}

func doesNotExist(format string, a ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: "RESOURCE_DOES_NOT_EXIST", Message: fmt.Sprintf(format, a...)}
}

func denied(format string, a ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: "PERMISSION_DENIED", Message: fmt.Sprintf(format, a...)}
}

// writeError answers err: an *Error as itself, anything else (the store failed) as a 500 naming the
// request id, its cause logged and never sent.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		msg := "the permission store failed; the gateway logged the cause"
		if id := apigw.RequestID(r.Context()); id != "" {
			msg += " under request id " + id
		}
		e = &Error{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: msg, cause: err}
	}
	attrs := []any{slog.Int("status", e.Status), slog.String("code", e.Code)}
	if e.cause != nil {
		attrs = append(attrs, slog.Any("cause", e.cause))
	}
	log := logging.FromContext(r.Context())
	if e.Status >= 500 {
		log.Error("permissions API failed", attrs...)
	} else {
		log.Info("permissions API rejected", attrs...)
	}
	// Messages quote what the client sent (names, user ids): never a pasted key.
	httpapi.WriteJSON(w, e.Status, map[string]string{"error_code": e.Code, "message": logging.Redacted(e.Message)})
}
