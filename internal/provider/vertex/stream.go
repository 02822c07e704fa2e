package vertex

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
)

// maxCandidates bounds the candidate index a stream may name, so a broken
// upstream cannot make the translator allocate without limit.
const maxCandidates = 16

// streamTranslator turns Gemini stream chunks (whole GenerateContentResponse
// objects, text incremental, function calls whole) into canonical chunks
// shaped like OpenAI's: a role chunk first per choice, content and
// tool-call deltas, a finish chunk, and a last usage chunk with no choices.
type streamTranslator struct {
	meta    respMeta
	idSet   bool
	cands   []candState
	usage   *usageMetadata
	chunkID string
	model   string
}

type candState struct {
	started  bool
	finished bool
	calls    int
}

func newStreamTranslator(meta respMeta) *streamTranslator {
	return &streamTranslator{meta: meta, chunkID: meta.id, model: meta.model}
}

func (t *streamTranslator) chunk(choice llm.ChunkChoice) *llm.ChatChunk {
	return &llm.ChatChunk{ID: t.chunkID, Object: "chat.completion.chunk", Created: t.meta.created, Model: t.model, Choices: []llm.ChunkChoice{choice}}
}

// push translates one upstream chunk, appending to out.
func (t *streamTranslator) push(resp *generateContentResponse, out []*llm.ChatChunk) ([]*llm.ChatChunk, error) {
	if resp.Error != nil {
		return out, statusError(resp.Error, http.Header{}, t.meta.deployment)
	}
	if !t.idSet {
		t.idSet = true
		if resp.ResponseID != "" {
			t.chunkID = "chatcmpl-" + resp.ResponseID
		}
		if resp.ModelVersion != "" {
			t.model = resp.ModelVersion
		}
	}
	if len(resp.Candidates) == 0 && resp.PromptFeedback != nil && resp.PromptFeedback.BlockReason != "" {
		return out, noCandidatesError(resp.PromptFeedback, t.meta.deployment)
	}
	if resp.UsageMetadata != nil {
		t.usage = resp.UsageMetadata // each chunk's usage is cumulative: keep the last
	}
	for i := range resp.Candidates {
		c := &resp.Candidates[i]
		if c.Index < 0 || c.Index >= maxCandidates {
			return out, upstreamBroken(t.meta.deployment, "named candidate index out of range")
		}
		for len(t.cands) <= c.Index {
			t.cands = append(t.cands, candState{})
		}
		st := &t.cands[c.Index]
		if !st.started {
			st.started = true
			empty := ""
			out = append(out, t.chunk(llm.ChunkChoice{Index: c.Index, Delta: llm.Delta{Role: llm.RoleAssistant, Content: &empty}}))
		}
		first := len(out)
		for _, p := range partsOf(c.Content) {
			var d llm.Delta
			switch {
			case p.FunctionCall != nil:
				tc := toolCallOf(p, st.calls)
				idx := st.calls
				tc.Index = &idx
				st.calls++
				d.ToolCalls = []llm.ToolCall{tc}
			case p.Thought:
				d.ReasoningContent = p.Text
				if p.ThoughtSignature != "" {
					d.ThinkingBlocks = []llm.ThinkingBlock{{Type: "thinking", Thinking: p.Text, Signature: p.ThoughtSignature}}
				}
			default:
				if p.Text != "" {
					text := p.Text
					d.Content = &text
				}
				if p.ThoughtSignature != "" {
					d.ThinkingBlocks = []llm.ThinkingBlock{{Type: "thinking", Signature: p.ThoughtSignature}}
				}
			}
			if d.Content == nil && d.ToolCalls == nil && d.ReasoningContent == "" && d.ThinkingBlocks == nil {
				continue
			}
			out = append(out, t.chunk(llm.ChunkChoice{Index: c.Index, Delta: d}))
		}
		if c.FinishReason != "" && !st.finished {
			st.finished = true
			out = append(out, t.chunk(llm.ChunkChoice{Index: c.Index, FinishReason: llm.FinishReason(finishReason(c.FinishReason, st.calls > 0))}))
		}
		if lp := toLogprobs(c.LogprobsResult); lp != nil && len(out) > first {
			out[len(out)-1].Choices[0].Logprobs = lp
		}
	}
	return out, nil
}

// end is called at the end of the upstream body. Gemini ends a stream by
// closing it, so only a finishReason on every choice proves the answer is
// whole; without one the answer was cut short.
func (t *streamTranslator) end(out []*llm.ChatChunk) ([]*llm.ChatChunk, error) {
	complete := len(t.cands) > 0
	for _, c := range t.cands {
		if c.started && !c.finished {
			complete = false
		}
	}
	if !complete {
		e := llm.Errorf(http.StatusBadGateway, "the Vertex AI stream for deployment %q ended before completion (no finishReason); the answer is incomplete, retry the request", t.meta.deployment)
		e.Upstream = true
		return out, e
	}
	if u := toUsage(t.usage); u != nil {
		out = append(out, &llm.ChatChunk{ID: t.chunkID, Object: "chat.completion.chunk", Created: t.meta.created, Model: t.model, Choices: []llm.ChunkChoice{}, Usage: u})
	}
	return out, nil
}

