package telemetry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend is a fake provider: it answers with usage, fails with err, or
// streams chunks (failing after them with streamErr, if set).
type backend struct {
	err       error
	streamErr error
	chunks    int
	usage     llm.Usage

	mu    sync.Mutex
	calls int
}

func (b *backend) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	u := b.usage
	return &llm.ChatResponse{
		ID: "chatcmpl-1", Object: "chat.completion", Model: req.Model,
		Choices: []llm.Choice{{Message: llm.Message{Role: "assistant", Content: llm.TextContent("hi")}, FinishReason: "stop"}},
		Usage:   &u,
	}, nil
}

func (b *backend) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	if b.err != nil {
		return nil, b.err
	}
	u := b.usage
	return &chunkStream{n: b.chunks, usage: &u, err: b.streamErr}, nil
}

// chunkStream yields n content chunks, then a finish chunk with usage,
// then io.EOF (or err instead of the finish chunk).
type chunkStream struct {
	n, sent int
	usage   *llm.Usage
	err     error
	closed  bool
}

func (s *chunkStream) Next() (*llm.ChatChunk, error) {
	switch {
	case s.sent < s.n:
		s.sent++
		text := "tok"
		return &llm.ChatChunk{Object: "chat.completion.chunk", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &text}}}}, nil
	case s.err != nil:
		return nil, s.err
	case s.sent == s.n:
		s.sent++
		return &llm.ChatChunk{Object: "chat.completion.chunk", Choices: []llm.ChunkChoice{{FinishReason: "stop"}}, Usage: s.usage}, nil
	}
	return nil, io.EOF
}

func (s *chunkStream) Close() error           { s.closed = true; return nil }
func (s *chunkStream) Upstream() llm.Upstream { return llm.Upstream{} }

func unavailable() error {
	return &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeOverloaded, Upstream: true, Message: "the deployment is overloaded"}
}

// fixture is a real gateway over two fake deployments of alias gpt-4o:
// east (tried first) and west.
type fixture struct {
	east, west *backend
	router     *route.Router
	gw         *gateway.Gateway
}

type fixtureOptions struct {
	stages  []gateway.Stage
	breaker route.BreakerConfig
	quota   route.Quota
}

func newFixture(t testing.TB, opts fixtureOptions) *fixture {
	t.Helper()
	usage := llm.Usage{PromptTokens: 12, CompletionTokens: 5, TotalTokens: 17, PromptTokensDetails: &llm.PromptTokensDetails{CachedTokens: 4}}
	f := &fixture{east: &backend{usage: usage, chunks: 3}, west: &backend{usage: usage, chunks: 3}}
	deps := []*route.Deployment{
		{Name: "east", Provider: "openai", Model: "gpt-4o", Region: "us-east-1", ModelVersion: "gpt-4o-2024-08-06", Backend: f.east, Quota: opts.quota},
		{Name: "west", Provider: "azure", Model: "gpt-4o", Region: "westeurope", ModelVersion: "gpt-4o-2024-08-06", Backend: f.west, Priority: 1},
	}
	r, err := route.New(deps, []route.PoolConfig{{Alias: "gpt-4o", Deployments: []string{"east", "west"}, Breaker: opts.breaker}}, route.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.router = r
	f.gw = gateway.New(gateway.Options{Router: r, Stages: opts.stages})
	return f
}

// callContext is a request from team-a's key-1 through the OpenAI door.
func callContext() context.Context {
	return gateway.WithRequestInfo(context.Background(), &gateway.RequestInfo{
		ID: "req-1", FrontDoor: "openai",
		Caller: &gateway.Caller{KeyID: "key-1", TeamID: "team-a"},
	})
}

func chatRequest(model string) *llm.ChatRequest {
	return &llm.ChatRequest{Model: model, Messages: []llm.Message{{Role: "user", Content: llm.TextContent("hello")}}}
}

// drain reads s to its end and returns the error that ended it (nil for
// io.EOF).
func drain(t testing.TB, s llm.ChatStream) error {
	t.Helper()
	defer s.Close()
	for {
		if _, err := s.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// refuser is a stage that refuses every call with a 429.
type refuser struct{}

func (refuser) Name() string { return "refuser" }
func (refuser) Before(context.Context, *gateway.Call) error {
	return &llm.Error{Status: http.StatusTooManyRequests, Type: llm.TypeRateLimit, Message: "slow down"}
}

// find returns the metric of family name whose labels are exactly
// labels, or nil.
func find(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

// value is the counter or gauge value of the metric find finds; it fails
// the test when there is none.
func value(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(t, reg, name, labels)
	if m == nil {
		t.Fatalf("no %s%v; have:\n%s", name, labels, dump(t, reg, name))
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("%s%v is neither counter, gauge nor histogram", name, labels)
	return 0
}

// dump lists family name's series, for failure messages.
func dump(t testing.TB, reg prometheus.Gatherer, name string) string {
	fams, _ := reg.Gather()
	var b strings.Builder
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			b.WriteString("  ")
			for _, lp := range m.GetLabel() {
				b.WriteString(lp.GetName() + "=" + lp.GetValue() + " ")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
