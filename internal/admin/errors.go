package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

// apiError is an error with the status and body the client sees.
type apiError struct {
	status int
	body   adminv1.Error
	// retryAfter, in seconds, is sent as Retry-After when > 0.
	retryAfter int
}

func (e *apiError) Error() string { return e.body.Message }

func newError(status int, typ, code, format string, args ...any) *apiError {
	return &apiError{status: status, body: adminv1.Error{Type: typ, Code: code, Message: fmt.Sprintf(format, args...)}}
}

// invalid is a 400 naming the offending field or parameter.
func invalid(param, format string, args ...any) *apiError {
	e := newError(http.StatusBadRequest, "invalid_request_error", "invalid_field", format, args...)
	e.body.Param = param
	return e
}

func unauthorized(code, format string, args ...any) *apiError {
	return newError(http.StatusUnauthorized, "authentication_error", code, format, args...)
}

func forbidden(format string, args ...any) *apiError {
	return newError(http.StatusForbidden, "permission_error", "forbidden", format, args...)
}

func notFound(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, "not_found_error", "not_found", format, args...)
}

func conflict(format string, args ...any) *apiError {
	return newError(http.StatusConflict, "conflict_error", "conflict", format, args...)
}

func notImplemented(format string, args ...any) *apiError {
	return newError(http.StatusNotImplemented, "not_implemented", "not_implemented", format, args...)
}

// storeError maps a store error about what ("key key_abc") to a status.
func storeError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound("%s does not exist; list them to find the right id", what)
	case errors.Is(err, store.ErrConflict):
		// Keep the store's reason ("it is revoked") but not driver text.
		reason, _, _ := strings.Cut(err.Error(), store.ErrConflict.Error())
		reason = strings.TrimRight(strings.ReplaceAll(reason, "store: ", ""), ": ")
		return conflict("%s conflicts with existing state (%s)", what, reason)
	default:
		return err
	}
}

// asAPIError turns any handler error into what the client sees; an error
// that is not an apiError is internal and its text is not exposed.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	return newError(http.StatusInternalServerError, "api_error", "internal_error",
		"the admin API failed internally; the gateway log has the details"), false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.retryAfter))
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard-admin"`)
	}
	writeJSON(w, e.status, adminv1.ErrorBody{Error: e.body})
}
