package bedrock

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func corpusFiles(f *testing.F, pattern string) [][]byte {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	if len(files) == 0 {
		f.Fatalf("no seeds %s", pattern)
	}
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzStreamTranslator feeds recorded event lists (event types and
// payloads) to the translator: it must never panic, must end with io.EOF
// only after messageStop and metadata, and must fail with an *llm.Error.
func FuzzStreamTranslator(f *testing.F) {
	for _, seed := range corpusFiles(f, "streams/*.events.json") {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var events []recordedEvent
		if json.Unmarshal(raw, &events) != nil || len(events) > 1000 {
			return
		}
		tr := newStreamTranslator(goldenMeta)
		var out []*llm.ChatChunk
		var err error
		for _, ev := range events {
			out, err = tr.push(ev.EventType, ev.Payload, out[:0])
			if err != nil {
				var e *llm.Error
				if !errors.As(err, &e) || e.Status != http.StatusBadGateway {
					t.Fatalf("push error %v is not a 502 *llm.Error", err)
				}
				return
			}
			for _, c := range out {
				if c == nil || (len(c.Choices) == 0 && c.Usage == nil) {
					t.Fatalf("empty chunk %+v", c)
				}
			}
			if len(tr.blocks) > maxOpenBlocks {
				t.Fatalf("%d open blocks", len(tr.blocks))
			}
		}
		if err := tr.end(); errors.Is(err, io.EOF) != (tr.stopped && tr.done) {
			t.Fatalf("end = %v with stopped=%v done=%v", err, tr.stopped, tr.done)
		}
	})
}

// FuzzFrames feeds raw bytes to the event-stream reader and translator:
// bad frames must surface as errors, never panics or huge allocations.
func FuzzFrames(f *testing.F) {
	for _, seed := range corpusFiles(f, "streams/*.events.json") {
		var events []recordedEvent
		if err := json.Unmarshal(seed, &events); err != nil {
			f.Fatal(err)
		}
		frames, err := encodeEvents(events)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frames)
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := newConverseStream(t.Context(), io.NopCloser(bytes.NewReader(raw)), goldenMeta)
		defer s.Close()
		for range 10000 {
			_, err := s.Next()
			if err == nil {
				continue
			}
			var e *llm.Error
			if !errors.Is(err, io.EOF) && !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is neither io.EOF nor *llm.Error", err, err)
			}
			return
		}
		t.Fatal("stream did not end")
	})
}

// FuzzRequestTranslator feeds canonical requests to the Converse
// translator: a success must encode to valid JSON, a failure must be a
// 400 *llm.Error naming a parameter or the deployment.
func FuzzRequestTranslator(f *testing.F) {
	for _, seed := range corpusFiles(f, "requests/*.in.json") {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req llm.ChatRequest
		if json.Unmarshal(raw, &req) != nil {
			return
		}
		cr, err := toConverse(&req, goldenDeployment)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Upstream {
				t.Fatalf("error %v is not a client 400", err)
			}
			return
		}
		b, err := json.Marshal(cr)
		if err != nil || !json.Valid(b) {
			t.Fatalf("translated body does not encode: %v", err)
		}
		for _, m := range cr.Messages {
			if len(m.Content) == 0 {
				t.Fatalf("empty %s turn in %s", m.Role, b)
			}
		}
	})
}
