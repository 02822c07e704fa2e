package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

// instant is a provider that answers at once from memory, so that the
// benchmarks below measure the gateway's own request path: front door,
// authentication, stages, routing and response encoding.
type instant struct{}

var instantAnswer = &llm.ChatResponse{
	ID: "chatcmpl-bench", Object: "chat.completion", Created: 1, Model: "bench-model",
	Choices: []llm.Choice{{Message: llm.Message{Role: "assistant", Content: llm.TextContent("Hello from the benchmark.")}, FinishReason: "stop"}},
	Usage:   &llm.Usage{PromptTokens: 12, CompletionTokens: 6, TotalTokens: 18},
}

func (instant) ChatCompletion(context.Context, *llm.ChatRequest) (*llm.ChatResponse, error) {
	r := *instantAnswer
	return &r, nil
}

func (instant) StreamChatCompletion(context.Context, *llm.ChatRequest) (llm.ChatStream, error) {
	return &instantStream{}, nil
}

type instantStream struct{ n int }

func (s *instantStream) Next() (*llm.ChatChunk, error) {
	s.n++
	switch {
	case s.n <= 5:
		text := "word "
		return &llm.ChatChunk{ID: "c", Object: "chat.completion.chunk", Model: "bench-model", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &text}}}}, nil
	case s.n == 6:
		return &llm.ChatChunk{ID: "c", Object: "chat.completion.chunk", Model: "bench-model", Choices: []llm.ChunkChoice{{FinishReason: "stop"}}}, nil
	case s.n == 7:
		return &llm.ChatChunk{ID: "c", Object: "chat.completion.chunk", Model: "bench-model", Choices: []llm.ChunkChoice{}, Usage: &llm.Usage{PromptTokens: 12, CompletionTokens: 5, TotalTokens: 17}}, nil
	}
	return nil, io.EOF
}
func (s *instantStream) Close() error           { return nil }
func (s *instantStream) Upstream() llm.Upstream { return llm.Upstream{} }

func init() {
	provider.Register("bench-instant", provider.Factory{
		NewOptions: func() any { return &struct{}{} },
		New:        func(provider.Config) (provider.Provider, error) { return instant{}, nil },
	})
}

func benchGateway(b *testing.B) http.Handler {
	b.Helper()
	cfg, err := config.Parse([]byte(`
store:
  dsn: sqlite://`+b.TempDir()+`/bench.db
keys:
  - name: bench
    secret: `+testKey+`
deployments:
  - name: instant
    provider: bench-instant
    model: bench-model
    model_version: "1"
    region: local
models:
  - alias: bench
    deployments: [instant]
`), config.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	gw, err := app.Build(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Close() })
	return gw.Handler()
}

func benchRequest(b *testing.B, body string) {
	h := benchGateway(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkRequestPath is one non-streamed chat completion through the
// whole gateway (no network): its allocations are the gateway's own.
func BenchmarkRequestPath(b *testing.B) {
	benchRequest(b, `{"model":"bench","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello to the benchmark in a few words."}],"temperature":0.2}`)
}

// BenchmarkRequestPathStream is the same with a 7-chunk streamed answer.
func BenchmarkRequestPathStream(b *testing.B) {
	benchRequest(b, `{"model":"bench","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello to the benchmark in a few words."}]}`)
}
