package bedrock

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

// BenchmarkStreamTranslator_TextDelta is the per-chunk cost of turning one
// contentBlockDelta payload into a canonical chunk.
func BenchmarkStreamTranslator_TextDelta(b *testing.B) {
	payload := []byte(`{"contentBlockIndex":0,"delta":{"text":" sunny"}}`)
	tr := newStreamTranslator(goldenMeta)
	out, _ := tr.push("messageStart", []byte(`{"role":"assistant"}`), nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		var err error
		out, err = tr.push("contentBlockDelta", payload, out[:0])
		if err != nil || len(out) != 1 {
			b.Fatal(err)
		}
	}
}

// BenchmarkConverseStream_Frame is the per-chunk cost including frame
// decoding (prelude, headers, CRCs) from an in-memory body.
func BenchmarkConverseStream_Frame(b *testing.B) {
	const perBody = 1000
	events := []recordedEvent{{EventType: "messageStart", Payload: json.RawMessage(`{"role":"assistant"}`)}}
	for range perBody {
		events = append(events, recordedEvent{EventType: "contentBlockDelta", Payload: json.RawMessage(`{"contentBlockIndex":0,"delta":{"text":" sunny"}}`)})
	}
	events = append(events,
		recordedEvent{EventType: "messageStop", Payload: json.RawMessage(`{"stopReason":"end_turn"}`)},
		recordedEvent{EventType: "metadata", Payload: json.RawMessage(`{"usage":{"inputTokens":1,"outputTokens":1000,"totalTokens":1001}}`)})
	frames, err := encodeEvents(events)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frames) / len(events)))
	var s *converseStream
	n := perBody + 10 // force a fresh body at the start
	for b.Loop() {
		if n >= perBody {
			s = newConverseStream(b.Context(), io.NopCloser(bytes.NewReader(frames)), goldenMeta)
			if _, err := s.Next(); err != nil { // role chunk
				b.Fatal(err)
			}
			n = 0
		}
		var c *llm.ChatChunk
		if c, err = s.Next(); err != nil || c.Choices[0].Delta.Content == nil {
			b.Fatal(err)
		}
		n++
	}
}
