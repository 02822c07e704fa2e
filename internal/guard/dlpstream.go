package guard

import (
	"context"

	"github.com/switchyard/switchyard/internal/dlp"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// Stream masks or blocks findings in a streamed answer (StreamScanner on
// the raw text) and then restores placeholders (StreamRestorer). Tool-call
// arguments are held until the choice finishes, so that restored values
// can be JSON-escaped; the policy stage holds them anyway.
func (d *dlpStage) Stream(ctx context.Context, c *gateway.Call, s llm.ChatStream) llm.ChatStream {
	sc := d.scanner(c)
	sess, _ := c.Get(stateSession).(*dlp.Session)
	if sc == nil && sess == nil {
		return s
	}
	ds := &dlpStream{stage: d, call: c, ctx: ctx, sc: sc, sess: sess, choices: map[int]*dlpChoice{}}
	// Scanning and restoring are in-process work: Ready may run them early.
	ds.f = &filterStream{src: s, onChunk: ds.chunk, onEnd: ds.end, pullAhead: true}
	return ds.f
}

type dlpStream struct {
	stage   *dlpStage
	call    *gateway.Call
	ctx     context.Context
	sc      *dlp.Scanner
	sess    *dlp.Session
	f       *filterStream
	choices map[int]*dlpChoice
}

type dlpChoice struct {
	scan    *dlp.StreamScanner
	restore *dlp.StreamRestorer
	tools   toolBuffer
	done    bool
}

func (s *dlpStream) choice(i int) *dlpChoice {
	ch := s.choices[i]
	if ch == nil {
		ch = &dlpChoice{restore: dlp.NewStreamRestorer(s.sess)}
		if s.sc != nil {
			ch.scan = s.sc.NewStreamScanner(dlp.StreamOptions{})
		}
		s.choices[i] = ch
	}
	return ch
}

// text passes a content delta through the scanner, then the restorer.
func (s *dlpStream) text(ch *dlpChoice, delta string) (string, error) {
	if ch.scan != nil {
		var err error
		if delta, err = ch.scan.Write(delta); err != nil {
			return "", answerBlocked(err)
		}
	}
	return ch.restore.Write(delta), nil
}

// flush releases what the choice holds: text and complete tool calls.
func (s *dlpStream) flush(idx int, ch *dlpChoice) (*llm.ChatChunk, error) {
	ch.done = true
	out := ""
	if ch.scan != nil {
		t, err := ch.scan.Flush()
		if err != nil {
			return nil, answerBlocked(err)
		}
		addFindings(s.call, "response", ch.scan.Findings())
		s.stage.alert(s.ctx, s.call, "response", ch.scan.Findings())
		out = ch.restore.Write(t)
	}
	out += ch.restore.Flush()
	calls := ch.tools.take()
	for i := range calls {
		f := &calls[i].Function
		if s.sc != nil {
			args, fs, err := s.sc.Apply(f.Arguments, nil)
			addFindings(s.call, "response", fs)
			if err != nil {
				return nil, answerBlocked(err)
			}
			f.Arguments = args
		}
		f.Arguments = restoreJSON(s.sess, f.Arguments)
	}
	if out == "" && len(calls) == 0 {
		return nil, nil
	}
	cc := llm.ChunkChoice{Index: idx, Delta: llm.Delta{ToolCalls: calls}}
	if out != "" {
		cc.Delta.Content = strp(out)
	}
	return s.f.chunk(cc), nil
}

func (s *dlpStream) chunk(c *llm.ChatChunk) ([]*llm.ChatChunk, error) {
	var before []*llm.ChatChunk
	for i := range c.Choices {
		cc := &c.Choices[i]
		ch := s.choice(cc.Index)
		if cc.Delta.Content != nil {
			t, err := s.text(ch, *cc.Delta.Content)
			if err != nil {
				return nil, err
			}
			if t == "" && cc.Delta.Role == "" {
				cc.Delta.Content = nil
			} else {
				cc.Delta.Content = &t
			}
		}
		for _, tc := range cc.Delta.ToolCalls {
			ch.tools.add(tc)
		}
		cc.Delta.ToolCalls = nil
		if cc.FinishReason != "" {
			pre, err := s.flush(cc.Index, ch)
			if err != nil {
				return nil, err
			}
			if pre != nil {
				before = append(before, pre)
			}
		}
	}
	if c = pruned(c); c != nil {
		before = append(before, c)
	}
	return before, nil
}

func (s *dlpStream) end() ([]*llm.ChatChunk, error) {
	var out []*llm.ChatChunk
	for idx, ch := range s.choices {
		if ch.done {
			continue
		}
		c, err := s.flush(idx, ch)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}
