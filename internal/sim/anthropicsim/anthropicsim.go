// Package anthropicsim is a simulated Anthropic Messages API: it speaks the
// wire format the official SDKs expect (headers, bodies, the SSE event
// sequence, error shapes) and takes its answers and faults from a sim.Engine.
package anthropicsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/switchyard/switchyard/internal/sim"
	wire "github.com/switchyard/switchyard/internal/wire/anthropic"
)

// Options configures the fake.
type Options struct {
	// APIKeys are the accepted keys (x-api-key or Authorization: Bearer);
	// empty accepts any non-empty key.
	APIKeys []string
}

type server struct {
	eng  *sim.Engine
	opts Options
	ids  atomic.Int64 // message and tool-use id sequence
}

// New returns the fake's handler: POST /v1/messages (plain and streamed),
// POST /v1/messages/count_tokens, and the engine's control API at /_sim/.
func New(eng *sim.Engine, opts Options) http.Handler {
	s := &server{eng: eng, opts: opts}
	mux := http.NewServeMux()
	mux.Handle("/_sim/", eng.AdminHandler())
	mux.HandleFunc("POST /v1/messages", s.guard(s.messages))
	mux.HandleFunc("POST /v1/messages/count_tokens", s.guard(s.countTokens))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wire.ErrNotFound, fmt.Sprintf("Not found: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// guard sets the request id and checks the headers every call needs.
func (s *server) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", newID("req_"))
		key := presentedKey(r)
		if key == "" || (len(s.opts.APIKeys) > 0 && !slices.Contains(s.opts.APIKeys, key)) {
			writeError(w, http.StatusUnauthorized, wire.ErrAuthentication, "invalid x-api-key")
			return
		}
		if r.Header.Get("anthropic-version") == "" {
			writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "anthropic-version: header is required")
			return
		}
		next(w, r)
	}
}

// presentedKey reads x-api-key, or a bearer token: newer official SDKs
// send the API key as `Authorization: Bearer`, and the API accepts both.
func presentedKey(r *http.Request) string {
	if k := r.Header.Get("x-api-key"); k != "" {
		return k
	}
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

func (s *server) countTokens(w http.ResponseWriter, r *http.Request) {
	body, fault := s.eng.ReadBody(r)
	if body == nil && fault == nil {
		return
	}
	if fault != nil {
		writeFault(w, fault)
		return
	}
	var req wire.MessagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "invalid JSON body: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, wire.CountTokensResponse{InputTokens: max(sim.CountTokens(promptOf(&req).Text), 1)})
}

func (s *server) messages(w http.ResponseWriter, r *http.Request) {
	body, fault := s.eng.ReadBody(r)
	if body == nil && fault == nil {
		return // the client went away
	}
	if fault != nil {
		writeFault(w, fault)
		return
	}
	var req wire.MessagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "invalid JSON body: "+err.Error())
		return
	}
	if msg := validate(&req); msg != "" {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, msg)
		return
	}
	p := promptOf(&req)
	reply := s.eng.Script().Answer(p)
	msg := s.render(&req, reply)
	w.Header().Set("anthropic-ratelimit-requests-remaining", "999")
	w.Header().Set("anthropic-ratelimit-tokens-remaining", "99999")
	if req.Stream {
		s.stream(w, r, msg)
		return
	}
	writeJSON(w, http.StatusOK, msg)
}

func writeFault(w http.ResponseWriter, f *sim.Fault) {
	status := f.Status
	if status == http.StatusServiceUnavailable {
		status = wire.StatusOverloaded // Anthropic says "overloaded" with 529
	}
	if f.RetryAfter > 0 {
		w.Header().Set("retry-after", strconv.Itoa(max(int(f.RetryAfter.Seconds()), 1)))
	}
	writeError(w, status, wire.ErrorTypeForStatus(status), f.Message)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, wire.ErrorResponse{Type: "error", Error: wire.ErrorDetail{Type: typ, Message: msg}, RequestID: w.Header().Get("request-id")})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
