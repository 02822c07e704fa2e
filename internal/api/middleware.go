package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/logging"
)

// ErrorWriter renders an error in a front door's wire shape.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err *llm.Error)

// WithCaller authenticates the caller of each request and stores a
// gateway.RequestInfo in its context. The key may come as
// `Authorization: Bearer <key>` (OpenAI SDKs), `x-api-key` (Anthropic SDKs)
// or `api-key` (Azure-style clients). The request id is taken from the
// X-Request-Id response header that the server's outer layer set.
func WithCaller(a Authenticator, frontDoor string, writeErr ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := PresentedKey(r)
		if secret == "" {
			e := llm.Errorf(http.StatusUnauthorized, "missing API key: send your Switchyard key as `Authorization: Bearer sk-sy-...` (or the x-api-key header)")
			e.Code = "missing_api_key"
			writeErr(w, r, e)
			return
		}
		caller, err := a.Authenticate(r.Context(), secret)
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) {
				le = llm.Errorf(http.StatusUnauthorized, "invalid API key: %v", err)
				le.Code = "invalid_api_key"
			}
			writeErr(w, r, le)
			return
		}
		info := &gateway.RequestInfo{
			ID:         w.Header().Get("X-Request-Id"),
			Caller:     caller,
			FrontDoor:  frontDoor,
			Strategy:   r.Header.Get("X-Switchyard-Strategy"),
			ApprovalID: r.Header.Get("X-Switchyard-Approval-Id"),
		}
		next.ServeHTTP(w, r.WithContext(gateway.WithRequestInfo(r.Context(), info)))
	})
}

// PresentedKey returns the API key a request carries, or "".
func PresentedKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	return strings.TrimSpace(r.Header.Get("Api-Key"))
}

// RequestID gives every request a fresh id of the gateway's own, set on
// the response at once so that every answer, errors included, carries it.
// The id keys the request's usage and audit records, so a client must not
// choose it: a repeated client id would merge records and let a caller
// erase its own trail. A client's X-Request-Id, when short and plain, is
// kept on log lines as client_request_id to correlate with its traces.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := NewRequestID()
		w.Header().Set("X-Request-Id", id)
		ctx := logging.WithRequestID(r.Context(), id)
		if client := r.Header.Get("X-Request-Id"); plainID(client) {
			ctx = logging.WithClientRequestID(ctx, client)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}
