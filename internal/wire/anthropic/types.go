package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// Version is the anthropic-version header value this package speaks.
const Version = "2023-06-01"

// Roles of a Messages API turn.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Content block types.
const (
	BlockText             = "text"
	BlockImage            = "image"
	BlockToolUse          = "tool_use"
	BlockToolResult       = "tool_result"
	BlockThinking         = "thinking"
	BlockRedactedThinking = "redacted_thinking"
)

// Stop reasons.
const (
	StopEndTurn      = "end_turn"
	StopMaxTokens    = "max_tokens"
	StopStopSequence = "stop_sequence"
	StopToolUse      = "tool_use"
	StopPauseTurn    = "pause_turn"
	StopRefusal      = "refusal"
	// StopContextWindowExceeded is a beta stop reason, mapped to "length".
	StopContextWindowExceeded = "model_context_window_exceeded"
)

// MessagesRequest is the body of POST /v1/messages.
type MessagesRequest struct {
	// Model is omitted for Claude on Vertex AI, which takes it from the URL.
	Model         string         `json:"model,omitempty"`
	MaxTokens     int            `json:"max_tokens"`
	Messages      []MessageParam `json:"messages"`
	System        *Content       `json:"system,omitempty"`
	Tools         []Tool         `json:"tools,omitempty"`
	ToolChoice    *ToolChoice    `json:"tool_choice,omitempty"`
	StopSequences []string       `json:"stop_sequences,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
	TopP          *float64       `json:"top_p,omitempty"`
	TopK          *int           `json:"top_k,omitempty"`
	Stream        bool           `json:"stream,omitempty"`
	Metadata      *Metadata      `json:"metadata,omitempty"`
	// Thinking is the extended-thinking config, passed through verbatim:
	// {"type":"enabled","budget_tokens":N} or {"type":"disabled"}.
	Thinking json.RawMessage `json:"thinking,omitempty"`
	// AnthropicVersion goes in the body for Vertex AI ("vertex-2023-10-16")
	// and Bedrock; the first-party API takes it as a header instead.
	AnthropicVersion string `json:"anthropic_version,omitempty"`

	// Extra holds body fields this package does not model. ToChat rejects
	// them by name; MarshalJSON writes them back out.
	Extra map[string]json.RawMessage `json:"-"`
}

// MessageParam is one turn of the conversation.
type MessageParam struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a string or a list of content blocks: message content, the
// system prompt and tool_result content all take either shape.
type Content struct {
	// Text is the content when it was a plain string.
	Text string
	// Blocks is the content when it was a list; nil otherwise.
	Blocks []ContentBlock
}

// TextContent returns string content.
func TextContent(s string) Content { return Content{Text: s} }

// BlocksContent returns list content.
func BlocksContent(blocks ...ContentBlock) Content {
	if blocks == nil {
		blocks = []ContentBlock{}
	}
	return Content{Blocks: blocks}
}

// MarshalJSON writes a string or an array of blocks.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Blocks != nil {
		return json.Marshal(c.Blocks)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON reads a string or an array of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.Text)
	case len(b) > 0 && b[0] == '[':
		var blocks []ContentBlock
		if err := json.Unmarshal(b, &blocks); err != nil {
			return err
		}
		c.Blocks = BlocksContent(blocks...).Blocks
		return nil
	case string(b) == "null":
		return nil
	default:
		return errors.New("content must be a string or an array of content blocks")
	}
}

// ContentBlock is one block of any type; which fields are set depends on
// Type. Decoding keeps every known field; encoding writes exactly the fields
// of the block's type.
type ContentBlock struct {
	Type string `json:"type"`
	// Text is the text of a text block.
	Text string `json:"text,omitempty"`
	// Source is an image block's image.
	Source *ImageSource `json:"source,omitempty"`
	// ID, Name and Input describe a tool_use block; Input is a JSON object.
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// ToolUseID, ResultContent and IsError describe a tool_result block.
	ToolUseID     string   `json:"tool_use_id,omitempty"`
	ResultContent *Content `json:"content,omitempty"`
	IsError       bool     `json:"is_error,omitempty"`
	// Thinking and Signature describe a thinking block; Data a
	// redacted_thinking block.
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`
	// CacheControl marks a prompt-cache breakpoint after this block.
	CacheControl *llm.CacheControl `json:"cache_control,omitempty"`
}

