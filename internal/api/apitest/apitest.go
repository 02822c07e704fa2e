// Package apitest tests the front doors' streaming: a response recorder
// that knows what it flushed, a scripted stream that fails the test when a
// front door waits on the network with a chunk written but not flushed,
// and CheckFlushes, which drives a front door through both.
package apitest

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

// CheckFlushes drives the front door serve (a new one per case, over the
// stream it is given) with one streamed request (body, to path) for each
// arrival pattern, and checks that every chunk was written (chunkMarker
// counts them), that the answer ended with endMarker, everything flushed,
// and that each burst of chunks that arrived together took one flush. The
// scripted stream fails the test if a chunk is left unflushed across a
// wait.
func CheckFlushes(t *testing.T, serve func(llm.ChatStream) http.Handler, path, body, chunkMarker, endMarker string) {
	t.Helper()
	for _, tt := range []struct {
		name    string
		arrived []bool
		flushes int // one per burst: the end always arrives with the last chunk
	}{
		{"each chunk arrives alone", []bool{false, false, false, false}, 4},
		{"all arrive together", []bool{false, true, true, true}, 1},
		{"two bursts", []bool{false, true, false, true, true}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := NewFlushRecorder()
			h := serve(&ScriptedStream{T: t, Rec: rec, Arrived: tt.arrived})
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
			got := rec.Body.String()
			if n := strings.Count(got, chunkMarker); n != len(tt.arrived) {
				t.Fatalf("%d chunks written, want %d:\n%s", n, len(tt.arrived), got)
			}
			if !strings.HasSuffix(got, endMarker) || rec.Flushed != rec.Written {
				t.Fatalf("the stream did not end flushed with %q:\n%s", endMarker, got)
			}
			if rec.Flushes != tt.flushes {
				t.Errorf("%d flushes, want %d", rec.Flushes, tt.flushes)
			}
		})
	}
}
