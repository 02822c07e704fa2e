// Package apitest holds fakes for testing the front doors' streaming: a
// response recorder that knows what it flushed, and a scripted stream that
// fails the test when a front door waits on the network with a chunk
// written but not flushed.
package apitest

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// FlushRecorder is an httptest.ResponseRecorder that counts the bytes
// written, the bytes flushed and the flushes.
type FlushRecorder struct {
	*httptest.ResponseRecorder
	Written, Flushed, Flushes int
}

// NewFlushRecorder returns an empty recorder.
func NewFlushRecorder() *FlushRecorder {
	return &FlushRecorder{ResponseRecorder: httptest.NewRecorder()}
}

// Write implements http.ResponseWriter.
func (r *FlushRecorder) Write(b []byte) (int, error) {
	r.Written += len(b)
	return r.ResponseRecorder.Write(b)
}

// Flush implements http.Flusher.
func (r *FlushRecorder) Flush() {
	r.Flushed = r.Written
	r.Flushes++
	r.ResponseRecorder.Flush()
}

// ScriptedStream yields one text chunk per entry of Arrived, then io.EOF.
// Arrived[i] says whether chunk i had already arrived when it is asked
// for; a Next for a chunk that had not stands for a wait on the network,
// and the test fails if Rec then holds written bytes it has not flushed.
type ScriptedStream struct {
	T       testing.TB
	Rec     *FlushRecorder
	Arrived []bool
	next    int
}

// Ready implements llm.ReadyStream.
func (s *ScriptedStream) Ready() bool { return s.next == len(s.Arrived) || s.Arrived[s.next] }

// Next implements llm.ChatStream.
func (s *ScriptedStream) Next() (*llm.ChatChunk, error) {
	if !s.Ready() && s.Rec.Flushed != s.Rec.Written {
		s.T.Errorf("chunk %d: the front door waits for the upstream with %d bytes unflushed", s.next, s.Rec.Written-s.Rec.Flushed)
	}
	if s.next == len(s.Arrived) {
		return nil, io.EOF
	}
	s.next++
	text := strings.Repeat("x", s.next)
	return &llm.ChatChunk{ID: "c", Object: "chat.completion.chunk", Model: "m",
		Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &text}}}}, nil
}

// Close implements llm.ChatStream.
func (s *ScriptedStream) Close() error { return nil }

// Upstream implements llm.ChatStream.
func (s *ScriptedStream) Upstream() llm.Upstream { return llm.Upstream{} }

// StreamBackend is an api.Backend whose only answer is Stream.
type StreamBackend struct{ Stream llm.ChatStream }

var errNotStreamed = errors.New("apitest: StreamBackend only streams")

// Chat implements api.Backend.
func (b StreamBackend) Chat(context.Context, *llm.ChatRequest) (*llm.ChatResponse, gateway.Provenance, error) {
	return nil, gateway.Provenance{}, errNotStreamed
}

// ChatStream implements api.Backend.
func (b StreamBackend) ChatStream(context.Context, *llm.ChatRequest) (llm.ChatStream, gateway.Provenance, error) {
	return b.Stream, gateway.Provenance{}, nil
}

// Embeddings implements api.Backend.
func (b StreamBackend) Embeddings(context.Context, *llm.EmbeddingRequest) (*llm.EmbeddingResponse, gateway.Provenance, error) {
	return nil, gateway.Provenance{}, errNotStreamed
}

// Models implements api.Backend.
func (b StreamBackend) Models(context.Context) []string { return nil }

// FlushCases are arrival patterns every front door is tested with.
var FlushCases = []struct {
	Name    string
	Arrived []bool
}{
	{"each chunk arrives alone", []bool{false, false, false, false}},
	{"all arrive together", []bool{false, true, true, true}},
	{"two bursts", []bool{false, true, false, true, true}},
}