// MarshalJSON writes the fields of the block's type, including the ones
// Anthropic requires even when empty (text, input, thinking, signature).
func (b ContentBlock) MarshalJSON() ([]byte, error) {
	type plain ContentBlock
	switch b.Type {
	case BlockText:
		return json.Marshal(struct {
			Type         string            `json:"type"`
			Text         string            `json:"text"`
			CacheControl *llm.CacheControl `json:"cache_control,omitempty"`
		}{b.Type, b.Text, b.CacheControl})
	case BlockToolUse:
		input := b.Input
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		return json.Marshal(struct {
			Type         string            `json:"type"`
			ID           string            `json:"id"`
			Name         string            `json:"name"`
			Input        json.RawMessage   `json:"input"`
			CacheControl *llm.CacheControl `json:"cache_control,omitempty"`
		}{b.Type, b.ID, b.Name, input, b.CacheControl})
	case BlockThinking:
		return json.Marshal(struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
		}{b.Type, b.Thinking, b.Signature})
	}
	return json.Marshal(plain(b))
}

// ImageSource is where an image block's bytes come from.
type ImageSource struct {
	Type      string `json:"type"` // "base64" or "url"
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool declares a client tool.
type Tool struct {
	// Type is empty (or "custom") for client tools; server tools such as
	// web_search carry a versioned type and no input_schema.
	Type         string            `json:"type,omitempty"`
	Name         string            `json:"name"`
	Description  string            `json:"description,omitempty"`
	InputSchema  json.RawMessage   `json:"input_schema,omitempty"`
	CacheControl *llm.CacheControl `json:"cache_control,omitempty"`
}

// Tool choice types.
const (
	ToolChoiceAuto = "auto"
	ToolChoiceAny  = "any"
	ToolChoiceTool = "tool"
	ToolChoiceNone = "none"
)

// ToolChoice says whether and which tool the model must use.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// Metadata is request metadata; UserID is an opaque end-user id.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// MessagesResponse is a complete Messages API answer, and the message of a
// stream's message_start event.
type MessagesResponse struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"` // "message"
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// Usage counts a message's tokens. InputTokens excludes the cached ones.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// DeltaUsage is a message_delta event's cumulative usage; the input counts
// are present only when they changed since message_start.
type DeltaUsage struct {
	OutputTokens             int  `json:"output_tokens"`
	InputTokens              *int `json:"input_tokens,omitempty"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens,omitempty"`
}

// StreamEvent is any Messages stream event, decoded; which fields are set
// depends on Type.
type StreamEvent struct {
	Type         string            `json:"type"`
	Message      *MessagesResponse `json:"message,omitempty"`
	Index        int               `json:"index"`
	ContentBlock *ContentBlock     `json:"content_block,omitempty"`
	Delta        *EventDelta       `json:"delta,omitempty"`
	Usage        *DeltaUsage       `json:"usage,omitempty"`
	Error        *ErrorDetail      `json:"error,omitempty"`
}

// EventDelta is the delta of a content_block_delta (typed) or a
// message_delta (stop_reason) event.
type EventDelta struct {
	Type         string  `json:"type,omitempty"`
	Text         string  `json:"text,omitempty"`
	PartialJSON  string  `json:"partial_json,omitempty"`
	Thinking     string  `json:"thinking,omitempty"`
	Signature    string  `json:"signature,omitempty"`
	StopReason   string  `json:"stop_reason,omitempty"`
	StopSequence *string `json:"stop_sequence,omitempty"`
}

// ErrorResponse is an error body, and the data of an `error` stream event.
type ErrorResponse struct {
	Type      string      `json:"type"` // "error"
	Error     ErrorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// CountTokensResponse is the body of POST /v1/messages/count_tokens.
type CountTokensResponse struct {
	InputTokens int `json:"input_tokens"`
}

type messagesRequestAlias MessagesRequest

var messagesRequestFields = jsonFields(reflect.TypeFor[MessagesRequest]())

// UnmarshalJSON decodes the request and keeps unknown fields in Extra.
func (r *MessagesRequest) UnmarshalJSON(b []byte) error {
	var a messagesRequestAlias
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k, v := range all {
		if messagesRequestFields[k] {
			continue
		}
		if a.Extra == nil {
			a.Extra = make(map[string]json.RawMessage)
		}
		a.Extra[k] = v
	}
	*r = MessagesRequest(a)
	return nil
}

// MarshalJSON encodes the request with its Extra fields, in key order.
func (r MessagesRequest) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(messagesRequestAlias(r))
	if err != nil || len(r.Extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		if !messagesRequestFields[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	b = b[:len(b)-1]
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		b = append(b, ',')
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, r.Extra[k]...)
	}
	return append(b, '}'), nil
}

func jsonFields(t reflect.Type) map[string]bool {
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}
