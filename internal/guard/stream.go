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
	// pullAhead lets Ready run chunks that have already arrived through
	// onChunk, so it can promise output; without it Ready promises only
	// what is queued. Ready must never wait: the front door may hold
	// unflushed bytes while it asks. So a filter whose onChunk may wait
	// (a store write, say) names those chunks in waitsOn, and sets
	// endWaits if onEnd may; Ready leaves them to Next.
	pullAhead bool
	waitsOn   func(*llm.ChatChunk) bool
	endWaits  bool

	held  *llm.ChatChunk // pulled by Ready, left for Next to filter
	atEnd bool           // Ready saw the upstream end; Next runs onEnd

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
		switch {
		case f.held != nil:
			c := f.held
			f.held = nil
			f.filter(c)
		case f.atEnd:
			f.atEnd = false
			f.end()
		default:
			f.pull()
		}
	}
}

// Ready implements llm.ReadyStream: Next will not wait when output is
// queued, the stream has ended or failed, or (with pullAhead) upstream
// chunks that have already arrived yield some.
func (f *filterStream) Ready() bool {
	for f.pullAhead && len(f.queue) == 0 && f.err == nil && !f.ended && f.held == nil && !f.atEnd && llm.Ready(f.src) {
		c, err := f.src.Next()
		switch {
		case errors.Is(err, io.EOF) && f.endWaits:
			f.atEnd = true
		case errors.Is(err, io.EOF):
			f.end()
		case err != nil:
			f.err = err
		case f.waitsOn != nil && f.waitsOn(c):
			f.held = c
		default:
			f.filter(c)
		}
	}
	return len(f.queue) > 0 || f.err != nil || f.ended
}

// pull reads one upstream chunk (or the end) through the filter into the
// queue; an upstream error sticks.
func (f *filterStream) pull() {
	c, err := f.src.Next()
	switch {
	case errors.Is(err, io.EOF):
		f.end()
	case err != nil:
		f.err = err
	default:
		f.filter(c)
	}
}

// filter runs one upstream chunk through onChunk into the queue.
func (f *filterStream) filter(c *llm.ChatChunk) {
	c.Edit() // what onChunk passes on is encoded anew, changed or not
	f.last = c
	out, err := f.onChunk(c)
	f.queue, f.err = append(f.queue, out...), err
}

// end marks the upstream ended and queues what onEnd adds.
func (f *filterStream) end() {
	f.ended = true
	if f.onEnd != nil {
		out, err := f.onEnd()
		f.queue, f.err = append(f.queue, out...), err
	}
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
