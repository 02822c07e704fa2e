// Package openai is Switchyard's OpenAI-compatible front door: the Chat
// Completions, Embeddings and Models endpoints, byte-compatible with what
// the official OpenAI SDKs send and expect, errors included.
package openai

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/switchyard/switchyard/internal/api"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
)

// Options tunes the front door.
type Options struct {
	// MaxBodyBytes caps request bodies (413 beyond). Default 10 MiB.
	MaxBodyBytes int64
	// Logger is non-nil.
	Logger *slog.Logger
}

// Handler serves /v1/chat/completions, /v1/embeddings and /v1/models.
// Authentication happens before it (api.WithCaller with WriteError).
type Handler struct {
	backend api.Backend
	opts    Options
	mux     *http.ServeMux
}

// New returns the front door over b.
func New(b api.Backend, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{backend: b, opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/chat/completions", h.chat)
	h.mux.HandleFunc("POST /v1/embeddings", h.embeddings)
	h.mux.HandleFunc("GET /v1/models", h.models)
	h.mux.HandleFunc("GET /v1/models/{id...}", h.model)
	h.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, llm.Errorf(http.StatusNotFound, "unknown endpoint %s %s: Switchyard serves POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models", r.Method, r.URL.Path))
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	body, err := api.ReadBody(w, r, h.opts.MaxBodyBytes)
	if err != nil {
		WriteError(w, r, llm.AsError(err))
		return
	}
	req, lerr := DecodeChatRequest(body)
	if lerr != nil {
		WriteError(w, r, lerr)
		return
	}
	if req.Stream {
		h.stream(w, r, req)
		return
	}
	resp, prov, err := h.backend.Chat(r.Context(), req)
	api.SetProvenance(w.Header(), prov)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if b := resp.Wire(); b != nil {
		writeBody(w, http.StatusOK, b)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) stream(w http.ResponseWriter, r *http.Request, req *llm.ChatRequest) {
	s, prov, err := h.backend.ChatStream(r.Context(), req)
	api.SetProvenance(w.Header(), prov)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer s.Close()
	sse.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	out := sse.NewWriter(w)
	includeUsage := req.IncludeUsage()
	for {
		chunk, err := s.Next()
		if errors.Is(err, io.EOF) {
			_ = out.WriteData([]byte("[DONE]"))
			return
		}
		if err != nil {
			// The answer was cut short: say so in a way the SDKs raise as
			// an error, and never end it like a complete answer.
			if r.Context().Err() == nil {
				h.opts.Logger.WarnContext(r.Context(), "stream ended with an error", "request_id", w.Header().Get("X-Request-Id"), "error", err)
				_ = out.WriteData(errorBody(llm.AsError(err)))
			}
			return
		}
		if len(chunk.Choices) == 0 && chunk.Usage != nil && !includeUsage {
			continue // usage the client did not ask for
		}
		b := chunk.Wire()
		if b == nil {
			b, err = marshalChunk(chunk, includeUsage)
		}
		if err != nil {
			h.opts.Logger.ErrorContext(r.Context(), "encoding chunk", "error", err)
			return
		}
		// Chunks that arrived together leave in one write; a flush comes
		// before every Next that may wait, so none is held back.
		if llm.Ready(s) {
			err = out.Buffer("", b)
		} else {
			err = out.WriteData(b)
		}
		if err != nil {
			return // client gone; the deferred Close cancels upstream
		}
	}
}

// marshalChunk encodes a chunk; with include_usage, OpenAI sends
// "usage":null on every chunk but the last.
func marshalChunk(c *llm.ChatChunk, includeUsage bool) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil || !includeUsage || c.Usage != nil {
		return b, err
	}
	b = b[:len(b)-1]
	return append(b, `,"usage":null}`...), nil
}

func (h *Handler) embeddings(w http.ResponseWriter, r *http.Request) {
	body, err := api.ReadBody(w, r, h.opts.MaxBodyBytes)
	if err != nil {
		WriteError(w, r, llm.AsError(err))
		return
	}
	var req llm.EmbeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		WriteError(w, r, decodeError(err))
		return
	}
	if req.Model == "" {
		WriteError(w, r, llm.BadRequest("model", "you must provide a model parameter"))
		return
	}
	if req.Input.Len() == 0 {
		WriteError(w, r, llm.BadRequest("input", "input must be a non-empty string or array"))
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		WriteError(w, r, llm.BadRequest("encoding_format", "encoding_format must be \"float\" or \"base64\", not %q", req.EncodingFormat))
		return
	}
	resp, prov, err := h.backend.Embeddings(r.Context(), &req)
	api.SetProvenance(w.Header(), prov)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// created is a fixed timestamp: aliases have no creation time of their own,
