package telemetry

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

func benchCall() *gateway.Call {
	return &gateway.Call{
		Info:       &gateway.RequestInfo{ID: "req-1", FrontDoor: "openai", Caller: &gateway.Caller{KeyID: "key-1", TeamID: "team-a"}},
		Kind:       "chat",
		Alias:      "gpt-4o",
		Start:      time.Now(),
		Deployment: &route.Deployment{Name: "east", Provider: "openai", Region: "us-east-1", ModelVersion: "gpt-4o-2024-08-06"},
		Attempts:   1,
		Usage:      &llm.Usage{PromptTokens: 12, CompletionTokens: 5, TotalTokens: 17, PromptTokensDetails: &llm.PromptTokensDetails{CachedTokens: 4}},
	}
}

// BenchmarkMetricsStage_After is the per-call cost of recording a finished
// call: the series lookup and every counter and histogram update.
func BenchmarkMetricsStage_After(b *testing.B) {
	st := NewMetrics(MetricsOptions{}).Stage().(gateway.AfterStage)
	c := benchCall()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		st.After(ctx, c)
	}
}

// BenchmarkMetricsStage_BeforeAfter adds the in-flight gauge and its Call
// state; a fresh Call per iteration, as in the gateway, so the first Set
// allocates the Call's state map (shared with every other stage).
func BenchmarkMetricsStage_BeforeAfter(b *testing.B) {
	m := NewMetrics(MetricsOptions{TeamLabel: true})
	before, after := m.Stage().(gateway.BeforeStage), m.Stage().(gateway.AfterStage)
	tmpl := benchCall()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c := *tmpl
		_ = before.Before(ctx, &c)
		after.After(ctx, &c)
	}
}

// BenchmarkMetricsStage_Parallel shows contention on the series cache and
// the shared children when every core records calls of one deployment.
func BenchmarkMetricsStage_Parallel(b *testing.B) {
	st := NewMetrics(MetricsOptions{}).Stage().(gateway.AfterStage)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := benchCall()
		for pb.Next() {
			st.After(ctx, c)
		}
	})
}

// BenchmarkTracingStage is a whole call's span, off and on; "on" records
// to a processor that drops spans, so export cost is not measured.
func BenchmarkTracingStage(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts TracingOptions
	}{
		{"off", TracingOptions{}},
		{"on", TracingOptions{SpanProcessor: discard{}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tr, err := NewTracing(context.Background(), tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			before, after := tr.Stage().(gateway.BeforeStage), tr.Stage().(gateway.AfterStage)
			tmpl := benchCall()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c := *tmpl
				_ = before.Before(ctx, &c)
				after.After(ctx, &c)
			}
		})
	}
}

type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }
