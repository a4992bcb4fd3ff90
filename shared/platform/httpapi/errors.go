// Package httpapi holds what every Hokusai HTTP handler shares: the error type with its status and
// code, the one place errors become JSON responses, JSON writing, and a router whose misses are JSON.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error is an error with the HTTP answer it deserves. Detail is a string or a list (validation).
type Error struct {
	Status  int
	Code    string
	Detail  any
	Headers http.Header
	// Extra fields merged into the body (for example required_scope on a 403).
	Extra map[string]any
	// Err is the cause, logged but never sent to the client.
	Err error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s: %v", e.Status, e.Code, e.Detail)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// FieldError is one entry of a 422's detail list.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// NewError builds an *Error.
func NewError(status int, code string, detail any) *Error {
	return &Error{Status: status, Code: code, Detail: detail}
}

// BadRequest is a 400 for a body that is not the JSON it should be.
func BadRequest(detail string) *Error { return NewError(http.StatusBadRequest, "BAD_REQUEST", detail) }

// NotFound is a 404.
func NotFound(detail string) *Error { return NewError(http.StatusNotFound, "NOT_FOUND", detail) }

// Validation is a 422 listing each offending field.
func Validation(fields ...FieldError) *Error {
	return NewError(http.StatusUnprocessableEntity, "VALIDATION_ERROR", fields)
}

// TooLarge is a 413 naming the limit and what to do instead.
func TooLarge(detail string) *Error {
	return NewError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", detail)
}

// Unavailable is a 503 telling the client when to retry.
func Unavailable(detail string, retryAfterSeconds int, cause error) *Error {
	e := NewError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", detail)
	e.Headers = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}}
	e.Err = cause
	return e
}

// WithCause records the underlying error for the log.
func (e *Error) WithCause(err error) *Error { e.Err = err; return e }

// StatusOf maps any error to the status and *Error the client sees. This is the one place where
// errors become HTTP answers: an *Error answers for itself, a deadline is a 504, anything else a
// 500 whose text stays in the log.
func StatusOf(err error) *Error {
	var he *Error
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, context.DeadlineExceeded):
		return NewError(http.StatusGatewayTimeout, "TIMEOUT", "the request took too long").WithCause(err)
	default:
		return NewError(http.StatusInternalServerError, "INTERNAL_ERROR", "internal error").WithCause(err)
	}
}