// and a changing one would make the listing look different on every call.
var created = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func (h *Handler) models(w http.ResponseWriter, r *http.Request) {
	aliases := h.backend.Models(r.Context())
	data := make([]modelObject, 0, len(aliases))
	for _, a := range aliases {
		data = append(data, modelObject{ID: a, Object: "model", Created: created, OwnedBy: "switchyard"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, a := range h.backend.Models(r.Context()) {
		if a == id {
			writeJSON(w, http.StatusOK, modelObject{ID: a, Object: "model", Created: created, OwnedBy: "switchyard"})
			return
		}
	}
	WriteError(w, r, llm.Errorf(http.StatusNotFound, "The model '%s' does not exist or your key may not use it", id).WithCode("model_not_found"))
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := llm.AsError(err)
	if e.Status >= 500 {
		h.opts.Logger.WarnContext(r.Context(), "request failed", "request_id", w.Header().Get("X-Request-Id"), "status", e.Status, "error", err)
	}
	WriteError(w, r, e)
}

// DecodeChatRequest parses and checks a chat completion body, returning an
// error that names the offending field.
func DecodeChatRequest(body []byte) (*llm.ChatRequest, *llm.Error) {
	var req llm.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, decodeError(err)
	}
	req.SetBody(body)
	if req.Model == "" {
		return nil, llm.BadRequest("model", "you must provide a model parameter")
	}
	if len(req.Messages) == 0 {
		return nil, llm.BadRequest("messages", "messages must be a non-empty array of chat messages")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper, llm.RoleUser, llm.RoleAssistant, llm.RoleTool:
		case "":
			return nil, llm.BadRequest(fmt.Sprintf("messages[%d].role", i), "messages[%d] has no role", i)
		default:
			return nil, llm.BadRequest(fmt.Sprintf("messages[%d].role", i), "messages[%d].role %q is not one of system, developer, user, assistant, tool", i, m.Role)
		}
		if m.Role == llm.RoleTool && m.ToolCallID == "" {
			return nil, llm.BadRequest(fmt.Sprintf("messages[%d].tool_call_id", i), "messages[%d] is a tool result without tool_call_id", i)
		}
	}
	if req.N != nil && (*req.N < 1 || *req.N > 128) {
		return nil, llm.BadRequest("n", "n must be between 1 and 128")
	}
	if req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2) {
		return nil, llm.BadRequest("temperature", "temperature must be between 0 and 2")
	}
	if req.TopP != nil && (*req.TopP < 0 || *req.TopP > 1) {
		return nil, llm.BadRequest("top_p", "top_p must be between 0 and 1")
	}
	for _, p := range []struct {
		name string
		v    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if p.v != nil && *p.v < 1 {
			return nil, llm.BadRequest(p.name, "%s must be at least 1", p.name)
		}
	}
	if req.StreamOptions != nil && !req.Stream {
		return nil, llm.BadRequest("stream_options", "stream_options is only allowed when stream is true")
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "json_object":
		case "json_schema":
			if rf.JSONSchema == nil || rf.JSONSchema.Name == "" {
				return nil, llm.BadRequest("response_format.json_schema", "response_format of type json_schema needs json_schema.name and json_schema.schema")
			}
		default:
			return nil, llm.BadRequest("response_format.type", "response_format.type %q is not one of text, json_object, json_schema", rf.Type)
		}
	}
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			return nil, llm.BadRequest(fmt.Sprintf("tools[%d]", i), "tools[%d] must be {\"type\":\"function\",\"function\":{\"name\":...}}", i)
		}
	}
	return &req, nil
}

// decodeError turns a JSON decoding error into a message a person can act on.
func decodeError(err error) *llm.Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return llm.BadRequest("", "the request body is not valid JSON (at byte %d): %v", syn.Offset, err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return llm.BadRequest("", "the request body must be a JSON object, not %s", typ.Value)
		}
		return llm.BadRequest(field, "invalid type for '%s': expected %s, got %s", field, typeName(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return llm.BadRequest("", "the request body is truncated JSON")
	default:
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "json: ")
		return llm.BadRequest("", "the request body could not be parsed: %s", msg)
	}
}

func typeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	default:
		return "an object"
	}
}

// errorObject is OpenAI's error body.
type errorObject struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func errorBody(e *llm.Error) []byte {
	d := errorDetail{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		d.Param = &e.Param
	}
	if e.Code != "" {
		d.Code = &e.Code
	}
	b, _ := json.Marshal(errorObject{Error: d})
	return b
}

// WriteError writes e as OpenAI's error JSON with its status, and
// retry-after headers for throttling and overload.
func WriteError(w http.ResponseWriter, _ *http.Request, e *llm.Error) {
	h := w.Header()
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", fmt.Sprint(secs))
		h.Set("Retry-After-Ms", fmt.Sprint(e.RetryAfter.Milliseconds()))
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(e.Status)
	_, _ = w.Write(errorBody(e))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, nil, llm.AsError(err))
		return
	}
	writeBody(w, status, b)
}

// writeBody sends b, a JSON document, with status.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var _ http.Handler = (*Handler)(nil)
