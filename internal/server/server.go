// Package server assembles Switchyard's HTTP surface: the front doors
// behind request ids and authentication, the admin API, health and
// metrics endpoints, and a server that drains gracefully on shutdown.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/switchyard/switchyard/internal/api"
	"github.com/switchyard/switchyard/internal/llm"
)

// Routes are the parts the server mounts; nil parts are not served.
type Routes struct {
	// OpenAI is the OpenAI-compatible front door, mounted at /v1/.
	OpenAI http.Handler
	// OpenAIError renders errors for /v1/ (before the front door runs).
	OpenAIError api.ErrorWriter
	// Anthropic is the Anthropic-compatible front door, at /v1/messages.
	Anthropic      http.Handler
	AnthropicError api.ErrorWriter
	// Auth authenticates front-door callers; required with a front door.
	Auth api.Authenticator
	// Admin is the admin API, mounted at /admin/ (it authenticates itself).
	Admin http.Handler
	// MCP is the MCP gateway endpoint, mounted at /mcp (authenticated).
	MCP http.Handler
	// Console is the web console, mounted at /console/.
	Console http.Handler
	// Metrics serves /metrics.
	Metrics http.Handler
	// Ready reports readiness problems; none means ready.
	Ready func(ctx context.Context) map[string]string
}

// Handler returns the whole HTTP surface.
func Handler(rt Routes, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var problems map[string]string
		if rt.Ready != nil {
			problems = rt.Ready(r.Context())
		}
		if len(problems) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "problems": problems})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if rt.Metrics != nil {
		mux.Handle("GET /metrics", rt.Metrics)
	}
	if rt.OpenAI != nil {
		mux.Handle("/v1/", api.WithCaller(rt.Auth, "openai", rt.OpenAIError, rt.OpenAI))
	}
	if rt.Anthropic != nil {
		h := api.WithCaller(rt.Auth, "anthropic", rt.AnthropicError, rt.Anthropic)
		mux.Handle("/v1/messages", h)
		mux.Handle("/v1/messages/", h)
	}
	if rt.MCP != nil {
		mux.Handle("/mcp", api.WithCaller(rt.Auth, "mcp", rt.OpenAIError, rt.MCP))
	}
	if rt.Admin != nil {
		mux.Handle("/admin/", rt.Admin)
	}
	if rt.Console != nil {
		mux.Handle("/console/", rt.Console)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e := llm.Errorf(http.StatusNotFound, "no such endpoint %s %s; the API is under /v1/", r.Method, r.URL.Path)
		if rt.OpenAIError != nil {
			rt.OpenAIError(w, r, e)
			return
		}
		http.NotFound(w, r)
	})
	return api.RequestID(recoverer(log, accessLog(log, mux)))
}

// recoverer turns a panic into a 500 with a JSON body: a client never
// sees a Go stack trace, the log does.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]any{
					"message": "internal gateway error; the request id in x-request-id identifies it in the gateway's logs",
					"type":    llm.TypeAPI, "param": nil, "code": nil,
				}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status for the access log and passes
// flushes through, so streams stay unbuffered.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer's Flush.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			return
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("provider", w.Header().Get("X-Switchyard-Provider")),
			slog.String("deployment", w.Header().Get("X-Switchyard-Deployment")))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeOptions tunes Serve.
type ServeOptions struct {
	ReadHeaderTimeout time.Duration
	// DrainTimeout bounds the wait for in-flight requests at shutdown.
	DrainTimeout time.Duration
	Logger       *slog.Logger
}

// Serve serves h on ln until ctx is done, then stops accepting, lets
// in-flight requests and streams finish for up to DrainTimeout, closes
// what is left, and returns nil.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServeOptions) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	opts.Logger.Info("shutting down: draining in-flight requests", "drain_timeout", opts.DrainTimeout.String())
	dctx, cancel := context.WithTimeout(context.Background(), opts.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(dctx)
	if errors.Is(err, context.DeadlineExceeded) {
		opts.Logger.Warn("drain timeout reached; closing remaining connections")
		err = srv.Close()
	}
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
		return e
	}
	return err
}
