package llm

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error types, as OpenAI names them in error bodies.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeAPI            = "api_error"
	TypeOverloaded     = "overloaded_error"
	TypeTimeout        = "timeout_error"
)

// Error is an error a client sees. Front doors render it in their own
// wire shape (OpenAI's or Anthropic's); adapters map each cloud's native
// errors to it. Anything that is not an *Error reaches the client as a 500
// whose message hides the internal detail.
type Error struct {
	// Status is the HTTP status the client receives.
	Status int
	// Type is the OpenAI error type (invalid_request_error, ...).
	Type string
	// Code is a machine-readable code such as "model_not_found", or "".
	Code string
	// Param names the offending request field, or "".
	Param string
	// Message is written for a person: what went wrong and what to do.
	Message string
	// RetryAfter is how long the client should wait, for 429 and 503.
	RetryAfter time.Duration
	// Upstream is true when a provider produced the error (as opposed to the
	// gateway refusing the request): the router may fail over on it when
	// Status is 429 or 5xx.
	Upstream bool
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%d %s (%s): %s", e.Status, e.Type, e.Code, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// Retryable reports whether another attempt, on this or another
// deployment, may succeed: throttling, timeouts and server-side failures.
// Errors the request itself caused (4xx other than 408/429) are not.
func (e *Error) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// Errorf returns an *Error with the type that goes with status.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Type: TypeForStatus(status), Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 invalid_request_error naming param.
func BadRequest(param, format string, args ...any) *Error {
	e := Errorf(http.StatusBadRequest, format, args...)
	e.Param = param
	return e
}

// WithCode sets the error's code and returns it.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

// TypeForStatus returns the OpenAI error type for an HTTP status.
func TypeForStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return TypeAuthentication
	case status == http.StatusForbidden:
		return TypePermission
	case status == http.StatusNotFound:
		return TypeNotFound
	case status == http.StatusTooManyRequests:
		return TypeRateLimit
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return TypeTimeout
	case status == http.StatusServiceUnavailable || status == 529:
		return TypeOverloaded
	case status >= 500:
		return TypeAPI
	default:
		return TypeInvalidRequest
	}
}

// AsError returns err as an *Error, wrapping anything else as an opaque 500
// so that internal detail never reaches a client.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Type: TypeAPI, Message: "internal gateway error; the request id in x-request-id identifies it in the gateway's logs"}
}
