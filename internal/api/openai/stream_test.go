package openai

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/api/apitest"
	"github.com/switchyard/switchyard/internal/llm"
)

func TestStreamFlushesBeforeEveryWait(t *testing.T) {
	apitest.CheckFlushes(t,
		func(s llm.ChatStream) http.Handler { return New(apitest.StreamBackend{Stream: s}, Options{}) },
		"/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"data: {", "data: [DONE]\n\n")
}

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
