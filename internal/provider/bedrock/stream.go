package bedrock

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/switchyard/switchyard/internal/llm"
)

// Limits that keep a broken or hostile upstream from making the adapter
// allocate without bound.
const (
	// maxFrame is the event-stream limit: 24 MiB payload plus 128 KiB headers, plus the 16-byte envelope.
	maxFrame = 24<<20 + 128<<10 + 16
	// maxOpenBlocks bounds the content blocks open at once in one answer.
	maxOpenBlocks = 256
)

type blockKind int

const (
	kindText blockKind = iota
	kindTool
	kindReasoning
)

type blockState struct {
	kind      blockKind
	toolIndex int
	hasInput  bool // a tool block streamed some input
	thinking  []byte
	signature []byte
}

// streamTranslator turns ConverseStream events into canonical chunks shaped
// like OpenAI's: a role chunk first, content, reasoning and tool-call
// deltas (tool calls numbered 0..n in order of appearance, id and name
// first, then argument fragments), a finish chunk, and a last usage chunk
// with no choices. Only a metadata event after messageStop ends it whole.
type streamTranslator struct {
	meta    respMeta
	started bool
	blocks  map[int]*blockState
	tools   int
	stopped bool // messageStop seen
	done    bool // metadata seen after messageStop
}

func newStreamTranslator(meta respMeta) *streamTranslator {
	return &streamTranslator{meta: meta, blocks: map[int]*blockState{}}
}

