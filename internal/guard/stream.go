package guard

import (
	"errors"
	"io"

	"github.com/switchyard/switchyard/internal/llm"
)

// filterStream rewrites a stream chunk by chunk: onChunk turns each
// upstream chunk into the chunks to send (none, to hold it back), onEnd
// adds what was held when the upstream ends.
type filterStream struct {
	src     llm.ChatStream
	onChunk func(*llm.ChatChunk) ([]*llm.ChatChunk, error)
	onEnd   func() ([]*llm.ChatChunk, error)
	// pullAhead says onChunk and onEnd never wait (no network, no store),
	// so Ready may run them on chunks that have already arrived. Without
	// it Ready promises only what is queued: a filter that may wait must
	// not do so while the front door holds unflushed bytes.
	pullAhead bool

	queue []*llm.ChatChunk
	ended bool
	err   error
	last  *llm.ChatChunk // identity (id, model, created) for made-up chunks
}

func (f *filterStream) Next() (*llm.ChatChunk, error) {
	for {
		if len(f.queue) > 0 {
			c := f.queue[0]
			f.queue = f.queue[1:]
			return c, nil
		}
		if f.err != nil {
			return nil, f.err
		}
		if f.ended {
			return nil, io.EOF
		}
		f.pull()
	}
}

// Ready implements llm.ReadyStream: Next will not wait when output is
// queued, the stream has ended or failed, or (with pullAhead) upstream
// chunks that have already arrived yield some.
func (f *filterStream) Ready() bool {
	for f.pullAhead && len(f.queue) == 0 && f.err == nil && !f.ended && llm.Ready(f.src) {
		f.pull()
	}
	return len(f.queue) > 0 || f.err != nil || f.ended
}

// pull reads one upstream chunk (or the end) through the filter into the
// queue; an upstream error sticks.
func (f *filterStream) pull() {
	c, err := f.src.Next()
	if errors.Is(err, io.EOF) {
		f.ended = true
		if f.onEnd != nil {
			out, err := f.onEnd()
			f.queue, f.err = append(f.queue, out...), err
		}
		return
	}
	if err != nil {
		f.err = err
		return
	}
	f.last = c
	out, err := f.onChunk(c)
	f.queue, f.err = append(f.queue, out...), err
}

func (f *filterStream) Close() error           { return f.src.Close() }
func (f *filterStream) Upstream() llm.Upstream { return f.src.Upstream() }

// chunk makes a chunk with f's identity carrying one choice.
func (f *filterStream) chunk(ch llm.ChunkChoice) *llm.ChatChunk {
	c := &llm.ChatChunk{Object: "chat.completion.chunk", Choices: []llm.ChunkChoice{ch}}
	if f.last != nil {
		c.ID, c.Model, c.Created, c.SystemFingerprint = f.last.ID, f.last.Model, f.last.Created, f.last.SystemFingerprint
	}
	return c
}

// toolBuffer collects the tool-call deltas of one choice until the calls
// are complete.
type toolBuffer struct {
	calls []llm.ToolCall
	pos   map[int]int // delta index -> position in calls
}

func (b *toolBuffer) add(d llm.ToolCall) {
	idx := 0
	if d.Index != nil {
		idx = *d.Index
	}
	if b.pos == nil {
		b.pos = map[int]int{}
	}
	p, ok := b.pos[idx]
	if !ok {
		p = len(b.calls)
		b.pos[idx] = p
		b.calls = append(b.calls, llm.ToolCall{Type: "function"})
	}
	c := &b.calls[p]
	if d.ID != "" {
		c.ID = d.ID
	}
	if d.Type != "" {
		c.Type = d.Type
	}
	if d.Function.Name != "" {
		c.Function.Name = d.Function.Name
	}
	if d.ThoughtSignature != "" {
		c.ThoughtSignature = d.ThoughtSignature
	}
	c.Function.Arguments += d.Function.Arguments
}

// take returns the complete calls, indexed 0..n-1 for the client, and
// empties the buffer.
func (b *toolBuffer) take() []llm.ToolCall {
	out := b.calls
	b.calls, b.pos = nil, nil
	return indexed(out)
}

func indexed(calls []llm.ToolCall) []llm.ToolCall {
	for i := range calls {
		n := i
		calls[i].Index = &n
	}
	return calls
}

// emptyDelta reports whether a choice carries nothing worth sending.
func emptyDelta(ch *llm.ChunkChoice) bool {
	d := &ch.Delta
	return ch.FinishReason == "" && d.Role == "" && d.Content == nil && d.Refusal == nil && len(d.ToolCalls) == 0 &&
		d.ReasoningContent == "" && len(d.ThinkingBlocks) == 0 && len(ch.Logprobs) == 0
}

// pruned drops the choices with nothing in them; it returns nil when the
// chunk has no choice and no usage left.
func pruned(c *llm.ChatChunk) *llm.ChatChunk {
	kept := c.Choices[:0]
	for _, ch := range c.Choices {
		if !emptyDelta(&ch) {
			kept = append(kept, ch)
		}
	}
	had := len(c.Choices) > 0
	c.Choices = kept
	if had && len(kept) == 0 && c.Usage == nil {
		return nil
	}
	return c
}

func strp(s string) *string { return &s }
