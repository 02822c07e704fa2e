package openai_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	json "github.com/segmentio/encoding/json"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider/openai"
)

// burstReader hands out one burst per Read, like a socket that received
// each burst in one segment, and flags a Read made after Ready promised
// that none was needed.
type burstReader struct {
	bursts   [][]byte
	promised bool
	broken   bool
}

func (r *burstReader) Read(p []byte) (int, error) {
	if r.promised {
		r.broken = true
	}
	if len(r.bursts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.bursts[0])
	if r.bursts[0] = r.bursts[0][n:]; len(r.bursts[0]) == 0 {
		r.bursts = r.bursts[1:]
	}
	return n, nil
}

// drainReady reads a stream to its end, asking Ready before every Next when
// ask is set, and returns the chunks, the end, and how many Ready promised.
func drainReady(t *testing.T, bursts [][]byte, ask bool) (out []string, end string, promised int) {
	t.Helper()
	src := &burstReader{bursts: bursts}
	s := openai.NewStream(openai.StreamConfig{Body: io.NopCloser(src), Target: openai.Target{Provider: "openai", Deployment: "d"}})
	defer s.Close()
	for range 10000 {
		if ask {
			src.promised = llm.Ready(s)
		}
		c, err := s.Next()
		if src.broken {
			t.Fatal("Ready promised a chunk, but Next had to read from the network")
		}
		if src.promised {
			promised++
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				end = err.Error()
			}
			return out, end, promised
		}
		b, _ := json.Marshal(c)
		out = append(out, string(b))
	}
	t.Fatal("stream did not end")
	return
}

const (
	chunkA = "data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
	chunkB = "data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n"
	empty  = "data: {\"id\":\"1\",\"choices\":[]}\n\n" // skipped, like Azure's filter chunk
	done   = "data: [DONE]\n\n"
)

func TestStreamReady(t *testing.T) {
	tests := []struct {
		name         string
		bursts       []string
		wantPromised int
	}{
		{"one burst", []string{chunkA + chunkB + done}, 2},
		{"a burst per chunk", []string{chunkA, chunkB, done}, 0},
		{"a skipped chunk before a wait", []string{chunkA + empty, chunkB + done}, 1},
		{"cut short", []string{chunkA + chunkB}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bursts [][]byte
			for _, b := range tt.bursts {
				bursts = append(bursts, []byte(b))
			}
			_, _, promised := drainReady(t, bursts, true)
			if promised != tt.wantPromised {
				t.Errorf("Ready promised %d chunks, want %d", promised, tt.wantPromised)
			}
		})
	}
}

// FuzzStreamReady checks that asking Ready never changes what a stream
// yields, and never promises a chunk that needs another read.
func FuzzStreamReady(f *testing.F) {
	f.Add([]byte(chunkA+empty+chunkB+done), []byte{30, 200})
	f.Add([]byte(chunkA+"data: {\"error\":{\"message\":\"x\"}}\n\n"), []byte{1})
	f.Fuzz(func(t *testing.T, body, cuts []byte) {
		var bursts [][]byte
		rest := body
		for _, c := range cuts {
			if len(rest) == 0 {
				break
			}
			n := min(int(c)+1, len(rest))
			bursts, rest = append(bursts, rest[:n]), rest[n:]
		}
		if len(rest) > 0 {
			bursts = append(bursts, rest)
		}
		copyOf := func() [][]byte {
			out := make([][]byte, len(bursts))
			for i, b := range bursts {
				out[i] = bytes.Clone(b)
			}
			return out
		}
		plain, plainEnd, _ := drainReady(t, copyOf(), false)
		asked, askedEnd, _ := drainReady(t, copyOf(), true)
		if len(plain) != len(asked) || plainEnd != askedEnd {
			t.Fatalf("asking Ready changed the stream: %d chunks ending %q, want %d ending %q", len(asked), askedEnd, len(plain), plainEnd)
		}
		for i := range plain {
			if plain[i] != asked[i] {
				t.Fatalf("chunk %d: %s, want %s", i, asked[i], plain[i])
			}
		}
	})
}
