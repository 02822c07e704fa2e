package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// flushRecorder counts what was written and what of it was flushed.
type flushRecorder struct {
	*httptest.ResponseRecorder
	written, flushed, flushes int
}

func (r *flushRecorder) Write(b []byte) (int, error) {
	r.written += len(b)
	return r.ResponseRecorder.Write(b)
}

func (r *flushRecorder) Flush() {
	r.flushed = r.written
	r.flushes++
	r.ResponseRecorder.Flush()
}

// scriptedStream yields chunks; ready[i] says whether chunk i has already
// arrived when the front door asks. A Next for a chunk that has not
// arrived stands for a wait on the network: nothing written may be
// unflushed then.
type scriptedStream struct {
	t     *testing.T
	rec   *flushRecorder
	ready []bool
	i     int
}

func (s *scriptedStream) Ready() bool { return s.i == len(s.ready) || s.ready[s.i] }

func (s *scriptedStream) Next() (*llm.ChatChunk, error) {
	if !s.Ready() && s.rec.flushed != s.rec.written {
		s.t.Errorf("chunk %d: the front door waits for the upstream with %d bytes unflushed", s.i, s.rec.written-s.rec.flushed)
	}
	if s.i == len(s.ready) {
		return nil, io.EOF
	}
	s.i++
	text := strings.Repeat("x", s.i)
	return &llm.ChatChunk{ID: "c", Object: "chat.completion.chunk", Model: "m",
		Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &text}}}}, nil
}

func (s *scriptedStream) Close() error           { return nil }
func (s *scriptedStream) Upstream() llm.Upstream { return llm.Upstream{} }

type streamBackend struct{ s llm.ChatStream }

func (b streamBackend) Chat(context.Context, *llm.ChatRequest) (*llm.ChatResponse, gateway.Provenance, error) {
	return nil, gateway.Provenance{}, errors.New("not used")
}
func (b streamBackend) ChatStream(context.Context, *llm.ChatRequest) (llm.ChatStream, gateway.Provenance, error) {
	return b.s, gateway.Provenance{}, nil
}
func (b streamBackend) Embeddings(context.Context, *llm.EmbeddingRequest) (*llm.EmbeddingResponse, gateway.Provenance, error) {
	return nil, gateway.Provenance{}, errors.New("not used")
}
func (b streamBackend) Models(context.Context) []string { return nil }

func TestStreamFlushesBeforeEveryWait(t *testing.T) {
	tests := []struct {
		name        string
		ready       []bool
		wantFlushes int
	}{
		// The end of the stream has always arrived with the last chunk,
		// so the last chunk shares the [DONE] write.
		{"each chunk arrives alone", []bool{false, false, false, false}, 4},
		{"all arrive together", []bool{false, true, true, true}, 1},
		{"two bursts", []bool{false, true, false, true, true}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
			s := &scriptedStream{t: t, rec: rec, ready: tt.ready}
			h := New(streamBackend{s}, Options{})
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if got := strings.Count(body, "data: {"); got != len(tt.ready) {
				t.Fatalf("%d chunks written, want %d:\n%s", got, len(tt.ready), body)
			}
			if !strings.HasSuffix(body, "data: [DONE]\n\n") || rec.flushed != rec.written {
				t.Fatalf("the stream did not end flushed with [DONE]:\n%s", body)
			}
			if rec.flushes != tt.wantFlushes {
				t.Errorf("%d flushes, want %d", rec.flushes, tt.wantFlushes)
			}
		})
	}
}
