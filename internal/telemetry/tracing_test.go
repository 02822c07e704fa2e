package telemetry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

// newRecorded returns tracing that hands every span to an in-memory
// exporter as it ends.
func newRecorded(t *testing.T, opts TracingOptions) (*Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	opts.SpanProcessor = sdktrace.NewSimpleSpanProcessor(exp)
	tr, err := NewTracing(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tr, exp
}

func attrsOf(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// checkAttrs compares the attributes of s named in want; a nil want value
// means the attribute must be absent.
func checkAttrs(t *testing.T, s tracetest.SpanStub, want map[attribute.Key]any) {
	t.Helper()
	got := attrsOf(s)
	for k, w := range want {
		v, ok := got[k]
		switch {
		case w == nil && ok:
			t.Errorf("span %q has %s = %v, want none", s.Name, k, v.Emit())
		case w == nil:
		case !ok:
			t.Errorf("span %q lacks %s (want %v)", s.Name, k, w)
		case fmt.Sprintf("%#v", v.AsInterface()) != fmt.Sprintf("%#v", w):
			t.Errorf("span %q: %s = %v, want %v", s.Name, k, v.AsInterface(), w)
		}
	}
}

func oneSpan(t *testing.T, exp *tracetest.InMemoryExporter) tracetest.SpanStub {
	t.Helper()
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("recorded %d spans, want 1: %v", len(spans), spans)
	}
	return spans[0]
}

func TestTracing_Chat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		model      string
		setup      func(f *fixture)
		refuse     bool
		wantName   string
		wantStatus codes.Code
		wantDesc   string
		wantAttrs  map[attribute.Key]any
	}{
		{desc: "answered", model: "gpt-4o", wantName: "chat gpt-4o", wantStatus: codes.Unset,
			wantAttrs: map[attribute.Key]any{
				attrOperation: "chat", attrRequestModel: "gpt-4o", attrSystem: "openai",
				attrRespModel: "gpt-4o-2024-08-06", attrInputTokens: int64(12), attrOutputTokens: int64(5),
				attrCachedTokens: int64(4), attrDeployment: "east", attrRegion: "us-east-1",
				attrAttempts: int64(1), attrStatus: int64(200), attrRequestID: "req-1",
				attrFrontDoor: "openai", attrFinish: []string{"stop"}, attrErrorType: nil,
			}},
		{desc: "failed over", model: "gpt-4o", setup: func(f *fixture) { f.east.err = unavailable() },
			wantName: "chat gpt-4o", wantStatus: codes.Unset,
			wantAttrs: map[attribute.Key]any{attrSystem: "azure", attrDeployment: "west", attrAttempts: int64(2), attrStatus: int64(200)}},
		{desc: "every deployment down", model: "gpt-4o",
			setup:    func(f *fixture) { f.east.err, f.west.err = unavailable(), unavailable() },
			wantName: "chat gpt-4o", wantStatus: codes.Error, wantDesc: "the deployment is overloaded",
			wantAttrs: map[attribute.Key]any{attrStatus: int64(503), attrErrorType: "overloaded_error", attrInputTokens: nil}},
		{desc: "refused before this stage ran", model: "gpt-4o", refuse: true,
			wantName: "chat gpt-4o", wantStatus: codes.Error, wantDesc: "slow down",
			wantAttrs: map[attribute.Key]any{attrStatus: int64(429), attrErrorType: "rate_limit_error", attrRequestID: "req-1", attrDeployment: nil}},
		{desc: "unknown model keeps the span name bounded", model: "made-up-model-1234",
			wantName: "chat", wantStatus: codes.Error,
			wantAttrs: map[attribute.Key]any{attrRequestModel: "made-up-model-1234"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tr, exp := newRecorded(t, TracingOptions{})
			stages := []gateway.Stage{tr.Stage()}
			if tt.refuse {
				stages = []gateway.Stage{refuser{}, tr.Stage()}
			}
			f := newFixture(t, fixtureOptions{stages: stages})
			if tt.setup != nil {
				tt.setup(f)
			}
			_, _, err := f.gw.Chat(callContext(), chatRequest(tt.model))
			if (err != nil) != (tt.wantStatus == codes.Error) {
				t.Fatalf("Chat error = %v", err)
			}
			s := oneSpan(t, exp)
			if s.Name != tt.wantName {
				t.Errorf("span name = %q, want %q", s.Name, tt.wantName)
			}
			if s.SpanKind != trace.SpanKindClient {
				t.Errorf("span kind = %v, want client", s.SpanKind)
			}
			if s.Status.Code != tt.wantStatus || (tt.wantDesc != "" && s.Status.Description != tt.wantDesc) {
				t.Errorf("span status = %v %q, want %v %q", s.Status.Code, s.Status.Description, tt.wantStatus, tt.wantDesc)
			}
			if !s.EndTime.After(s.StartTime) {
				t.Errorf("span ends at %v, not after its start %v", s.EndTime, s.StartTime)
			}
			checkAttrs(t, s, tt.wantAttrs)
		})
	}
}