func (t *streamTranslator) chunk(d llm.Delta, finish llm.FinishReason) *llm.ChatChunk {
	return &llm.ChatChunk{ID: t.meta.id, Object: "chat.completion.chunk", Created: t.meta.created, Model: t.meta.model,
		Choices: []llm.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
}

// start emits the role chunk once, also for a stream that skipped messageStart.
func (t *streamTranslator) start(out []*llm.ChatChunk) []*llm.ChatChunk {
	if t.started {
		return out
	}
	t.started = true
	empty := ""
	return append(out, t.chunk(llm.Delta{Role: llm.RoleAssistant, Content: &empty}, ""))
}

func (t *streamTranslator) block(idx int, kind blockKind) (*blockState, error) {
	if b := t.blocks[idx]; b != nil {
		return b, nil
	}
	if idx < 0 || len(t.blocks) >= maxOpenBlocks {
		return nil, upstreamBroken(t.meta.errorContext, "opened too many content blocks")
	}
	b := &blockState{kind: kind}
	t.blocks[idx] = b
	return b, nil
}

// push translates one event, appending to out.
func (t *streamTranslator) push(eventType string, payload []byte, out []*llm.ChatChunk) ([]*llm.ChatChunk, error) {
	if t.done {
		return out, nil
	}
	broken := func(what string) error {
		return upstreamBroken(t.meta.errorContext, "sent a "+eventType+" event "+what)
	}
	switch eventType {
	case "messageStart":
		return t.start(out), nil
	case "contentBlockStart":
		var ev evBlockStart
		if json.Unmarshal(payload, &ev) != nil {
			return out, broken("that is not valid JSON")
		}
		out = t.start(out)
		if ev.Start.ToolUse == nil {
			return out, nil
		}
		if t.blocks[ev.ContentBlockIndex] != nil {
			return out, broken("for a block already started")
		}
		b, err := t.block(ev.ContentBlockIndex, kindTool)
		if err != nil {
			return out, err
		}
		b.toolIndex = t.tools
		t.tools++
		idx := b.toolIndex
		return append(out, t.chunk(llm.Delta{ToolCalls: []llm.ToolCall{{
			Index: &idx, ID: decodeToolID(ev.Start.ToolUse.ToolUseID), Type: "function",
			Function: llm.FunctionCall{Name: ev.Start.ToolUse.Name, Arguments: ""},
		}}}, "")), nil
	case "contentBlockDelta":
		var ev evBlockDelta
		if json.Unmarshal(payload, &ev) != nil {
			return out, broken("that is not valid JSON")
		}
		out = t.start(out)
		return t.delta(&ev, out)
	case "contentBlockStop":
		var ev evBlockStop
		if json.Unmarshal(payload, &ev) != nil {
			return out, broken("that is not valid JSON")
		}
		b := t.blocks[ev.ContentBlockIndex]
		delete(t.blocks, ev.ContentBlockIndex)
		if b != nil && b.kind == kindTool && !b.hasInput {
			// A call without arguments: say "{}" as OpenAI does, so that
			// clients parsing the arguments find JSON.
			idx := b.toolIndex
			return append(out, t.chunk(llm.Delta{ToolCalls: []llm.ToolCall{{Index: &idx, Function: llm.FunctionCall{Arguments: "{}"}}}}, "")), nil
		}
		if b == nil || b.kind != kindReasoning || (len(b.thinking) == 0 && len(b.signature) == 0) {
			return out, nil
		}
		// The client needs the whole signed block to replay it next turn.
		tb := llm.ThinkingBlock{Type: "thinking", Thinking: string(b.thinking), Signature: string(b.signature)}
		return append(out, t.chunk(llm.Delta{ThinkingBlocks: []llm.ThinkingBlock{tb}}, "")), nil
	case "messageStop":
		var ev evMessageStop
		if json.Unmarshal(payload, &ev) != nil {
			return out, broken("that is not valid JSON")
		}
		if t.stopped {
			return out, broken("twice")
		}
		finish, err := finishReason(ev.StopReason, t.meta.errorContext)
		if err != nil {
			return out, err
		}
		t.stopped = true
		out = t.start(out)
		return append(out, t.chunk(llm.Delta{}, finish)), nil
	case "metadata":
		var ev evMetadata
		if json.Unmarshal(payload, &ev) != nil {
			return out, broken("that is not valid JSON")
		}
		if !t.stopped {
			return out, broken("before messageStop")
		}
		t.done = true
		u := toUsage(ev.Usage)
		if u == nil {
			u = &llm.Usage{}
		}
		return append(out, &llm.ChatChunk{ID: t.meta.id, Object: "chat.completion.chunk", Created: t.meta.created,
			Model: t.meta.model, Choices: []llm.ChunkChoice{}, Usage: u}), nil
	}
	return out, nil // an event newer than this adapter
}

func (t *streamTranslator) delta(ev *evBlockDelta, out []*llm.ChatChunk) ([]*llm.ChatChunk, error) {
	d := &ev.Delta
	switch {
	case d.Text != nil:
		if *d.Text == "" {
			return out, nil
		}
		text := *d.Text
		return append(out, t.chunk(llm.Delta{Content: &text}, "")), nil
	case d.ToolUse != nil:
		b := t.blocks[ev.ContentBlockIndex]
		if b == nil || b.kind != kindTool {
			return out, upstreamBroken(t.meta.errorContext, "sent tool input for a block that never started a tool use")
		}
		if d.ToolUse.Input == "" {
			return out, nil
		}
		b.hasInput = true
		idx := b.toolIndex
		return append(out, t.chunk(llm.Delta{ToolCalls: []llm.ToolCall{{Index: &idx, Function: llm.FunctionCall{Arguments: d.ToolUse.Input}}}}, "")), nil
	case d.ReasoningContent != nil:
		rc := d.ReasoningContent
		if rc.RedactedContent != nil {
			tb := llm.ThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(rc.RedactedContent)}
			return append(out, t.chunk(llm.Delta{ThinkingBlocks: []llm.ThinkingBlock{tb}}, "")), nil
		}
		b, err := t.block(ev.ContentBlockIndex, kindReasoning)
		if err != nil {
			return out, err
		}
		if b.kind != kindReasoning {
			return out, upstreamBroken(t.meta.errorContext, "mixed reasoning into a non-reasoning block")
		}
		if rc.Signature != nil {
			b.signature = append(b.signature, *rc.Signature...)
		}
		if rc.Text != nil && *rc.Text != "" {
			b.thinking = append(b.thinking, *rc.Text...)
			return append(out, t.chunk(llm.Delta{ReasoningContent: *rc.Text}, "")), nil
		}
	}
	return out, nil
}