func upstreamBroken(deployment, what string) *llm.Error {
	e := llm.Errorf(http.StatusBadGateway, "the Vertex AI stream for deployment %q broke: it %s; retry the request", deployment, what)
	e.Upstream = true
	return e
}

// eventReader splits a Gemini SSE body into events. Besides `data:` lines
// it keeps any other non-blank lines, because Google reports some stream
// failures as a bare google.rpc.Status JSON instead of an event.
type eventReader struct {
	r    *bufio.Reader
	data []byte
	raw  []byte
	line []byte
}

func newEventReader(r io.Reader) *eventReader {
	return &eventReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the next event's data, with isRaw set for bare JSON lines.
// The returned slice is valid until the next call.
func (e *eventReader) next() (data []byte, isRaw bool, err error) {
	e.data, e.raw = e.data[:0], e.raw[:0]
	hasData := false
	for {
		line, err := e.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				switch {
				case hasData:
					return e.data, false, nil
				case len(e.raw) > 0:
					return e.raw, true, nil
				}
			}
			return nil, false, err
		}
		switch {
		case len(line) == 0:
			if hasData {
				return e.data, false, nil
			}
			if len(e.raw) > 0 {
				return e.raw, true, nil
			}
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("data:")):
			v := line[5:]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			if hasData {
				e.data = append(e.data, '\n')
			}
			e.data = append(e.data, v...)
			hasData = true
		case bytes.HasPrefix(line, []byte("event:")), bytes.HasPrefix(line, []byte("id:")), bytes.HasPrefix(line, []byte("retry:")):
		default:
			e.raw = append(e.raw, line...)
			e.raw = append(e.raw, '\n')
		}
		if len(e.data)+len(e.raw) > sse.MaxEventSize {
			return nil, false, sse.ErrEventTooLarge
		}
	}
}

func (e *eventReader) readLine() ([]byte, error) {
	e.line = e.line[:0]
	for {
		chunk, err := e.r.ReadSlice('\n')
		e.line = append(e.line, chunk...)
		if len(e.line) > sse.MaxEventSize {
			return nil, sse.ErrEventTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (!errors.Is(err, io.EOF) || len(e.line) == 0) {
			return nil, err
		}
		return bytes.TrimRight(e.line, "\r\n"), nil
	}
}

// geminiStream is the llm.ChatStream of one streamGenerateContent answer.
type geminiStream struct {
	ctx      context.Context
	body     io.ReadCloser
	events   *eventReader
	tr       *streamTranslator
	queue    []*llm.ChatChunk
	err      error // sticky: io.EOF after a complete answer
	upstream llm.Upstream
	close    sync.Once
}

func newGeminiStream(ctx context.Context, body io.ReadCloser, meta respMeta, up llm.Upstream) *geminiStream {
	return &geminiStream{ctx: ctx, body: body, events: newEventReader(body), tr: newStreamTranslator(meta), upstream: up}
}

// Next returns the next canonical chunk, io.EOF after a complete answer,
// or an error when the answer was cut short or reported a failure.
func (s *geminiStream) Next() (*llm.ChatChunk, error) {
	for len(s.queue) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		s.queue, s.err = s.step(s.queue[:0])
	}
	c := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	return c, nil
}

func (s *geminiStream) step(out []*llm.ChatChunk) ([]*llm.ChatChunk, error) {
	data, isRaw, err := s.events.next()
	switch {
	case errors.Is(err, io.EOF):
		out, err = s.tr.end(out)
		if err == nil {
			err = io.EOF
		}
		return out, err
	case err != nil:
		if cerr := s.ctx.Err(); cerr != nil {
			return out, cerr
		}
		return out, upstreamBroken(s.tr.meta.deployment, "could not be read ("+oneLine(err)+")")
	case isRaw:
		if st := parseStatus(data); st != nil {
			return out, statusError(st, http.Header{}, s.tr.meta.deployment)
		}
		return out, upstreamBroken(s.tr.meta.deployment, "sent a line that is not an event")
	}
	var resp generateContentResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return out, upstreamBroken(s.tr.meta.deployment, "sent a chunk that is not a GenerateContentResponse")
	}
	return s.tr.push(&resp, out)
}

// Close releases the upstream connection; safe to call more than once and
// from another goroutine than Next.
func (s *geminiStream) Close() error {
	var err error
	s.close.Do(func() { err = s.body.Close() })
	return err
}

// Upstream describes the provider's answer.
func (s *geminiStream) Upstream() llm.Upstream { return s.upstream }