func TestTracing_Stream(t *testing.T) {
	t.Parallel()
	tr, exp := newRecorded(t, TracingOptions{})
	f := newFixture(t, fixtureOptions{stages: []gateway.Stage{tr.Stage()}})
	req := chatRequest("gpt-4o")
	req.Stream = true
	s, _, err := f.gw.ChatStream(callContext(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans ended before the stream did", n)
	}
	if err := drain(t, s); err != nil {
		t.Fatal(err)
	}
	span := oneSpan(t, exp)
	if span.Status.Code != codes.Unset {
		t.Errorf("status = %v %q, want unset", span.Status.Code, span.Status.Description)
	}
	if len(span.Events) != 1 || span.Events[0].Name != firstChunkEvent {
		t.Errorf("events = %v, want one %s", span.Events, firstChunkEvent)
	} else if at := span.Events[0].Time; at.Before(span.StartTime) || at.After(span.EndTime) {
		t.Errorf("first chunk at %v, outside the span %v..%v", at, span.StartTime, span.EndTime)
	}
	checkAttrs(t, span, map[attribute.Key]any{attrOutputTokens: int64(5), attrFinish: []string{"stop"}, attrStatus: int64(200)})
}

func TestTracing_StreamCutShort(t *testing.T) {
	t.Parallel()
	tr, exp := newRecorded(t, TracingOptions{})
	f := newFixture(t, fixtureOptions{stages: []gateway.Stage{tr.Stage()}})
	f.east.streamErr = unavailable()
	req := chatRequest("gpt-4o")
	req.Stream = true
	s, _, err := f.gw.ChatStream(callContext(), req)
	if err != nil {
		t.Fatal(err)
	}
	if err := drain(t, s); err == nil {
		t.Fatal("stream ended normally, want the upstream failure")
	}
	span := oneSpan(t, exp)
	if span.Status.Code != codes.Error {
		t.Errorf("status = %v, want error", span.Status.Code)
	}
	checkAttrs(t, span, map[attribute.Key]any{attrStatus: int64(503), attrErrorType: "overloaded_error"})
}

// TestTracing_Propagation follows a traceparent from the client through
// the server span to the gateway call's span.
func TestTracing_Propagation(t *testing.T) {
	t.Parallel()
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	tests := []struct {
		desc        string
		ratio       float64
		traceparent string
		wantSpans   int
	}{
		{desc: "sampled parent", ratio: 1, traceparent: "00-" + traceID + "-" + parent + "-01", wantSpans: 2},
		{desc: "sampled parent wins over a tiny ratio", ratio: 1e-12, traceparent: "00-" + traceID + "-" + parent + "-01", wantSpans: 2},
		{desc: "unsampled parent", ratio: 1, traceparent: "00-" + traceID + "-" + parent + "-00", wantSpans: 0},
		{desc: "no parent, tiny ratio", ratio: 1e-12, wantSpans: 0},
		{desc: "no parent", ratio: 1, wantSpans: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tr, exp := newRecorded(t, TracingOptions{SampleRatio: tt.ratio})
			f := newFixture(t, fixtureOptions{stages: []gateway.Stage{tr.Stage()}})
			h := TraceMiddleware(tr.TracerProvider(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx := gateway.WithRequestInfo(r.Context(), &gateway.RequestInfo{ID: "req-1", FrontDoor: "openai"})
				if _, _, err := f.gw.Chat(ctx, chatRequest("gpt-4o")); err != nil {
					t.Errorf("Chat: %v", err)
				}
			}))
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
			if tt.traceparent != "" {
				req.Header.Set("traceparent", tt.traceparent)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			spans := exp.GetSpans()
			if len(spans) != tt.wantSpans {
				t.Fatalf("recorded %d spans, want %d", len(spans), tt.wantSpans)
			}
			if tt.wantSpans == 0 {
				return
			}
			call, server := spans[0], spans[1] // the call's span ends first
			if server.SpanKind != trace.SpanKindServer || call.SpanKind != trace.SpanKindClient {
				t.Fatalf("span kinds = %v, %v; want client (call) then server", call.SpanKind, server.SpanKind)
			}
			if call.Parent.SpanID() != server.SpanContext.SpanID() || call.SpanContext.TraceID() != server.SpanContext.TraceID() {
				t.Errorf("the call's span is not a child of the server span")
			}
			if tt.traceparent == "" {
				if server.Parent.IsValid() {
					t.Errorf("server span has parent %v without a traceparent", server.Parent)
				}
				return
			}
			if got := server.SpanContext.TraceID().String(); got != traceID {
				t.Errorf("trace id = %s, want the client's %s", got, traceID)
			}
			if got := server.Parent.SpanID().String(); got != parent || !server.Parent.IsRemote() {
				t.Errorf("server span's parent = %s (remote %v), want the client's %s", got, server.Parent.IsRemote(), parent)
			}
		})
	}
}

