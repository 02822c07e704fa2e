package vertex

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	if len(files) == 0 {
		f.Fatalf("no seeds match testdata/%s", pattern)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzStream checks that any upstream body ends in io.EOF only after a
// finish, and otherwise in an *llm.Error, without panicking.
func FuzzStream(f *testing.F) {
	addSeeds(f, "stream/*.in.sse")
	f.Fuzz(func(t *testing.T, body []byte) {
		s := newGeminiStream(t.Context(), io.NopCloser(bytes.NewReader(body)), goldenMeta, llm.Upstream{})
		chunks, err := drain(s)
		var e *llm.Error
		switch {
		case err == io.EOF:
			finished := false
			for _, c := range chunks {
				for _, ch := range c.Choices {
					finished = finished || ch.FinishReason != ""
				}
			}
			if !finished {
				t.Fatal("stream ended cleanly without a finish reason")
			}
		case !errors.As(err, &e):
			t.Fatalf("stream ended with %v (%T), want io.EOF or *llm.Error", err, err)
		}
		for _, c := range chunks {
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("chunk does not encode: %v", err)
			}
		}
	})
}

// FuzzRequest checks that any chat request either translates to valid
// JSON or is refused with a 400.
func FuzzRequest(f *testing.F) {
	addSeeds(f, "request/*.in.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var req llm.ChatRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		out, err := toGemini(&req, "fuzz")
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("refusal %v is not a 400 *llm.Error", err)
			}
			return
		}
		b, err := json.Marshal(out)
		if err != nil || !json.Valid(b) {
			t.Fatalf("translation does not encode: %v", err)
		}
	})
}

// BenchmarkStreamChunk measures decoding and translating one typical
// text chunk of a Gemini stream.
func BenchmarkStreamChunk(b *testing.B) {
	event := []byte("data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\" the quick brown fox\"}]},\"index\":0}],\"modelVersion\":\"gemini-2.0-flash-001\",\"responseId\":\"r1\"}\r\n\r\n")
	body := bytes.Repeat(event, b.N+1)
	s := newGeminiStream(b.Context(), io.NopCloser(bytes.NewReader(body)), goldenMeta, llm.Upstream{})
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N + 1 { // the first event also yields the role chunk
		if _, err := s.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
