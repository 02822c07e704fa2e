package guard

import (
	"errors"
	"io"
	"reflect"
	"strconv"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

// arrivalStream yields n numbered chunks; arrived[i] says whether chunk i
// is already there when asked. It flags a Next that would wait right after
// the filter on top promised it would not.
type arrivalStream struct {
	arrived  []bool
	next     int
	promised *bool // set by the test when the filter's Ready said true
	waited   bool
}

func (s *arrivalStream) Ready() bool { return s.next == len(s.arrived) || s.arrived[s.next] }

func (s *arrivalStream) Next() (*llm.ChatChunk, error) {
	if *s.promised && !s.Ready() {
		s.waited = true
	}
	if s.next == len(s.arrived) {
		return nil, io.EOF
	}
	s.next++
	text := strconv.Itoa(s.next)
	return &llm.ChatChunk{ID: "c", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &text}}}}, nil
}

func (s *arrivalStream) Close() error           { return nil }
func (s *arrivalStream) Upstream() llm.Upstream { return llm.Upstream{} }

// FuzzFilterStreamReady: asking Ready, at any point, never changes what a
// filtered stream yields; once Ready said true the next Next does not wait
// on the upstream; and Ready never runs the filter on a chunk (or the end)
// the filter says it may wait on. The input scripts arrivals, how many
// chunks the filter makes of each upstream chunk (0 holds it back), which
// chunks it may wait on, and when Ready is asked.
func FuzzFilterStreamReady(f *testing.F) {
	f.Add([]byte{0x07, 0x15, 0x23, 0x31, 0x02}, true, false)
	f.Add([]byte{0x10, 0x10, 0x10}, true, true)
	f.Add([]byte{0x0f, 0x0d, 0x05, 0x0f}, true, true)
	f.Add([]byte{0xff, 0x00, 0xff, 0x00}, false, false)
	f.Fuzz(func(t *testing.T, script []byte, pullAhead, endWaits bool) {
		if len(script) > 64 {
			script = script[:64]
		}
		run := func(askReady bool) ([]string, bool) {
			arrived := make([]bool, len(script))
			for i, b := range script {
				arrived[i] = b&1 == 1
			}
			promised, inReady := false, false
			src := &arrivalStream{arrived: arrived, promised: &promised}
			i := 0
			waits := func(c *llm.ChatChunk) bool {
				n, _ := strconv.Atoi(*c.Choices[0].Delta.Content)
				return script[n-1]&8 != 0
			}
			fs := &filterStream{src: src, pullAhead: pullAhead, waitsOn: waits, endWaits: endWaits,
				onChunk: func(c *llm.ChatChunk) ([]*llm.ChatChunk, error) {
					if inReady && waits(c) {
						t.Errorf("Ready filtered chunk %s, which the filter may wait on", *c.Choices[0].Delta.Content)
					}
					copies := int(script[i]>>1) % 3 // 0, 1 or 2 chunks out
					i++
					out := make([]*llm.ChatChunk, copies)
					for k := range out {
						out[k] = c
					}
					return out, nil
				},
				onEnd: func() ([]*llm.ChatChunk, error) {
					if inReady && endWaits {
						t.Error("Ready ran onEnd, which the filter may wait in")
					}
					end := "end"
					return []*llm.ChatChunk{{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &end}}}}}, nil
				},
			}
			var got []string
			for step := 0; ; step++ {
				promised = false
				if askReady && step < len(script) && script[step]&4 != 0 {
					inReady = true
					promised = fs.Ready()
					inReady = false
				}
				c, err := fs.Next()
				if errors.Is(err, io.EOF) {
					return got, src.waited
				}
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				got = append(got, *c.Choices[0].Delta.Content)
			}
		}
		plain, _ := run(false)
		asked, waited := run(true)
		if !reflect.DeepEqual(plain, asked) {
			t.Fatalf("asking Ready changed the stream:\n without: %v\n    with: %v", plain, asked)
		}
		if waited {
			t.Fatal("Next waited on the upstream right after Ready promised it would not")
		}
	})
}

// TestFilterStreamReadyPullsAheadOnlyWhenAllowed: with chunks already
// arrived, a filter that may wait promises nothing it has not queued; one
// that never waits runs them through and says so.
func TestFilterStreamReadyPullsAheadOnlyWhenAllowed(t *testing.T) {
	for _, pullAhead := range []bool{false, true} {
		promised := false
		src := &arrivalStream{arrived: []bool{true, true}, promised: &promised}
		fs := &filterStream{src: src, pullAhead: pullAhead,
			onChunk: func(c *llm.ChatChunk) ([]*llm.ChatChunk, error) { return []*llm.ChatChunk{c}, nil }}
		if got := fs.Ready(); got != pullAhead {
			t.Errorf("pullAhead %v: Ready = %v", pullAhead, got)
		}
		if pullAhead && src.next != 1 {
			t.Errorf("pulled %d upstream chunks to answer Ready; want exactly the 1 needed", src.next)
		}
		if !pullAhead && src.next != 0 {
			t.Errorf("a filter that may wait read %d upstream chunks in Ready", src.next)
		}
	}
}
