package auth

import (
	"errors"
	"net/http"
)

// Sentinel errors; Authenticate wraps them with an actionable message.
// None of them ever contains the secret.
var (
	// ErrInvalidKey: no such key, or not a Switchyard key at all.
	ErrInvalidKey = errors.New("invalid API key")
	// ErrExpiredKey: the key passed its expiry or its rotation grace period.
	ErrExpiredKey = errors.New("expired API key")
	// ErrRevokedKey: an administrator revoked the key.
	ErrRevokedKey = errors.New("revoked API key")
	// ErrStoreUnavailable: the key store cannot be reached and the cache
	// cannot answer; the caller should retry (HTTP 503).
	ErrStoreUnavailable = errors.New("key store unavailable")
)

// HTTPStatus maps an Authenticate error to its HTTP status: 401 for key
// problems, 503 when the store is unavailable, 500 otherwise.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrInvalidKey), errors.Is(err, ErrExpiredKey), errors.Is(err, ErrRevokedKey):
		return http.StatusUnauthorized
	case errors.Is(err, ErrStoreUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