func TestTracing_Off(t *testing.T) {
	t.Parallel()
	tr, err := NewTracing(context.Background(), TracingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Error("tracing is on without an endpoint")
	}
	f := newFixture(t, fixtureOptions{stages: []gateway.Stage{tr.Stage()}})
	if _, _, err := f.gw.Chat(callContext(), chatRequest("gpt-4o")); err != nil {
		t.Fatal(err)
	}
	_, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Error("the provider records spans with tracing off")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestTracingOptions_Validate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		opts    TracingOptions
		wantErr []string // substrings; none means valid
	}{
		{desc: "off", opts: TracingOptions{}},
		{desc: "collector", opts: TracingOptions{Endpoint: "http://otel-collector:4318", SampleRatio: 0.25}},
		{desc: "ratio above 1", opts: TracingOptions{SampleRatio: 1.5}, wantErr: []string{"sample_ratio", "1.5", "use 1 to record every trace"}},
		{desc: "negative ratio", opts: TracingOptions{SampleRatio: -0.1}, wantErr: []string{"sample_ratio"}},
		{desc: "endpoint without scheme", opts: TracingOptions{Endpoint: "otel-collector:4318"}, wantErr: []string{"endpoint", "http://otel-collector:4318"}},
		{desc: "endpoint of another protocol", opts: TracingOptions{Endpoint: "grpc://otel-collector:4317"}, wantErr: []string{"not an http(s) URL"}},
		{desc: "both wrong", opts: TracingOptions{Endpoint: "x", SampleRatio: 3}, wantErr: []string{"sample_ratio", "endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			err := tt.opts.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if _, nerr := NewTracing(context.Background(), tt.opts); nerr == nil {
				t.Errorf("NewTracing accepted options Validate rejects")
			}
		})
	}
}

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://otel-collector:4318":            "http://otel-collector:4318/v1/traces",
		"http://otel-collector:4318/":           "http://otel-collector:4318/v1/traces",
		"https://collector.example/otlp/traces": "https://collector.example/otlp/traces",
	} {
		if got, err := tracesURL(in); err != nil || got != want {
			t.Errorf("tracesURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestTracing_OTLPExport checks the exporter's wire end: Shutdown flushes
// buffered spans to the collector's /v1/traces with the configured headers.
func TestTracing_OTLPExport(t *testing.T) {
	t.Parallel()
	type export struct {
		path, contentType, apiKey string
		body                      []byte
	}
	var mu sync.Mutex
	var got []export
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, export{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Api-Key"), body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tr, err := NewTracing(context.Background(), TracingOptions{
		Endpoint: collector.URL, Headers: map[string]string{"X-Api-Key": "collector-secret"}, ServiceName: "switchyard-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOptions{stages: []gateway.Stage{tr.Stage()}})
	if _, _, err := f.gw.Chat(callContext(), chatRequest("gpt-4o")); err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("collector got %d exports, want 1 (flushed by Shutdown)", len(got))
	}
	e := got[0]
	if e.path != defaultTracesPath || e.contentType != "application/x-protobuf" || e.apiKey != "collector-secret" {
		t.Errorf("export to %s (%s, key %q), want %s (application/x-protobuf, the configured header)", e.path, e.contentType, e.apiKey, defaultTracesPath)
	}
	for _, want := range []string{"chat gpt-4o", "switchyard-test", "gen_ai.request.model"} {
		if !strings.Contains(string(e.body), want) {
			t.Errorf("exported spans lack %q", want)
		}
	}
}

// TestTracing_AfterOnly covers calls the gateway runs no before-stages
// for (embeddings): their span is made in After, from Call.Start.
func TestTracing_AfterOnly(t *testing.T) {
	t.Parallel()
	tr, exp := newRecorded(t, TracingOptions{})
	start := time.Now().Add(-250 * time.Millisecond)
	c := &gateway.Call{
		Info: &gateway.RequestInfo{ID: "req-7", FrontDoor: "openai"}, Kind: "embeddings", Alias: "titan", Start: start,
		Deployment: &route.Deployment{Name: "bedrock-use1", Provider: "bedrock", Model: "amazon.titan-embed-text-v2:0", Region: "us-east-1"},
		Attempts:   1, Usage: &llm.Usage{PromptTokens: 7, TotalTokens: 7},
	}
	tr.Stage().(gateway.AfterStage).After(context.Background(), c)
	s := oneSpan(t, exp)
	if s.Name != "embeddings titan" || !s.StartTime.Equal(start) {
		t.Errorf("span %q from %v, want %q from the call's start %v", s.Name, s.StartTime, "embeddings titan", start)
	}
	checkAttrs(t, s, map[attribute.Key]any{
		attrOperation: "embeddings", attrRespModel: "amazon.titan-embed-text-v2:0", // no version: the model id
		attrInputTokens: int64(7), attrRequestID: "req-7", attrSystem: "bedrock", attrFinish: nil,
	})
}
