package anthropic

import (
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

// BenchmarkStreamTranslatorTextDelta is the per-chunk cost of turning one
// Anthropic text_delta event into a canonical chunk.
func BenchmarkStreamTranslatorTextDelta(b *testing.B) {
	tr := NewStreamTranslator(1)
	if _, err := tr.Event("message_start", []byte(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}`)); err != nil {
		b.Fatal(err)
	}
	if _, err := tr.Event("content_block_start", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)); err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" streamed"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := tr.Event("content_block_delta", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamTranslatorToolDelta is the same for input_json_delta.
func BenchmarkStreamTranslatorToolDelta(b *testing.B) {
	tr := NewStreamTranslator(1)
	_, _ = tr.Event("message_start", []byte(`{"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{}}}`))
	_, _ = tr.Event("content_block_start", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}`))
	data := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Event("content_block_delta", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventEncoderTextChunk is the per-chunk cost of the reverse
// direction: one canonical content chunk into Anthropic events.
func BenchmarkEventEncoderTextChunk(b *testing.B) {
	enc := NewEventEncoder("msg_1", "claude")
	s := " streamed"
	c := &llm.ChatChunk{ID: "chatcmpl-1", Model: "gpt-4o", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &s}}}}
	enc.Chunk(c)
	b.ReportAllocs()
	for b.Loop() {
		if evs := enc.Chunk(c); len(evs) != 1 {
			b.Fatalf("%d events", len(evs))
		}
	}
}
