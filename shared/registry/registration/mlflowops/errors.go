package mlflowops

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
)

// Error codes of the registration API for what MLflow answered.
const (
	CodeMLflowUnavailable    = "MLFLOW_UNAVAILABLE"
	CodeTimeout              = "TIMEOUT"
	CodeRunNotFound          = "RUN_NOT_FOUND"
	CodeLoggedModelNotFound  = "LOGGED_MODEL_NOT_FOUND"
	CodeModelVersionNotFound = "MODEL_VERSION_NOT_FOUND"
)

// FromMLflow is the one place an MLflow failure becomes the client's answer. notFound answers
// RESOURCE_DOES_NOT_EXIST (nil: that code is unexpected for this call). MLflow's own text goes
// to the log with the cause, never to the client.
func FromMLflow(err error, notFound *httpapi.Error) error {
	var ae *mlflow.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mlflow.ErrTimeout):
		return httpapi.NewError(http.StatusGatewayTimeout, CodeTimeout,
			"MLflow did not answer in time; retry (with the same Idempotency-Key, nothing is registered twice)").WithCause(err)
	case errors.Is(err, mlflow.ErrUnavailable):
		return unavailable("MLflow is unreachable", err)
	case !errors.As(err, &ae):
		return err
	case ae.Code == mlflow.ResourceDoesNotExist && notFound != nil:
		return notFound.WithCause(err)
	case ae.Status >= 500:
		return unavailable(fmt.Sprintf("MLflow failed to answer %s (HTTP %d)", ae.Op, ae.Status), err)
	case ae.Code == mlflow.InvalidParameterValue:
		return httpapi.Validation(httpapi.FieldError{Field: "body",
			Message: fmt.Sprintf("MLflow refused %s as invalid (%s)", ae.Op, ae.Code)}).WithCause(err)
	default:
		// Refused for a reason the client cannot fix (permissions, a misconfigured gateway).
		return unavailable(fmt.Sprintf("MLflow refused %s (%s)", ae.Op, codeOrStatus(ae)), err)
	}
}

func unavailable(detail string, cause error) *httpapi.Error {
	return httpapi.NewError(http.StatusBadGateway, CodeMLflowUnavailable, detail).WithCause(cause)
}

func codeOrStatus(ae *mlflow.APIError) string {
	if ae.Code != "" {
		return ae.Code
	}
	return fmt.Sprintf("HTTP %d", ae.Status)
}

// Definite reports whether a failed MLflow call certainly changed nothing: MLflow answered and
// refused it. A timeout or lost connection may hide a call that went through.
func Definite(err error) bool {
	var ae *mlflow.APIError
	return errors.As(err, &ae) && ae.Status < 500
}

// NotFound is a 404 with the registration API's code.
func NotFound(code, detail string) *httpapi.Error {
	return httpapi.NewError(http.StatusNotFound, code, detail)
}
