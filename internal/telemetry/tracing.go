package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchyard/switchyard/internal/gateway"
)

// instrumentationName names the tracer, as OpenTelemetry asks: the
// instrumenting package's import path.
const instrumentationName = "github.com/switchyard/switchyard/internal/telemetry"

// defaultTracesPath is where OTLP/HTTP collectors take traces.
const defaultTracesPath = "/v1/traces"

// TracingOptions configures NewTracing.
type TracingOptions struct {
	// Endpoint is the OTLP/HTTP collector's URL, such as
	// "http://otel-collector:4318"; without a path, /v1/traces is used.
	// Empty means tracing is off: a no-op provider, no spans, no cost
	// beyond a nil check. The exporter also honours the standard
	// OTEL_EXPORTER_OTLP_* environment variables (TLS, timeouts).
	Endpoint string `yaml:"endpoint"`
	// Headers are sent with every export, for collectors that need
	// credentials; or nil.
	Headers map[string]string `yaml:"headers"`
	// ServiceName is the service.name resource attribute. Default
	// "switchyard".
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of new traces recorded, in (0, 1]; a
	// request arriving with a sampled traceparent is always recorded.
	// Default 1 (0 means the default).
	SampleRatio float64 `yaml:"sample_ratio"`
	// SpanProcessor receives every span besides the OTLP exporter, or
	// instead of it when Endpoint is empty; tests pass one over
	// tracetest.InMemoryExporter. Or nil.
	SpanProcessor sdktrace.SpanProcessor `yaml:"-"`
}

// Validate reports every problem in the options.
func (o TracingOptions) Validate() error {
	var errs []error
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("sample_ratio: %v is not within 0 to 1; use 1 to record every trace, 0.1 for one in ten", o.SampleRatio))
	}
	if o.Endpoint != "" {
		if _, err := tracesURL(o.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %w", err))
		}
	}
	return errors.Join(errs...)
}

// tracesURL is endpoint with the default traces path when it has none.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL; write it like http://otel-collector:4318", endpoint)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = defaultTracesPath
	}
	return u.String(), nil
}

// Tracing owns the tracer provider of the gateway's spans.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // or nil when tracing is off
}

// NewTracing returns tracing as configured. It does not contact the
// collector; exports happen in the background and on Shutdown.
func NewTracing(ctx context.Context, opts TracingOptions) (*Tracing, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if opts.Endpoint == "" && opts.SpanProcessor == nil {
		return &Tracing{provider: noop.NewTracerProvider()}, nil
	}
	if opts.ServiceName == "" {
		opts.ServiceName = "switchyard"
	}
	if opts.SampleRatio == 0 {
		opts.SampleRatio = 1
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", opts.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))),
	}
	if opts.Endpoint != "" {
		u, _ := tracesURL(opts.Endpoint) // checked by Validate
		expOpts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u)}
		if len(opts.Headers) > 0 {
			expOpts = append(expOpts, otlptracehttp.WithHeaders(opts.Headers))
		}
		exp, err := otlptracehttp.New(ctx, expOpts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", u, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	if opts.SpanProcessor != nil {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(opts.SpanProcessor))
	}
	sdk := sdktrace.NewTracerProvider(tpOpts...)
	return &Tracing{provider: sdk, sdk: sdk}, nil
}

// TracerProvider is the provider to pass to TraceMiddleware and to
// anything else that should join the gateway's traces.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Enabled reports whether spans are recorded at all.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Stage returns the gateway stage that records a span per model call.
func (t *Tracing) Stage() gateway.Stage {
	return traceStage{tracer: t.provider.Tracer(instrumentationName), enabled: t.sdk != nil}
}

// Shutdown exports the spans still buffered and stops the exporter; spans
// ended afterwards are dropped. It returns when done or when ctx is.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flushing spans: %w", err)
	}
	return nil
}
