package govern

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/route"
	"github.com/switchyard/switchyard/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend answers every request with text, reporting usage unless
// noUsage; failing makes it refuse.
type backend struct {
	text    string
	usage   llm.Usage
	noUsage bool
	failing bool
}

func (b *backend) ChatCompletion(_ context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	if b.failing {
		return nil, &llm.Error{Status: 503, Type: llm.TypeOverloaded, Message: "down", Upstream: true}
	}
	r := &llm.ChatResponse{Choices: []llm.Choice{{Message: llm.Message{Role: "assistant", Content: llm.TextContent(b.text)}, FinishReason: "stop"}}}
	if !b.noUsage {
		u := b.usage
		r.Usage = &u
	}
	return r, nil
}

func (b *backend) StreamChatCompletion(_ context.Context, _ *llm.ChatRequest) (llm.ChatStream, error) {
	return &stream{b: b}, nil
}

type stream struct {
	b *backend
	n int
}

func (s *stream) Next() (*llm.ChatChunk, error) {
	s.n++
	switch {
	case s.n == 1:
		t := s.b.text
		return &llm.ChatChunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &t}}}}, nil
	case s.n == 2:
		return &llm.ChatChunk{Choices: []llm.ChunkChoice{{FinishReason: "stop"}}}, nil
	case s.n == 3 && !s.b.noUsage:
		u := s.b.usage
		return &llm.ChatChunk{Choices: []llm.ChunkChoice{}, Usage: &u}, nil
	}
	return nil, io.EOF
}
func (s *stream) Close() error           { return nil }
func (s *stream) Upstream() llm.Upstream { return llm.Upstream{} }

// testPrice is $2.50 in / $10 out per million tokens.
var testPrice = pricing.Price{Input: 2_500_000, Output: 10_000_000}

// newGateway runs stages over one deployment "d1" of alias "m" answered by b.
func newGateway(t testing.TB, b *backend, stages ...gateway.Stage) *gateway.Gateway {
	t.Helper()
	rt, err := route.New([]*route.Deployment{{Name: "d1", Provider: "openai", Model: "gpt-4o", Region: "us-east-1", ModelVersion: "v1", Backend: b}},
		[]route.PoolConfig{{Alias: "m", Deployments: []string{"d1"}}}, route.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return gateway.New(gateway.Options{Router: rt, Stages: stages})
}

func testPrices(t testing.TB) *Prices {
	p, err := pricing.New(nil, pricing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return NewPrices(p, pricing.Config{}, map[string]pricing.Price{"d1": testPrice}, nil)
}

// as returns ctx for a caller.
func as(caller *gateway.Caller, id string) context.Context {
	return gateway.WithRequestInfo(context.Background(), &gateway.RequestInfo{ID: id, Caller: caller})
}

func chatReq(text string, maxTokens int) *llm.ChatRequest {
	r := &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "user", Content: llm.TextContent(text)}}}
	if maxTokens > 0 {
		r.MaxTokens = &maxTokens
	}
	return r
}

// queue collects usage and audit records.
type queue struct {
	mu    sync.Mutex
	usage []store.UsageRecord
	audit []store.AuditRecord
}

func (q *queue) Enqueue(r store.UsageRecord) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.usage = append(q.usage, r)
	return nil
}

func (q *queue) Append(r store.AuditRecord) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.audit = append(q.audit, r)
	return nil
}

// drain reads a stream to its end.
func drain(t testing.TB, s llm.ChatStream) {
	t.Helper()
	defer s.Close()
	for {
		if _, err := s.Next(); err != nil {
			if err != io.EOF {
				t.Fatalf("stream: %v", err)
			}
			return
		}
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
