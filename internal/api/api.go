// Package api holds what every front door shares: request ids, caller
// authentication, body limits and provenance headers. The front doors
// themselves live in api/openai (OpenAI-compatible) and api/anthropic
// (Anthropic-compatible); each renders errors in its own wire shape.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// Backend is what a front door needs from the gateway. The caller and the
// request id travel in ctx (gateway.WithRequestInfo).
type Backend interface {
	Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, gateway.Provenance, error)
	ChatStream(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, gateway.Provenance, error)
	Embeddings(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, gateway.Provenance, error)
	// Models returns the aliases the caller in ctx may use.
	Models(ctx context.Context) []string
}

// Authenticator turns a presented secret into a caller.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (*gateway.Caller, error)
}

// DefaultMaxBodyBytes is the request body limit when none is configured.
const DefaultMaxBodyBytes = 10 << 20

// NewRequestID returns a fresh request id: "req_", the time in
// milliseconds as 12 hex digits, then 12 random hex digits. The id keys the
// request's usage and audit records; leading with the time keeps each
// batch of new records on the last pages of those tables' unique indexes,
// which made the SQLite writers about four times cheaper per record.
func NewRequestID() string {
	var b [12]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	var id [4 + 2*len(b)]byte
	copy(id[:], "req_")
	hex.Encode(id[4:], b[:])
	return string(id[:])
}

// SetProvenance writes the provenance headers.
func SetProvenance(h http.Header, p gateway.Provenance) {
	if p.Provider != "" {
		// One backing array for the four values, and names already in
		// canonical form: Set would allocate a slice per header.
		vs := [...]string{p.Provider, p.Deployment, p.Region, p.ModelVersion}
		all := vs[:]
		h["X-Switchyard-Provider"] = all[0:1:1]
		h["X-Switchyard-Deployment"] = all[1:2:2]
		h["X-Switchyard-Region"] = all[2:3:3]
		h["X-Switchyard-Model-Version"] = all[3:4:4]
	}
	if p.Attempts > 0 {
		h.Set("X-Switchyard-Attempts", strconv.Itoa(p.Attempts))
	}
	for k, vs := range p.Headers {
		h[k] = vs
	}
}

// ReadBody reads a request body up to limit bytes. A larger body is a 413,
// an unreadable one a 400; both as *llm.Error.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, llm.Errorf(http.StatusBadRequest, "could not read the request body: %v", err)
	}
	return body, nil
}

func tooLarge(limit int64) *llm.Error {
	e := llm.Errorf(http.StatusRequestEntityTooLarge, "request body is larger than the gateway's limit of %d bytes; send a smaller request or ask the operator to raise server.max_body_bytes", limit)
	e.Code = "request_too_large"
	return e
}
