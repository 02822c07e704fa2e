// Package logging builds Switchyard's structured JSON logger: every line
// made with a request's context carries its request id, and attributes
// whose names say they hold a secret are redacted, as a net under the rule
// that no secret is ever logged.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

type (
	requestIDKey       struct{}
	clientRequestIDKey struct{}
)

// WithRequestID returns ctx carrying the request id for log lines.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithClientRequestID returns ctx carrying the id the client sent for its
// request, logged beside the gateway's own.
func WithClientRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, clientRequestIDKey{}, id)
}

// New returns a JSON logger writing to w at level ("debug", "info",
// "warn", "error").
func New(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: redact})
	return slog.New(contextHandler{h})
}

// contextHandler adds the request ids from the record's context.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if id, _ := ctx.Value(clientRequestIDKey{}).(string); id != "" {
		r.AddAttrs(slog.String("client_request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// secretNames are substrings of attribute keys whose values are secrets.
var secretNames = []string{"secret", "password", "token", "api_key", "apikey", "authorization", "credential", "private_key"}

func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range secretNames {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}
