package openai

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/api/apitest"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// listStream yields its chunks, then io.EOF.
type listStream struct{ chunks []*llm.ChatChunk }

func (s *listStream) Next() (*llm.ChatChunk, error) {
	if len(s.chunks) == 0 {
		return nil, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return c, nil
}
func (s *listStream) Close() error           { return nil }
func (s *listStream) Upstream() llm.Upstream { return llm.Upstream{} }

// TestStreamSendsWireFormAsItCame: a chunk that kept its provider's bytes
// is sent byte for byte (odd spacing, member order and all); one a stage
// edited, or one Switchyard made, is encoded from its fields.
func TestStreamSendsWireFormAsItCame(t *testing.T) {
	wire := `{"model":"m",  "id":"c1","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"content":"as sent"},"finish_reason":null}],"usage":null,"obfuscation":"q"}`
	kept, err := llm.DecodeWireChunk([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	edited, err := llm.DecodeWireChunk([]byte(`{"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"before"},"finish_reason":null}],"usage":null,"obfuscation":"r"}`))
	if err != nil {
		t.Fatal(err)
	}
	edited.Edit()
	after := "after"
	edited.Choices[0].Delta.Content = &after
	made := &llm.ChatChunk{ID: "c3", Object: "chat.completion.chunk", Model: "m", Choices: []llm.ChunkChoice{{FinishReason: llm.FinishStop}}}

	h := New(apitest.StreamBackend{Stream: &listStream{chunks: []*llm.ChatChunk{kept, edited, made}}}, Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)))
	want := "data: " + wire + "\n\n" +
		`data: {"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"after"},"finish_reason":null}],"obfuscation":"r","usage":null}` + "\n\n" +
		`data: {"id":"c3","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}` + "\n\n" +
		"data: [DONE]\n\n"
	if got := rec.Body.String(); got != want {
		t.Fatalf("body:\n%s\nwant:\n%s", got, want)
	}
}

// answerBackend answers every chat with resp.
type answerBackend struct {
	apitest.StreamBackend
	resp *llm.ChatResponse
}

func (b answerBackend) Chat(context.Context, *llm.ChatRequest) (*llm.ChatResponse, gateway.Provenance, error) {
	return b.resp, gateway.Provenance{}, nil
}

// TestChatSendsWireFormAsItCame: the plain answer's counterpart of
// TestStreamSendsWireFormAsItCame.
func TestChatSendsWireFormAsItCame(t *testing.T) {
	wire := `{"id":"r", "object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"as sent"},"finish_reason":"stop"}],"service_tier":"default"}`
	edited, err := llm.DecodeWireResponse([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	edited.Edit()
	edited.Choices[0].Message.Content = llm.TextContent("changed")
	for _, tt := range []struct {
		name string
		resp func() *llm.ChatResponse
		want string
	}{
		{"kept", func() *llm.ChatResponse {
			r, err := llm.DecodeWireResponse([]byte(wire))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, wire},
		{"edited", func() *llm.ChatResponse { return edited },
			`{"id":"r","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"changed"},"finish_reason":"stop"}],"service_tier":"default"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := New(answerBackend{resp: tt.resp()}, Options{})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
				strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)))
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if got := rec.Body.String(); got != tt.want {
				t.Fatalf("body:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
