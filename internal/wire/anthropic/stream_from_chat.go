package anthropic

import (
	"encoding/json"

	"github.com/switchyard/switchyard/internal/llm"
)

// Event is one Messages SSE event: its name (the `event:` field, equal to
// the data's type) and its JSON data.
type Event struct {
	Name string
	Data []byte
}

// EventEncoder turns canonical chunks into the Messages SSE event
// sequence: message_start, content_block_start/delta/stop per block,
// message_delta, message_stop. It is stateful and not safe for concurrent
// use. Call Chunk for every chunk, then Finish at the stream's clean end,
// or Error when the stream failed (and nothing after it).
type EventEncoder struct {
	id, model  string
	started    bool
	open       int // index of the open block, or -1
	openKind   blockKind
	next       int         // index of the next block
	toolBlocks map[int]int // OpenAI tool index -> block index
	stop       string
	usage      *llm.Usage
	events     []Event
}

// NewEventEncoder returns an encoder for one message; id and model go in
// message_start (the first chunk's own values win when they are set).
func NewEventEncoder(id, model string) *EventEncoder {
	return &EventEncoder{id: id, model: model, open: -1, toolBlocks: make(map[int]int)}
}

// Chunk returns the events for one chunk. The returned slice is reused by
// the next call.
func (e *EventEncoder) Chunk(c *llm.ChatChunk) []Event {
	e.events = e.events[:0]
	e.start(c)
	if c.Usage != nil {
		e.usage = c.Usage
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // Anthropic has one choice; the front door never asks for more.
		}
		e.delta(&ch.Delta)
		if ch.FinishReason != "" {
			e.closeOpen()
			e.stop = StopReason(ch.FinishReason)
		}
	}
	return e.events
}

// Finish closes the message: the open block's stop, message_delta with the
// stop reason and usage, and message_stop.
func (e *EventEncoder) Finish() []Event {
	e.events = e.events[:0]
	e.start(&llm.ChatChunk{})
	e.closeOpen()
	stop := e.stop
	if stop == "" {
		stop = StopEndTurn
	}
	u := MessagesUsage(e.usage)
	du := DeltaUsage{OutputTokens: u.OutputTokens}
	if e.usage != nil {
		du.InputTokens = &u.InputTokens
		du.CacheReadInputTokens = &u.CacheReadInputTokens
		du.CacheCreationInputTokens = &u.CacheCreationInputTokens
	}
	type stopDelta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	e.emit("message_delta", struct {
		Type  string      `json:"type"`
		Delta stopDelta   `json:"delta"`
		Usage *DeltaUsage `json:"usage"`
	}{"message_delta", stopDelta{StopReason: stop}, &du})
	e.emit("message_stop", struct {
		Type string `json:"type"`
	}{"message_stop"})
	return e.events
}

// Error returns the `error` event for a stream that failed after it began;
// no message_stop follows, so SDKs surface it as an error.
func (e *EventEncoder) Error(err *llm.Error) Event {
	return Event{Name: "error", Data: marshalEvent(ErrorBody(err, ""))}
}

func (e *EventEncoder) start(c *llm.ChatChunk) {
	if e.started {
		return
	}
	e.started = true
	if c.ID != "" {
		e.id = c.ID
	}
	if c.Model != "" {
		e.model = c.Model
	}
	msg := MessagesResponse{ID: e.id, Type: "message", Role: RoleAssistant, Model: e.model, Content: []ContentBlock{}, Usage: MessagesUsage(c.Usage)}
	e.emit("message_start", struct {
		Type    string           `json:"type"`
		Message MessagesResponse `json:"message"`
	}{"message_start", msg})
}

func (e *EventEncoder) delta(d *llm.Delta) {
	if d.ReasoningContent != "" {
		e.ensure(kindThinking, ContentBlock{Type: BlockThinking})
		e.blockDelta(EventDelta{Type: "thinking_delta", Thinking: d.ReasoningContent})
	}
	for _, tb := range d.ThinkingBlocks {
		if tb.Type == BlockRedactedThinking {
			e.closeOpen()
			e.startBlock(kindOther, ContentBlock{Type: BlockRedactedThinking, Data: tb.Data})
			e.closeOpen()
			continue
		}
		// A complete signed block: its text was streamed as reasoning
		// already when a thinking block is open.
		if e.openKind != kindThinking || e.open < 0 {
			e.ensure(kindThinking, ContentBlock{Type: BlockThinking})
			if tb.Thinking != "" {
				e.blockDelta(EventDelta{Type: "thinking_delta", Thinking: tb.Thinking})
			}
		}
		if tb.Signature != "" {
			e.blockDelta(EventDelta{Type: "signature_delta", Signature: tb.Signature})
		}
		e.closeOpen()
	}
	text := ""
	if d.Content != nil {
		text = *d.Content
	}
	if d.Refusal != nil {
		text += *d.Refusal
	}
	if text != "" {
		e.ensure(kindText, ContentBlock{Type: BlockText})
		e.blockDelta(EventDelta{Type: "text_delta", Text: text})
	}
	for _, tc := range d.ToolCalls {
		idx := 0
		if tc.Index != nil {
			idx = *tc.Index
		}
		block, known := e.toolBlocks[idx]
		if !known || tc.ID != "" && tc.Function.Name != "" {
			e.closeOpen()
			block = e.startBlock(kindTool, ContentBlock{Type: BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: json.RawMessage("{}")})
			e.toolBlocks[idx] = block
		}
		if tc.Function.Arguments != "" {
			e.emit("content_block_delta", blockDeltaEvent{"content_block_delta", block, EventDelta{Type: "input_json_delta", PartialJSON: tc.Function.Arguments}})
		}
	}
}

type blockDeltaEvent struct {
	Type  string     `json:"type"`
	Index int        `json:"index"`
	Delta EventDelta `json:"delta"`
}

// ensure opens a block of kind unless one is open already.
func (e *EventEncoder) ensure(kind blockKind, b ContentBlock) {
	if e.open >= 0 && e.openKind == kind {
		return
	}
	e.closeOpen()
	e.startBlock(kind, b)
}

func (e *EventEncoder) startBlock(kind blockKind, b ContentBlock) int {
	idx := e.next
	e.next++
	e.open, e.openKind = idx, kind
	e.emit("content_block_start", struct {
		Type         string       `json:"type"`
		Index        int          `json:"index"`
		ContentBlock ContentBlock `json:"content_block"`
	}{"content_block_start", idx, b})
	return idx
}

func (e *EventEncoder) blockDelta(d EventDelta) {
	e.emit("content_block_delta", blockDeltaEvent{"content_block_delta", e.open, d})
}

func (e *EventEncoder) closeOpen() {
	if e.open < 0 {
		return
	}
	e.emit("content_block_stop", struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}{"content_block_stop", e.open})
	e.open = -1
}

func (e *EventEncoder) emit(name string, v any) {
	e.events = append(e.events, Event{Name: name, Data: marshalEvent(v)})
}
