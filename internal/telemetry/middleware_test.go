package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func TestTraceMiddleware(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v1/models/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream broke", http.StatusBadGateway)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		// Both ways handlers flush must reach the real writer.
		w.(http.Flusher).Flush()
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush through the middleware: %v", err)
		}
	})
	tests := []struct {
		desc       string
		method     string
		path       string
		wantSpans  int
		wantName   string
		wantStatus codes.Code
		wantAttrs  map[attribute.Key]any
	}{
		{desc: "front door call", method: http.MethodPost, path: "/v1/chat/completions", wantSpans: 1,
			wantName: "POST /v1/chat/completions", wantStatus: codes.Unset,
			wantAttrs: map[attribute.Key]any{attrStatus: int64(200), attrRoute: "/v1/chat/completions", attrMethod: "POST"}},
		{desc: "server error, route names the span not the path", method: http.MethodGet, path: "/v1/models/gpt-4o", wantSpans: 1,
			wantName: "GET /v1/models/{id}", wantStatus: codes.Error,
			wantAttrs: map[attribute.Key]any{attrStatus: int64(502), attrPath: "/v1/models/gpt-4o"}},
		{desc: "stream flushes", method: http.MethodGet, path: "/stream", wantSpans: 1, wantName: "GET /stream",
			wantAttrs: map[attribute.Key]any{attrStatus: int64(200)}},
		{desc: "metrics scrape is not traced", method: http.MethodGet, path: "/metrics", wantSpans: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tr, exp := newRecorded(t, TracingOptions{})
			rec := httptest.NewRecorder()
			TraceMiddleware(tr.TracerProvider(), mux).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			spans := exp.GetSpans()
			if len(spans) != tt.wantSpans {
				t.Fatalf("recorded %d spans, want %d", len(spans), tt.wantSpans)
			}
			if tt.path == "/stream" && !rec.Flushed {
				t.Error("the flush did not reach the response writer")
			}
			if tt.wantSpans == 0 {
				return
			}
			s := spans[0]
			if s.Name != tt.wantName || s.SpanKind != trace.SpanKindServer || s.Status.Code != tt.wantStatus {
				t.Errorf("span = %q %v %v, want %q server %v", s.Name, s.SpanKind, s.Status.Code, tt.wantName, tt.wantStatus)
			}
			checkAttrs(t, s, tt.wantAttrs)
		})
	}
}
