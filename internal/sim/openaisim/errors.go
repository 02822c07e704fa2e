package openaisim

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
)

// APIError is an error answer in OpenAI's shape:
// {"error":{"message","type","param","code"}}, with null for an empty
// param or code.
type APIError struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
	// RetryAfter is sent as retry-after (whole seconds, rounded up) and
	// retry-after-ms when positive.
	RetryAfter time.Duration
}

// Write writes the error answer.
func (e *APIError) Write(w http.ResponseWriter) {
	SetRetryAfter(w.Header(), e.RetryAfter)
	body := map[string]any{"message": e.Message, "type": e.Type, "param": nullable(e.Param), "code": nullable(e.Code)}
	WriteJSON(w, e.Status, map[string]any{"error": body})
}

// SetRetryAfter sets retry-after and retry-after-ms when d is positive.
func SetRetryAfter(h http.Header, d time.Duration) {
	if d <= 0 {
		return
	}
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	h.Set("Retry-After-Ms", strconv.FormatInt(d.Milliseconds(), 10))
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FaultError renders an engine fault as OpenAI reports that status.
func FaultError(f *sim.Fault) *APIError {
	e := &APIError{Status: f.Status, Message: f.Message}
	switch f.Status {
	case http.StatusTooManyRequests:
		e.Type, e.Code = "requests", "rate_limit_exceeded"
		e.RetryAfter = max(f.RetryAfter, time.Second)
	case http.StatusServiceUnavailable:
		e.Type, e.Code = "server_error", "server_overloaded"
		e.RetryAfter = f.RetryAfter
	case http.StatusBadRequest:
		e.Type = "invalid_request_error"
	case http.StatusUnauthorized:
		e.Type, e.Code = "invalid_request_error", "invalid_api_key"
	case http.StatusNotFound:
		e.Type, e.Code = "invalid_request_error", "model_not_found"
	default:
		e.Type = "server_error"
	}
	return e
}