// end is called when the upstream body ends cleanly between frames.
func (t *streamTranslator) end() error {
	if !t.stopped {
		return upstreamBroken(t.meta.errorContext, "ended before messageStop; the answer is incomplete")
	}
	if !t.done {
		return upstreamBroken(t.meta.errorContext, "ended before its metadata event; the answer's usage is missing")
	}
	return io.EOF
}

// frameReader reads event-stream frames with the SDK's decoder, after
// checking the prelude's lengths so that a bad frame cannot demand memory.
type frameReader struct {
	r   *bufio.Reader
	dec *eventstream.Decoder
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 32<<10), dec: eventstream.NewDecoder()}
}

var errFrameTooLarge = errors.New("event-stream frame larger than 24 MiB")

// next returns the next frame, or io.EOF at a clean end between frames.
// Any other error means the body broke mid-frame.
func (f *frameReader) next() (eventstream.Message, error) {
	prelude, err := f.r.Peek(8)
	if err != nil {
		if errors.Is(err, io.EOF) && len(prelude) == 0 {
			return eventstream.Message{}, io.EOF
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return eventstream.Message{}, err
	}
	total, headers := binary.BigEndian.Uint32(prelude), binary.BigEndian.Uint32(prelude[4:])
	if total > maxFrame || uint64(headers)+16 > uint64(total) {
		return eventstream.Message{}, errFrameTooLarge
	}
	msg, err := f.dec.Decode(f.r, f.buf[:0])
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // EOF inside a frame is a cut, not an end
	}
	if err == nil && cap(msg.Payload) <= 64<<10 {
		f.buf = msg.Payload // reuse small buffers; the payload is consumed before the next call
	}
	return msg, err
}

func headerString(m *eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		if s, ok := v.Get().(string); ok {
			return s
		}
	}
	return ""
}

// converseStream is the llm.ChatStream of one ConverseStream answer.
type converseStream struct {
	ctx    context.Context
	body   io.ReadCloser
	frames *frameReader
	tr     *streamTranslator
	queue  []*llm.ChatChunk
	err    error // sticky: io.EOF after a complete answer
	close  sync.Once
}

func newConverseStream(ctx context.Context, body io.ReadCloser, meta respMeta) *converseStream {
	return &converseStream{ctx: ctx, body: body, frames: newFrameReader(body), tr: newStreamTranslator(meta)}
}

// Next returns the next canonical chunk, io.EOF after a complete answer,
// or an error when the answer was cut short or reported an exception.
func (s *converseStream) Next() (*llm.ChatChunk, error) {
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

func (s *converseStream) step(out []*llm.ChatChunk) ([]*llm.ChatChunk, error) {
	msg, err := s.frames.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return out, s.tr.end()
		}
		if cerr := s.ctx.Err(); cerr != nil {
			return out, cerr
		}
		return out, upstreamBroken(s.tr.meta.errorContext, "could not be read ("+oneLine(err)+")")
	}
	return translateFrame(s.tr, &msg, out)
}

// translateFrame dispatches one frame by its :message-type.
func translateFrame(tr *streamTranslator, msg *eventstream.Message, out []*llm.ChatChunk) ([]*llm.ChatChunk, error) {
	switch headerString(msg, ":message-type") {
	case "event":
		return tr.push(headerString(msg, ":event-type"), msg.Payload, out)
	case "exception":
		return out, exceptionError(headerString(msg, ":exception-type"), msg.Payload, tr.meta.errorContext)
	case "error":
		body, _ := json.Marshal(errorBody{Message: headerString(msg, ":error-message")})
		return out, exceptionError(headerString(msg, ":error-code"), body, tr.meta.errorContext)
	default:
		return out, upstreamBroken(tr.meta.errorContext, "sent a frame without a known :message-type")
	}
}

// Close releases the upstream connection; safe to call more than once and
// from another goroutine than Next.
func (s *converseStream) Close() error {
	var err error
	s.close.Do(func() { err = s.body.Close() })
	return err
}

// Upstream describes the provider's answer.
func (s *converseStream) Upstream() llm.Upstream { return s.tr.meta.up }
