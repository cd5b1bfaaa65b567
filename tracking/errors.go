package tracking

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrorCode is one of MLflow's databricks.ErrorCode names, as sent on the wire in
// the "error_code" field.
type ErrorCode string

// The error codes this project produces or understands.
const (
	ErrInvalidParameterValue  ErrorCode = "INVALID_PARAMETER_VALUE"
	ErrResourceDoesNotExist   ErrorCode = "RESOURCE_DOES_NOT_EXIST"
	ErrResourceAlreadyExists  ErrorCode = "RESOURCE_ALREADY_EXISTS"
	ErrBadRequest             ErrorCode = "BAD_REQUEST"
	ErrInvalidState           ErrorCode = "INVALID_STATE"
	ErrInternal               ErrorCode = "INTERNAL_ERROR"
	ErrPermissionDenied       ErrorCode = "PERMISSION_DENIED"
	ErrUnauthenticated        ErrorCode = "UNAUTHENTICATED"
	ErrNotImplemented         ErrorCode = "NOT_IMPLEMENTED"
	ErrRequestLimitExceeded   ErrorCode = "REQUEST_LIMIT_EXCEEDED"
	ErrResourceConflict       ErrorCode = "RESOURCE_CONFLICT"
	ErrTemporarilyUnavailable ErrorCode = "TEMPORARILY_UNAVAILABLE"
	ErrEndpointNotFound       ErrorCode = "ENDPOINT_NOT_FOUND"
	// ErrNotFound is what MLflow answers when a trace's data file is missing.
	ErrNotFound ErrorCode = "NOT_FOUND"
	// ErrFeatureDisabled is MLflow 3's answer to a feature the server has off
	// (workspaces); MLflow maps it to no status, so it is 500.
	ErrFeatureDisabled ErrorCode = "FEATURE_DISABLED"
)

// statusByCode is the one table that maps error codes to HTTP statuses. It follows
// mlflow/exceptions.py: RESOURCE_ALREADY_EXISTS is 400, not 409.
var statusByCode = map[ErrorCode]int{
	ErrInvalidParameterValue:  http.StatusBadRequest,
	ErrResourceAlreadyExists:  http.StatusBadRequest,
	ErrBadRequest:             http.StatusBadRequest,
	ErrInvalidState:           http.StatusBadRequest,
	ErrResourceDoesNotExist:   http.StatusNotFound,
	ErrEndpointNotFound:       http.StatusNotFound,
	ErrNotFound:               http.StatusNotFound,
	ErrPermissionDenied:       http.StatusForbidden,
	ErrUnauthenticated:        http.StatusUnauthorized,
	ErrResourceConflict:       http.StatusConflict,
	ErrRequestLimitExceeded:   http.StatusTooManyRequests,
	ErrNotImplemented:         http.StatusNotImplemented,
	ErrTemporarilyUnavailable: http.StatusServiceUnavailable,
	ErrInternal:               http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status MLflow uses for code; unknown codes are 500.
func HTTPStatus(code ErrorCode) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeForStatus returns the error code a client should assume when a server answered
// with status but no MLflow error body (a proxy's 502, say).
func CodeForStatus(status int) ErrorCode {
	switch status {
	case http.StatusBadRequest:
		return ErrBadRequest
	case http.StatusNotFound:
		return ErrEndpointNotFound
	case http.StatusUnauthorized:
		return ErrUnauthenticated
	case http.StatusForbidden:
		return ErrPermissionDenied
	case http.StatusConflict:
		return ErrResourceConflict
	case http.StatusTooManyRequests:
		return ErrRequestLimitExceeded
	case http.StatusNotImplemented:
		return ErrNotImplemented
	case http.StatusServiceUnavailable:
		return ErrTemporarilyUnavailable
	}
	return ErrInternal
}

// Error is the one error type of the tracking domain: an MLflow error code, a
// message meant for the caller, and optionally the cause (kept for logs and
// errors.Is/As, never sent to clients when the code is INTERNAL_ERROR).
type Error struct {
	Code    ErrorCode
	Message string
	// Message3 is MLflow 3's wording of Message, for the few errors MLflow 2.17
	// and 3 word differently (Message is 2.17's, the version the server reports);
	// a server answers clients that say they are MLflow 3 with it. "" when the
	// two agree.
	Message3 string
	Err      error
}

// In3 returns a copy of e whose MLflow 3 wording is the formatted message.
func (e *Error) In3(format string, args ...any) *Error {
	c := *e
	c.Message3 = fmt.Sprintf(format, args...)
	return &c
}

// Errorf returns an *Error with code and a formatted message. A %w verb in format
// also records the cause.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: wrapped.Error()}
	if u := errors.Unwrap(wrapped); u != nil {
		e.Err = u
	}
	return e
}

// Error implements error.
func (e *Error) Error() string {
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &tracking.Error{Code: tracking.ErrResourceDoesNotExist}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// ErrorCodeOf returns the code of the first *Error in err's chain, INTERNAL_ERROR
// for any other non-nil error, and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal
}

// ErrorMessage returns the message of the first *Error in err's chain, or err's
// text when there is none.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// IsNotFound reports whether err says that the thing asked for does not exist.
func IsNotFound(err error) bool { return ErrorCodeOf(err) == ErrResourceDoesNotExist }

// IsAlreadyExists reports whether err says that the thing to create exists already.
func IsAlreadyExists(err error) bool { return ErrorCodeOf(err) == ErrResourceAlreadyExists }
