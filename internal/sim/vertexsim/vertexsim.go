// Package vertexsim is a simulated Google Vertex AI: an OAuth token
// endpoint for service-account keys, Gemini generateContent and
// streamGenerateContent, text-embedding predict, and Claude rawPredict,
// all answering from a shared sim.Engine.
package vertexsim

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
)

// Options configure the fake.
type Options struct {
	// Accounts are the service accounts whose JWT assertions the token
	// endpoint accepts (Email and PublicKey are read). Without any, no token
	// is ever issued and every model call is 401.
	Accounts []*ServiceAccount
	// TokenURL is the audience assertions must name. Default: this
	// server's /token URL as the request reached it.
	TokenURL string
	// TokenLifetime is how long an issued token lives. Default: one hour.
	TokenLifetime time.Duration
	// RequireThoughtSignatures makes a model turn whose function call lacks
	// the thoughtSignature the fake sent a 400 for every model. Models whose
	// id starts with "gemini-3" always require it, as Gemini 3 does.
	RequireThoughtSignatures bool
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
}

// New returns the fake's handler: POST /token, POST
// /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/{google|anthropic}/models/{model}:{method},
// and eng.AdminHandler() at /_sim/.
func New(eng *sim.Engine, opts Options) http.Handler {
	t := &tokens{
		accounts: map[string]*rsa.PublicKey{},
		audience: opts.TokenURL,
		lifetime: opts.TokenLifetime,
		now:      opts.Clock,
		issued:   map[string]time.Time{},
	}
	for _, a := range opts.Accounts {
		t.accounts[a.Email] = a.PublicKey
	}
	if t.lifetime <= 0 {
		t.lifetime = time.Hour
	}
	if t.now == nil {
		t.now = time.Now
	}
	s := &server{eng: eng, tokens: t, opts: opts}
	mux := http.NewServeMux()
	mux.Handle("/_sim/", eng.AdminHandler())
	mux.HandleFunc("POST /token", t.serveToken)
	for _, v := range []string{"v1", "v1beta1"} {
		mux.HandleFunc("POST /"+v+"/projects/{project}/locations/{location}/publishers/{publisher}/models/{target}", s.serveModel)
	}
	return mux
}

type server struct {
	eng    *sim.Engine
	tokens *tokens
	opts   Options
}

func (s *server) serveModel(w http.ResponseWriter, r *http.Request) {
	model, method, ok := strings.Cut(r.PathValue("target"), ":")
	if !ok || model == "" {
		writeStatus(w, http.StatusNotFound, "the URL must end in models/{model}:{method}", 0)
		return
	}
	if !s.tokens.valid(r) {
		writeStatus(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", 0)
		return
	}
	body, fault := s.eng.ReadBody(r)
	if fault != nil {
		writeStatus(w, fault.Status, fault.Message, fault.RetryAfter)
		return
	}
	if body == nil {
		return // the client went away
	}
	switch pub := r.PathValue("publisher"); {
	case pub == "google" && method == "generateContent":
		s.generate(w, r, model, body, renderJSON)
	case pub == "google" && method == "streamGenerateContent":
		mode := renderArray
		if r.URL.Query().Get("alt") == "sse" {
			mode = renderSSE
		}
		s.generate(w, r, model, body, mode)
	case pub == "google" && method == "predict":
		s.predict(w, body)
	case pub == "anthropic" && (method == "rawPredict" || method == "streamRawPredict"):
		s.rawPredict(w, r, model, body, method == "streamRawPredict")
	default:
		writeStatus(w, http.StatusNotFound, fmt.Sprintf("Publisher model %s method %q is not found.", model, method), 0)
	}
}

var statusNames = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
	503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}

// writeStatus answers with a google.rpc.Status error body.
func writeStatus(w http.ResponseWriter, code int, msg string, retryAfter time.Duration) {
	name := statusNames[code]
	if name == "" {
		name = "UNKNOWN"
	}
	details := []any{}
	if retryAfter > 0 {
		secs := int((retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		details = append(details, map[string]string{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": strconv.Itoa(secs) + "s"})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": name, "details": details}})
}
