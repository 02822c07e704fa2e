package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyard/switchyard/internal/llm"
)

// blockKind is what an open content block turns into canonically.
type blockKind uint8

const (
	kindOther blockKind = iota
	kindText
	kindTool
	kindStructured // tool_use of StructuredOutputTool: streamed as content
	kindThinking
)

type streamBlock struct {
	kind      blockKind
	toolIndex int    // OpenAI tool_calls index, for kindTool
	thinking  []byte // accumulated, for kindThinking
	signature []byte
}

// StreamTranslator turns one Messages SSE stream into canonical chunks. It
// is stateful and not safe for concurrent use: feed it every event of one
// stream, in order.
type StreamTranslator struct {
	id, model  string
	created    int64
	usage      Usage
	blocks     map[int]*streamBlock
	tools      int // tool_use blocks seen, the next OpenAI index
	structured bool
	done       bool // message_stop seen
}

// NewStreamTranslator returns a translator whose chunks carry created.
func NewStreamTranslator(created int64) *StreamTranslator {
	return &StreamTranslator{created: created, blocks: make(map[int]*streamBlock)}
}

// Done reports whether message_stop arrived. A stream that ends before
// Done is cut short and must reach the client as an error.
func (t *StreamTranslator) Done() bool { return t.done }

// Event translates one SSE event; name is its `event:` field, or "" to take
// the type from data. It returns the chunks to send (possibly none), or an
// *llm.Error for an `error` event, or an error for malformed data.
// Unknown event types are ignored, as Anthropic's versioning asks.
func (t *StreamTranslator) Event(name string, data []byte) ([]*llm.ChatChunk, error) {
	var ev StreamEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		if name == "error" {
			return nil, StreamError(ErrAPI, "")
		}
		return nil, malformed(fmt.Sprintf("an undecodable %q event: %v", name, err))
	}
	if name == "" {
		name = ev.Type
	}
	if t.done && name != "error" {
		return nil, nil
	}
	switch name {
	case "ping":
		return nil, nil
	case "error":
		if ev.Error == nil {
			return nil, StreamError(ErrAPI, "")
		}
		return nil, StreamError(ev.Error.Type, ev.Error.Message)
	case "message_start":
		if ev.Message == nil {
			return nil, malformed("message_start without a message")
		}
		t.id, t.model, t.usage = ev.Message.ID, ev.Message.Model, ev.Message.Usage
		empty := ""
		return t.one(llm.Delta{Role: llm.RoleAssistant, Content: &empty}, ""), nil
	case "content_block_start":
		return t.blockStart(ev)
	case "content_block_delta":
		return t.blockDelta(ev)
	case "content_block_stop":
		b := t.blocks[ev.Index]
		if b == nil || b.kind != kindThinking {
			return nil, nil
		}
		// The client needs the whole signed block to replay it next turn.
		tb := llm.ThinkingBlock{Type: BlockThinking, Thinking: string(b.thinking), Signature: string(b.signature)}
		return t.one(llm.Delta{ThinkingBlocks: []llm.ThinkingBlock{tb}}, ""), nil
	case "message_delta":
		if ev.Usage != nil {
			t.usage.OutputTokens = ev.Usage.OutputTokens
			setIf(&t.usage.InputTokens, ev.Usage.InputTokens)
			setIf(&t.usage.CacheReadInputTokens, ev.Usage.CacheReadInputTokens)
			setIf(&t.usage.CacheCreationInputTokens, ev.Usage.CacheCreationInputTokens)
		}
		if ev.Delta == nil || ev.Delta.StopReason == "" {
			return nil, nil
		}
		finish := FinishReason(ev.Delta.StopReason)
		if t.structured && finish == llm.FinishToolCalls {
			finish = llm.FinishStop
		}
		return t.one(llm.Delta{}, finish), nil
	case "message_stop":
		t.done = true
		c := t.chunk()
		c.Choices = []llm.ChunkChoice{}
		c.Usage = ChatUsage(t.usage)
		return []*llm.ChatChunk{c}, nil
	}
	return nil, nil
}

func (t *StreamTranslator) blockStart(ev StreamEvent) ([]*llm.ChatChunk, error) {
	cb := ev.ContentBlock
	if cb == nil {
		return nil, malformed("content_block_start without a content_block")
	}
	b := &streamBlock{}
	t.blocks[ev.Index] = b
	switch cb.Type {
	case BlockText:
		b.kind = kindText
		if cb.Text != "" {
			return t.text(cb.Text), nil
		}
	case BlockThinking:
		b.kind = kindThinking
		b.thinking = append(b.thinking, cb.Thinking...)
		b.signature = append(b.signature, cb.Signature...)
		if cb.Thinking != "" {
			return t.one(llm.Delta{ReasoningContent: cb.Thinking}, ""), nil
		}
	case BlockRedactedThinking:
		tb := llm.ThinkingBlock{Type: BlockRedactedThinking, Data: cb.Data}
		return t.one(llm.Delta{ThinkingBlocks: []llm.ThinkingBlock{tb}}, ""), nil
	case BlockToolUse:
		if cb.Name == StructuredOutputTool {
			b.kind, t.structured = kindStructured, true
			return nil, nil
		}
		b.kind, b.toolIndex = kindTool, t.tools
		t.tools++
		idx := b.toolIndex
		tc := llm.ToolCall{Index: &idx, ID: cb.ID, Type: "function", Function: llm.FunctionCall{Name: cb.Name, Arguments: ""}}
		return t.one(llm.Delta{ToolCalls: []llm.ToolCall{tc}}, ""), nil
	}
	return nil, nil
}

func (t *StreamTranslator) blockDelta(ev StreamEvent) ([]*llm.ChatChunk, error) {
	b := t.blocks[ev.Index]
	if b == nil {
		return nil, malformed(fmt.Sprintf("content_block_delta for block %d, which never started", ev.Index))
	}
	if ev.Delta == nil {
		return nil, nil
	}
	d := ev.Delta
	switch d.Type {
	case "text_delta":
		if d.Text != "" {
			return t.text(d.Text), nil
		}
	case "input_json_delta":
		if d.PartialJSON == "" {
			return nil, nil
		}
		switch b.kind {
		case kindStructured:
			return t.text(d.PartialJSON), nil
		case kindTool:
			idx := b.toolIndex
			tc := llm.ToolCall{Index: &idx, Function: llm.FunctionCall{Arguments: d.PartialJSON}}
			return t.one(llm.Delta{ToolCalls: []llm.ToolCall{tc}}, ""), nil
		}
	case "thinking_delta":
		b.thinking = append(b.thinking, d.Thinking...)
		if d.Thinking != "" {
			return t.one(llm.Delta{ReasoningContent: d.Thinking}, ""), nil
		}
	case "signature_delta":
		b.signature = append(b.signature, d.Signature...)
	}
	return nil, nil
}

func (t *StreamTranslator) text(s string) []*llm.ChatChunk {
	return t.one(llm.Delta{Content: &s}, "")
}

func (t *StreamTranslator) one(d llm.Delta, finish llm.FinishReason) []*llm.ChatChunk {
	c := t.chunk()
	c.Choices = []llm.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}
	return []*llm.ChatChunk{c}
}

func (t *StreamTranslator) chunk() *llm.ChatChunk {
	return &llm.ChatChunk{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model}
}

func setIf(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func malformed(what string) *llm.Error {
	e := llm.Errorf(http.StatusBadGateway, "the Anthropic stream sent %s", what)
	e.Upstream = true
	return e
}
