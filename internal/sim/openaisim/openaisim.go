// Package openaisim is a fake of OpenAI's Chat Completions, Embeddings and
// Models API, faithful enough for the official SDK, driven by a sim.Engine
// (script, faults, record).
//
// Azure's fake (internal/sim/azuresim) reuses its request reading and
// answer rendering: DecodeChat, Answer, Dialect, WriteCompletion,
// WriteStream and Embed.
package openaisim

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
)

// Options configure the fake.
type Options struct {
	// APIKeys are the accepted bearer keys; empty accepts any non-empty key.
	APIKeys []string
	// Models are the models served and listed; empty serves any model and
	// lists DefaultModels.
	Models []string
}

// DefaultModels are listed by GET /v1/models when Options.Models is empty.
var DefaultModels = []string{"gpt-4o", "gpt-4o-mini", "text-embedding-3-small"}

// Rate-limit figures the fake reports in x-ratelimit-* headers.
const (
	limitRequests = 10000
	limitTokens   = 2000000
)

type server struct {
	eng  *sim.Engine
	opts Options
	seq  atomic.Int64 // numbers request ids and completion ids
}

// New returns the fake's handler: /v1/chat/completions, /v1/embeddings,
// /v1/models, /v1/models/{id}, and the engine's admin API at /_sim/.
func New(eng *sim.Engine, opts Options) http.Handler {
	s := &server{eng: eng, opts: opts}
	mux := http.NewServeMux()
	mux.Handle("/_sim/", eng.AdminHandler())
	mux.HandleFunc("POST /v1/chat/completions", s.authed(s.chat))
	mux.HandleFunc("POST /v1/embeddings", s.authed(s.embeddings))
	mux.HandleFunc("GET /v1/models", s.authed(s.listModels))
	mux.HandleFunc("GET /v1/models/{id}", s.authed(s.getModel))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		(&APIError{Status: http.StatusNotFound, Type: "invalid_request_error",
			Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)}).Write(w)
	})
	return mux
}

// authed checks the bearer key before the handler runs, as OpenAI does
// before it reads the body, and stamps the headers every answer carries.
func (s *server) authed(next func(http.ResponseWriter, *http.Request, int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := s.seq.Add(1)
		StampHeaders(w.Header(), n)
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(key) == "" {
			(&APIError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
				Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."}).Write(w)
			return
		}
		if !KeyAccepted(s.opts.APIKeys, key) {
			(&APIError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
				Message: "Incorrect API key provided: " + redact(key) + ". You can find your API key at https://platform.openai.com/account/api-keys."}).Write(w)
			return
		}
		next(w, r, n)
	}
}

// KeyAccepted reports whether key is one of keys, or any key when keys is empty.
func KeyAccepted(keys []string, key string) bool {
	if key == "" {
		return false
	}
	if len(keys) == 0 {
		return true
	}
	for _, k := range keys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			return true
		}
	}
	return false
}

// redact shows a key as OpenAI does: its first and last few characters.
func redact(key string) string {
	if len(key) <= 8 {
		return "****"
	}
	return key[:3] + "*****" + key[len(key)-4:]
}

// StampHeaders sets the request id and rate-limit headers of answer n.
func StampHeaders(h http.Header, n int64) {
	h.Set("X-Request-Id", fmt.Sprintf("req_sim%016x", n))
	h.Set("Openai-Processing-Ms", "12")
	h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(limitRequests))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(limitRequests-1-(n-1)%limitRequests, 10))
	h.Set("X-Ratelimit-Reset-Requests", "6ms")
	h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(limitTokens))
	h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(limitTokens-1000))
	h.Set("X-Ratelimit-Reset-Tokens", "30ms")
}

// serves reports whether the fake serves model.
func (s *server) serves(model string) bool {
	return len(s.opts.Models) == 0 || slices.Contains(s.opts.Models, model)
}

func modelNotFound(model string) *APIError {
	return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found", Param: "model",
		Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model)}
}

func (s *server) chat(w http.ResponseWriter, r *http.Request, n int64) {
	body, fault := s.eng.ReadBody(r)
	if fault != nil {
		FaultError(fault).Write(w)
		return
	}
	if body == nil {
		return // the client went away during injected latency
	}
	req, apiErr := DecodeChat(body)
	if apiErr != nil {
		apiErr.Write(w)
		return
	}
	if !s.serves(req.Model) {
		modelNotFound(req.Model).Write(w)
		return
	}
	a := Answer{
		ID: fmt.Sprintf("chatcmpl-sim%08d", n), Created: time.Now().Unix(), Model: req.Model,
		Reply: s.eng.Script().Answer(req.Prompt()), IncludeUsage: req.IncludeUsage(),
	}
	if req.Stream {
		WriteStream(w, r, s.eng, a, Dialect{})
		return
	}
	WriteCompletion(w, a, Dialect{})
}

func (s *server) embeddings(w http.ResponseWriter, r *http.Request, _ int64) {
	body, fault := s.eng.ReadBody(r)
	if fault != nil {
		FaultError(fault).Write(w)
		return
	}
	if body == nil {
		return
	}
	resp, apiErr := Embed(body, s.serves)
	if apiErr != nil {
		apiErr.Write(w)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

// modelCreated is the fixed creation time the fake lists models with.
const modelCreated = 1715367049

func (s *server) models() []string {
	if len(s.opts.Models) == 0 {
		return DefaultModels
	}
	return s.opts.Models
}

func modelObject(id string) map[string]any {
	return map[string]any{"id": id, "object": "model", "created": modelCreated, "owned_by": "system"}
}

func (s *server) listModels(w http.ResponseWriter, _ *http.Request, _ int64) {
	data := []map[string]any{}
	for _, m := range s.models() {
		data = append(data, modelObject(m))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *server) getModel(w http.ResponseWriter, r *http.Request, _ int64) {
	id := r.PathValue("id")
	if !slices.Contains(s.models(), id) {
		modelNotFound(id).Write(w)
		return
	}
	WriteJSON(w, http.StatusOK, modelObject(id))
}
