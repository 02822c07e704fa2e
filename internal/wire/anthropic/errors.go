package anthropic

import (
	"encoding/json"
	"net/http"

	"github.com/switchyard/switchyard/internal/llm"
)

// Anthropic error types (the error.type of an error body).
const (
	ErrInvalidRequest  = "invalid_request_error"
	ErrAuthentication  = "authentication_error"
	ErrPermission      = "permission_error"
	ErrNotFound        = "not_found_error"
	ErrRequestTooLarge = "request_too_large"
	ErrRateLimit       = "rate_limit_error"
	ErrAPI             = "api_error"
	ErrOverloaded      = "overloaded_error"
	ErrTimeout         = "timeout_error"
)

// StatusOverloaded is Anthropic's own "overloaded" status.
const StatusOverloaded = 529

// ErrorTypeForStatus returns the Anthropic error type for an HTTP status.
func ErrorTypeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return ErrInvalidRequest
	case http.StatusUnauthorized:
		return ErrAuthentication
	case http.StatusForbidden:
		return ErrPermission
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusRequestEntityTooLarge:
		return ErrRequestTooLarge
	case http.StatusTooManyRequests:
		return ErrRateLimit
	case http.StatusServiceUnavailable, StatusOverloaded:
		return ErrOverloaded
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return ErrTimeout
	}
	if status >= 500 {
		return ErrAPI
	}
	return ErrInvalidRequest
}

// ErrorBody renders a canonical error as an Anthropic error body.
func ErrorBody(e *llm.Error, requestID string) ErrorResponse {
	return ErrorResponse{
		Type:      "error",
		Error:     ErrorDetail{Type: ErrorTypeForStatus(e.Status), Message: e.Message},
		RequestID: requestID,
	}
}

// ParseError reads an Anthropic error body. It returns empty strings when
// body is not one (an HTML page from a proxy, say).
func ParseError(body []byte) (typ, message string) {
	var r ErrorResponse
	if json.Unmarshal(body, &r) != nil {
		return "", ""
	}
	return r.Error.Type, r.Error.Message
}

// StreamError maps a mid-stream `error` event to a canonical upstream
// error: the stream had already answered 200, so the type is all there is.
// Server-side failures become 502 (the gateway's upstream failed) except
// overload, which stays 503 so that clients and routers back off.
func StreamError(typ, message string) *llm.Error {
	status := http.StatusBadGateway
	switch typ {
	case ErrOverloaded:
		status = http.StatusServiceUnavailable
	case ErrRateLimit:
		status = http.StatusTooManyRequests
	case ErrInvalidRequest:
		status = http.StatusBadRequest
	case ErrRequestTooLarge:
		status = http.StatusRequestEntityTooLarge
	case ErrTimeout:
		status = http.StatusGatewayTimeout
	}
	if message == "" {
		message = "the upstream stream failed with " + typ
	}
	e := llm.Errorf(status, "Anthropic stream error (%s): %s", typ, message)
	e.Upstream = true
	return e
}
