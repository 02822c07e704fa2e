// Package anthropic is Switchyard's Anthropic-compatible front door: it
// serves the Messages API (POST /v1/messages, streamed or not, and
// POST /v1/messages/count_tokens) to Anthropic SDK clients, translating to
// and from the canonical types so that any backend can answer.
//
// The server mounts it behind api.RequestID and api.WithCaller, passing
// WriteError so that authentication failures come in Anthropic's shape too.
package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/api"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
	wire "github.com/switchyard/switchyard/internal/wire/anthropic"
)

// FrontDoor is the name this front door gives api.WithCaller.
const FrontDoor = "anthropic"

// Options configures the front door.
type Options struct {
	// MaxBodyBytes bounds a request body; larger ones get 413
	// request_too_large. Default api.DefaultMaxBodyBytes (10 MiB).
	MaxBodyBytes int64
}

type handler struct {
	backend api.Backend
	opts    Options
}

// New returns the front door's handler.
func New(b api.Backend, opts Options) http.Handler {
	h := &handler{backend: b, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", h.messages)
	mux.HandleFunc("POST /v1/messages/count_tokens", h.countTokens)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/messages" || r.URL.Path == "/v1/messages/count_tokens" {
			w.Header().Set("Allow", http.MethodPost)
			WriteError(w, r, llm.Errorf(http.StatusMethodNotAllowed, "%s %s is not supported; use POST", r.Method, r.URL.Path))
			return
		}
		WriteError(w, r, llm.Errorf(http.StatusNotFound, "%s is not part of the Anthropic-compatible API; this gateway serves POST /v1/messages and POST /v1/messages/count_tokens", r.URL.Path))
	})
	return recoverer(mux)
}

// WriteError renders err as an Anthropic error body with its status, the
// request id in request-id (which Anthropic SDKs report), and retry-after
// for throttling. It is the api.ErrorWriter of this front door.
func WriteError(w http.ResponseWriter, r *http.Request, err *llm.Error) {
	id := w.Header().Get("X-Request-Id")
	if id != "" {
		w.Header().Set("request-id", id)
	}
	if err.RetryAfter > 0 {
		w.Header().Set("retry-after", strconv.Itoa(int(math.Ceil(err.RetryAfter.Seconds()))))
	}
	writeJSON(w, err.Status, wire.ErrorBody(err, id))
}

var _ api.ErrorWriter = WriteError

// decode reads and decodes a Messages request; body is as it came.
func (h *handler) decode(w http.ResponseWriter, r *http.Request) (req *wire.MessagesRequest, body []byte, ok bool) {
	body, err := api.ReadBody(w, r, h.opts.MaxBodyBytes)
	if err != nil {
		WriteError(w, r, llm.AsError(err))
		return nil, nil, false
	}
	req = new(wire.MessagesRequest)
	if err := json.Unmarshal(body, req); err != nil {
		WriteError(w, r, llm.BadRequest("", "the request body is not a valid Messages request: %v", err))
		return nil, nil, false
	}
	return req, body, true
}

func (h *handler) messages(w http.ResponseWriter, r *http.Request) {
	mreq, body, ok := h.decode(w, r)
	if !ok {
		return
	}
	req, err := wire.ToChat(mreq)
	if err != nil {
		WriteError(w, r, llm.AsError(err))
		return
	}
	req.SetBody(body)
	if req.Stream {
		h.stream(w, r, req)
		return
	}
	resp, prov, err := h.backend.Chat(r.Context(), req)
	api.SetProvenance(w.Header(), prov)
	if err != nil {
		WriteError(w, r, llm.AsError(err))
		return
	}
	out, err := wire.FromChatResponse(resp)
	if err != nil {
		WriteError(w, r, llm.AsError(err))
		return
	}
	if out.Model == "" {
		out.Model = req.Model
	}
	if id := w.Header().Get("X-Request-Id"); id != "" {
		w.Header().Set("request-id", id)
	}
	writeJSON(w, http.StatusOK, out)
}

// stream relays the backend's chunks as Messages events, flushing each.
// An error after the first byte becomes an `error` event with no
// message_stop after it, so SDKs raise it instead of ending normally.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, req *llm.ChatRequest) {
	s, prov, err := h.backend.ChatStream(r.Context(), req)
	api.SetProvenance(w.Header(), prov)
	if err != nil {
		WriteError(w, r, llm.AsError(err))
		return
	}
	defer s.Close()
	id := w.Header().Get("X-Request-Id")
	if id != "" {
		w.Header().Set("request-id", id)
	}
	sse.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(w)
	enc := wire.NewEventEncoder("msg_"+strings.TrimPrefix(id, "req_"), req.Model)
	// The events of one chunk, and of chunks that arrived together, leave
	// in one write; a flush comes before every Next that may wait, so
	// none is held back.
	write := func(evs []wire.Event) bool {
		for _, ev := range evs {
			if sw.Buffer(ev.Name, ev.Data) != nil {
				return false // the client went away; the deferred Close cancels upstream
			}
		}
		return llm.Ready(s) || sw.Flush() == nil
	}
	for {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			if write(enc.Finish()) {
				_ = sw.Flush()
			}
			return
		}
		if err != nil {
			if r.Context().Err() != nil {
				return
			}
			ev := enc.Error(llm.AsError(err))
			_ = sw.WriteEvent(ev.Name, ev.Data)
			return
		}
		if !write(enc.Chunk(c)) {
			return
		}
	}
}

// countTokens answers with a cheap estimate, not a tokenizer's count: one
// token per 4 bytes of the prompt's text, tool definitions included, and
// at least 1. It never calls a backend, so it costs nothing and works for
// every model alias.
func (h *handler) countTokens(w http.ResponseWriter, r *http.Request) {
	req, _, ok := h.decode(w, r)
	if !ok {
		return
	}
	if req.Model == "" {
		WriteError(w, r, llm.BadRequest("model", "model is required"))
		return
	}
	writeJSON(w, http.StatusOK, wire.CountTokensResponse{InputTokens: EstimateTokens(req)})
}

// EstimateTokens is count_tokens' estimate for a request.
func EstimateTokens(req *wire.MessagesRequest) int {
	n := 0
	if req.System != nil {
		n += contentBytes(*req.System)
	}
	for _, m := range req.Messages {
		n += contentBytes(m.Content)
	}
	for _, t := range req.Tools {
		n += len(t.Name) + len(t.Description) + len(t.InputSchema)
	}
	return max((n+3)/4, 1)
}

func contentBytes(c wire.Content) int {
	if c.Blocks == nil {
		return len(c.Text)
	}
	n := 0
	for _, b := range c.Blocks {
		n += len(b.Text) + len(b.Thinking) + len(b.Name) + len(b.Input)
		if b.ResultContent != nil {
			n += contentBytes(*b.ResultContent)
		}
		if b.Type == wire.BlockImage {
			n += 1600 * 4 // about what Anthropic bills for a mid-size image
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(wire.ErrorBody(llm.AsError(err), ""))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// recoverer turns a panic into an Anthropic-shaped 500 instead of a
// dropped connection or a stack trace.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				WriteError(w, r, llm.AsError(errors.New("panic")))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
