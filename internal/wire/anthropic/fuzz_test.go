package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
)

// FuzzStreamTranslator feeds arbitrary SSE text through the translator: it
// must never panic, and every error it returns must be an *llm.Error.
func FuzzStreamTranslator(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "stream_to_chat", "*.sse"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":7,\"delta\":{\"type\":\"input_json_delta\"}}\n\n"))
	f.Add([]byte("event: error\ndata: not json\n\n"))
	f.Add([]byte("data: {\"type\":\"content_block_start\",\"index\":-1,\"content_block\":{\"type\":\"tool_use\"}}\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tr := NewStreamTranslator(1)
		r := sse.NewReader(bytes.NewReader(in))
		for range 1000 {
			ev, err := r.Next()
			if err != nil {
				return
			}
			chunks, err := tr.Event(ev.Event, ev.Data)
			if err != nil {
				var le *llm.Error
				if !errors.As(err, &le) {
					t.Fatalf("non-*llm.Error %T: %v", err, err)
				}
				return
			}
			for _, c := range chunks {
				if _, err := json.Marshal(c); err != nil {
					t.Fatalf("unencodable chunk: %v", err)
				}
			}
		}
	})
}

// FuzzToChat decodes arbitrary JSON as a Messages request and translates
// it: no panics, and rejections are 400 *llm.Errors.
func FuzzToChat(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "to_chat", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":[{"type":"image"}]}]}]}`))
	f.Add([]byte(`{"model":"m","max_tokens":1,"system":[{"type":"image"}],"messages":[{"role":"assistant","content":null}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var req MessagesRequest
		if json.Unmarshal(in, &req) != nil {
			return
		}
		out, err := ToChat(&req)
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) || le.Status != 400 {
				t.Fatalf("rejection is not a 400 *llm.Error: %v", err)
			}
			return
		}
		// What ToChat accepts must translate back without panicking.
		if _, err := FromChat(out, RequestOptions{Model: "m"}); err != nil {
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("FromChat error %T: %v", err, err)
			}
		}
	})
}

// FuzzEventEncoder feeds arbitrary chunk JSON to the encoder.
func FuzzEventEncoder(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "stream_from_chat", "*.jsonl"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		enc := NewEventEncoder("msg", "m")
		dec := json.NewDecoder(bytes.NewReader(in))
		for range 1000 {
			var c llm.ChatChunk
			if err := dec.Decode(&c); err != nil {
				if !errors.Is(err, io.EOF) {
					return
				}
				break
			}
			for _, ev := range enc.Chunk(&c) {
				if !json.Valid(ev.Data) {
					t.Fatalf("invalid event data %s", ev.Data)
				}
			}
		}
		enc.Finish()
	})
}
