package telemetry

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator reads W3C traceparent and tracestate headers.
var propagator = propagation.TraceContext{}

// Attribute keys of the server span, from OpenTelemetry's HTTP conventions.
const (
	attrMethod = attribute.Key("http.request.method")
	attrPath   = attribute.Key("url.path")
	attrRoute  = attribute.Key("http.route")
)

// TraceMiddleware continues the caller's trace: it reads the W3C
// traceparent of the incoming request and starts a server span under it,
// so that the gateway-call span of the request is its child. Health,
// readiness and metrics scrapes get no span. Wrap the whole server
// handler with it, outside request ids and authentication, so that
// refused requests are traced too.
func TraceMiddleware(tp trace.TracerProvider, next http.Handler) http.Handler {
	tracer := tp.Tracer(instrumentationName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		if quietPath(r.URL.Path) {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		// Named by method alone until the route is known: paths hold ids.
		ctx, span := tracer.Start(ctx, r.Method,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attrMethod.String(r.Method), attrPath.String(r.URL.Path)))
		defer span.End()
		rec := &statusWriter{ResponseWriter: w}
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)
		if r.Pattern != "" { // set when next is the ServeMux itself
			route := r.Pattern
			if i := strings.IndexByte(route, ' '); i >= 0 {
				route = route[i+1:]
			}
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attrRoute.String(route))
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attrStatus.Int(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

func quietPath(p string) bool {
	return p == "/healthz" || p == "/readyz" || p == "/metrics"
}

// statusWriter remembers the response status. Unwrap lets
// http.ResponseController reach the real writer's Flush, so streams stay
// unbuffered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush serves handlers that assert http.Flusher instead of using
// http.ResponseController.
func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
