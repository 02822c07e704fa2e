package guard

import (
	"context"
	"strings"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// Stream passes text deltas through at once and holds each choice's
// tool-call deltas until the calls are complete (the choice's finish
// chunk, or the end of the stream); then it judges them and sends the
// calls the client may have, and a note for those it may not.
func (p *policyStage) Stream(ctx context.Context, c *gateway.Call, s llm.ChatStream) llm.ChatStream {
	r, _ := c.Get(stateResume).(*resume)
	if !p.engine.Load().HasToolRules() && r == nil {
		return s // nothing to judge: tool calls stream through
	}
	ps := &policyStream{p: p, c: c, ctx: ctx, bufs: map[int]*toolBuffer{}, text: map[int]*strings.Builder{}}
	// Judging held tool calls may record an approval in the store, so
	// Ready leaves the chunks that finish a choice, and the end, to Next;
	// text deltas in between are filtered ahead.
	ps.f = &filterStream{src: s, onChunk: ps.chunk, onEnd: ps.end, pullAhead: true, waitsOn: finishesAChoice, endWaits: true}
	if r != nil && r.a.Tool != "" && r.held.Answer != nil {
		// A resubmission: the held answer replaces the fresh one, which is
		// read to its end so that its usage is accounted.
		ps.f.onChunk = ps.drain
		ps.f.onEnd = func() ([]*llm.ChatChunk, error) { return ps.release(r) }
		ps.f.waitsOn = nil
	}
	return ps.f
}

// finishesAChoice reports whether c ends a choice, where the policy
// filter judges that choice's tool calls.
func finishesAChoice(c *llm.ChatChunk) bool {
	for _, cc := range c.Choices {
		if cc.FinishReason != "" {
			return true
		}
	}
	return false
}

type policyStream struct {
	p     *policyStage
	c     *gateway.Call
	ctx   context.Context
	f     *filterStream
	bufs  map[int]*toolBuffer
	text  map[int]*strings.Builder
	usage *llm.ChatChunk
}

func (s *policyStream) chunk(c *llm.ChatChunk) ([]*llm.ChatChunk, error) {
	var out []*llm.ChatChunk
	for i := range c.Choices {
		cc := &c.Choices[i]
		if len(cc.Delta.ToolCalls) > 0 {
			b := s.bufs[cc.Index]
			if b == nil {
				b = &toolBuffer{}
				s.bufs[cc.Index] = b
			}
			for _, tc := range cc.Delta.ToolCalls {
				b.add(tc)
			}
			cc.Delta.ToolCalls = nil
		}
		if cc.Delta.Content != nil {
			t := s.text[cc.Index]
			if t == nil {
				t = &strings.Builder{}
				s.text[cc.Index] = t
			}
			t.WriteString(*cc.Delta.Content)
		}
		if cc.FinishReason != "" {
			pre, err := s.decide(cc.Index, &cc.FinishReason)
			if err != nil {
				return nil, err
			}
			if pre != nil {
				out = append(out, pre)
			}
		}
	}
	if c = pruned(c); c != nil {
		out = append(out, c)
	}
	return out, nil
}

// decide judges the held calls of choice idx and returns the chunk that
// carries the outcome, or nil; it adjusts the choice's finish reason.
func (s *policyStream) decide(idx int, finish *llm.FinishReason) (*llm.ChatChunk, error) {
	b := s.bufs[idx]
	if b == nil || len(b.calls) == 0 {
		return nil, nil
	}
	calls := b.take()
	text := ""
	if t := s.text[idx]; t != nil {
		text = t.String()
	}
	v, err := s.p.judge(s.ctx, s.c, calls, func(awaiting []llm.ToolCall, notes []string) *llm.ChatResponse {
		r := &llm.ChatResponse{Object: "chat.completion", Choices: []llm.Choice{{Index: idx,
			Message:      llm.Message{Role: llm.RoleAssistant, Content: llm.TextContent(joinNotes(text, notes)), ToolCalls: indexed(awaiting)},
			FinishReason: llm.FinishToolCalls}}}
		if l := s.f.last; l != nil {
			r.ID, r.Model, r.Created = l.ID, l.Model, l.Created
		}
		return r
	})
	if err != nil {
		return nil, err
	}
	if finish != nil && len(v.kept) == 0 && *finish == llm.FinishToolCalls {
		*finish = llm.FinishStop
	}
	if len(v.kept) == 0 && len(v.notes) == 0 {
		return nil, nil
	}
	cc := llm.ChunkChoice{Index: idx, Delta: llm.Delta{ToolCalls: indexed(v.kept)}}
	if len(v.notes) > 0 {
		note := strings.Join(v.notes, "\n")
		if text != "" {
			note = "\n\n" + note
		}
		cc.Delta.Content = &note
	}
	return s.f.chunk(cc), nil
}

func (s *policyStream) end() ([]*llm.ChatChunk, error) {
	var out []*llm.ChatChunk
	for idx := range s.bufs {
		pre, err := s.decide(idx, nil)
		if err != nil {
			return nil, err
		}
		if pre != nil {
			out = append(out, pre)
		}
	}
	return out, nil
}

func (s *policyStream) drain(c *llm.ChatChunk) ([]*llm.ChatChunk, error) {
	if c.Usage != nil {
		s.usage = c
	}
	return nil, nil
}

// release sends the held answer of a resubmission as a stream.
func (s *policyStream) release(r *resume) ([]*llm.ChatChunk, error) {
	h, err := s.p.resumed(s.ctx, s.c, r)
	if err != nil {
		return nil, err
	}
	var out []*llm.ChatChunk
	for _, ch := range h.Choices {
		m := ch.Message
		first := llm.Delta{Role: llm.RoleAssistant}
		if text := m.Content.String(); text != "" {
			first.Content = &text
		}
		out = append(out, s.f.chunk(llm.ChunkChoice{Index: ch.Index, Delta: first}))
		if len(m.ToolCalls) > 0 {
			out = append(out, s.f.chunk(llm.ChunkChoice{Index: ch.Index, Delta: llm.Delta{ToolCalls: indexed(m.ToolCalls)}}))
		}
		out = append(out, s.f.chunk(llm.ChunkChoice{Index: ch.Index, FinishReason: ch.FinishReason}))
	}
	if s.usage != nil {
		out = append(out, s.usage)
	}
	return out, nil
}
