// Package azuresim is a fake of Azure OpenAI: the classic deployments API
// with its required api-version, the v1 API, api-key and Entra ID bearer
// authentication (with its own token endpoint), content filter
// annotations and refusals, and Azure's error shapes. It renders answers
// with openaisim and is driven by the same sim.Engine.
package azuresim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
)

// Options configure the fake.
type Options struct {
	// APIKeys are the accepted api-key values; empty accepts any non-empty key.
	APIKeys []string
	// Deployments are the deployment names served; empty serves any name.
	Deployments []string
	// TenantID is the tenant the token endpoint serves; empty serves any.
	TenantID string
	// ClientID and ClientSecret are the Entra app the token endpoint
	// accepts; with an empty ClientID it issues no tokens.
	ClientID     string
	ClientSecret string
	// TokenTTL is the lifetime of issued tokens. Default one hour.
	TokenTTL time.Duration
	// Now is the fake's clock for token expiry; nil means time.Now.
	Now func() time.Time
	// FilterWords make a prompt containing any of them (case-insensitive)
	// fail with Azure's 400 content_filter answer.
	FilterWords []string
}

// Server is the fake. It implements http.Handler.
type Server struct {
	eng   *sim.Engine
	opts  Options
	mux   *http.ServeMux
	admin http.Handler
	seq   atomic.Int64

	mu     sync.Mutex
	tokens map[string]time.Time // issued token -> expiry; guarded by mu
	issued int                  // guarded by mu
}

var apiVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// New returns the fake. Routes: POST /openai/deployments/{d}/chat/completions
// and /embeddings (?api-version= required), POST /openai/v1/chat/completions
// and /openai/v1/embeddings, POST /{tenant}/oauth2/v2.0/token, and the
// engine's admin API at /_sim/.
func New(eng *sim.Engine, opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{eng: eng, opts: opts, tokens: map[string]time.Time{}}
	s.admin = eng.AdminHandler()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.classic(s.chat))
	mux.HandleFunc("POST /openai/deployments/{deployment}/embeddings", s.classic(s.embeddings))
	mux.HandleFunc("POST /openai/v1/chat/completions", s.v1(s.chat))
	mux.HandleFunc("POST /openai/v1/embeddings", s.v1(s.embeddings))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "404", "Resource not found")
	})
	s.mux = mux
	return s
}

// ServeHTTP serves the fake.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The admin API is dispatched first: its /_sim/ prefix would clash
	// with the token endpoint's /{tenant}/ pattern in one mux.
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// TokensIssued returns how many Entra tokens the token endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// call is one authorised model call: which deployment, through which API.
type call struct {
	deployment string // "" for v1: the body's model names it
	apiVersion string
	n          int64
}

// classic checks the deployments path's api-version, then authorisation.
func (s *Server) classic(next func(http.ResponseWriter, *http.Request, call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := s.stamp(w)
		v := r.URL.Query().Get("api-version")
		if v == "" {
			// Azure answers a missing api-version as an unknown resource.
			writeError(w, http.StatusNotFound, "404", "Resource not found")
			return
		}
		if !apiVersionPattern.MatchString(v) {
			writeError(w, http.StatusBadRequest, "BadRequest", "API version not supported")
			return
		}
		if !s.authorised(w, r, false) {
			return
		}
		next(w, r, call{deployment: r.PathValue("deployment"), apiVersion: v, n: n})
	}
}

// v1 checks authorisation on the v1 API, which also takes the key as a
// bearer token (unconfirmed: implied by Azure's v1 samples).
func (s *Server) v1(next func(http.ResponseWriter, *http.Request, call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := s.stamp(w)
		if !s.authorised(w, r, true) {
			return
		}
		next(w, r, call{apiVersion: "v1", n: n})
	}
}

func (s *Server) stamp(w http.ResponseWriter) int64 {
	n := s.seq.Add(1)
	openaisim.StampHeaders(w.Header(), n)
	w.Header().Set("Apim-Request-Id", fmt.Sprintf("00000000-0000-4000-8000-%012x", n))
	return n
}

// authorised accepts an api-key, or a bearer token this fake issued (or,
// on v1, an API key as bearer). Both at once is refused: a client that
// sends two credentials is confused about which one it means.
func (s *Server) authorised(w http.ResponseWriter, r *http.Request, keyAsBearer bool) bool {
	key := r.Header.Get("Api-Key")
	bearer, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case key != "" && hasBearer:
		writeError(w, http.StatusUnauthorized, "401", "Send either an api-key header or an Authorization bearer token, not both.")
		return false
	case key != "":
		if openaisim.KeyAccepted(s.opts.APIKeys, key) {
			return true
		}
		writeError(w, http.StatusUnauthorized, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
		return false
	case hasBearer:
		if s.validToken(bearer) || (keyAsBearer && openaisim.KeyAccepted(s.opts.APIKeys, bearer)) {
			return true
		}
		writeError(w, http.StatusUnauthorized, "401", "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.")
		return false
	default:
		writeError(w, http.StatusUnauthorized, "401", "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.")
		return false
	}
}

func (s *Server) validToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.opts.Now().Before(exp)
}

func (s *Server) serves(deployment string) bool {
	return len(s.opts.Deployments) == 0 || slices.Contains(s.opts.Deployments, deployment)
}

func deploymentNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "DeploymentNotFound",
		"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.")
}
