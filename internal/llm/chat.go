// Package llm holds Switchyard's canonical chat and embedding types.
//
// Their JSON encoding is OpenAI's Chat Completions wire format, so the OpenAI
// front door and OpenAI-shaped backends pass them through with no mapping;
// every other front door and provider adapter translates to and from them.
// Fields Switchyard does not model are kept in Extra and written back out, so
// unknown request fields reach OpenAI-shaped backends untouched.
package llm

import (
	"encoding/json"
)

// Roles of a chat message.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Finish reasons, as OpenAI names them.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// ChatRequest is a chat completion request (OpenAI's POST /v1/chat/completions body).
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          *ToolChoice     `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	User                string          `json:"user,omitempty"`
	Stop                Stop            `json:"stop,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`

	// Extra holds the request fields Switchyard does not model, by name.
	// OpenAI-shaped backends receive them unchanged; other adapters must
	// either map them or reject the request naming the field.
	Extra map[string]json.RawMessage `json:"-"`

	// body is the request as the client sent it (see Body), or nil.
	body []byte
}

// SetBody records the bytes the client sent, before any translation; a
// front door calls it after decoding them into r.
func (r *ChatRequest) SetBody(b []byte) { r.body = b }

// Body returns the bytes the client sent for r, in its front door's
// protocol, or nil when r was built in process. Stages never change them.
func (r *ChatRequest) Body() []byte { return r.body }

// MaxOutputTokens returns the caller's output-token cap, preferring
// max_completion_tokens over the deprecated max_tokens; 0 means unset.
func (r *ChatRequest) MaxOutputTokens() int {
	if r.MaxCompletionTokens != nil {
		return *r.MaxCompletionTokens
	}
	if r.MaxTokens != nil {
		return *r.MaxTokens
	}
	return 0
}

// IncludeUsage reports whether a streamed answer must end with a usage chunk.
func (r *ChatRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// Message is one turn of a conversation.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Refusal    *string    `json:"refusal,omitempty"`

	// ReasoningContent is the model's visible reasoning, when a provider
	// returns it (Anthropic thinking, Gemini thoughts, Bedrock reasoningContent).
	ReasoningContent string `json:"reasoning_content,omitempty"`
	// ThinkingBlocks carries signed reasoning blocks across turns: providers
	// reject a follow-up turn whose tool use lost the thinking that preceded it.
	ThinkingBlocks []ThinkingBlock `json:"thinking_blocks,omitempty"`
}

// ThinkingBlock is one signed reasoning block, kept verbatim for the next turn.
type ThinkingBlock struct {
	Type      string `json:"type"` // "thinking" or "redacted_thinking"
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"` // redacted_thinking payload
}

// Part is one element of multimodal message content.
type Part struct {
	Type     string    `json:"type"` // "text", "image_url", ...
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
	// CacheControl marks an Anthropic-style prompt-cache breakpoint after this part.
	CacheControl *CacheControl `json:"cache_control,omitempty"`
	// Extra holds fields of part types Switchyard does not model (input_audio, file).
	Extra map[string]json.RawMessage `json:"-"`
}

// Part types.
const (
	PartText  = "text"
	PartImage = "image_url"
)

// ImageURL is an image reference: an https URL or a data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// CacheControl is an Anthropic-style prompt-cache breakpoint.
type CacheControl struct {
	Type string `json:"type"` // "ephemeral"
	TTL  string `json:"ttl,omitempty"`
}

// Tool is a tool the model may call.
type Tool struct {
	Type         string        `json:"type"` // "function"
	Function     FunctionDef   `json:"function"`
	CacheControl *CacheControl `json:"cache_control,omitempty"`
}

// FunctionDef declares a function tool; Parameters is a JSON Schema.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the model asked for. Index is set only in stream deltas.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"` // "function"
	Function FunctionCall `json:"function"`
	// ThoughtSignature is Gemini's opaque signature for the reasoning that led
	// to this call; it must be sent back with the call on the next turn.
	ThoughtSignature string `json:"thought_signature,omitempty"`
}

// FunctionCall names a function and its arguments as a JSON-encoded string.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ResponseFormat asks for JSON output.
type ResponseFormat struct {
	Type       string      `json:"type"` // "text", "json_object", "json_schema"
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is a named schema for structured output.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// StreamOptions tunes a streamed answer.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ChatResponse is a complete (non-streamed) chat completion.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"` // "chat.completion"
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`

	// Extra holds response fields Switchyard does not model (Azure's
	// prompt_filter_results, service_tier, ...), passed back to the client.
	Extra map[string]json.RawMessage `json:"-"`

	// wire is the response as its provider sent it (see Wire), or nil.
	wire []byte

	// Upstream describes the provider's answer; it is never serialised.
	Upstream Upstream `json:"-"`
}

// Choice is one alternative of a ChatResponse.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	FinishReason FinishReason    `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
	// ContentFilterResults is Azure OpenAI's verdict on this choice (hate,
	// violence, protected material, …), passed through as received:
	// clients read it to learn why an answer ended in content_filter.
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
}

// FinishReason is why a choice ended; empty encodes as JSON null.
type FinishReason string

// MarshalJSON encodes the empty reason as null, as OpenAI does mid-stream.
func (f FinishReason) MarshalJSON() ([]byte, error) {
	if f == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(f))
}

// UnmarshalJSON accepts null as the empty reason.
func (f *FinishReason) UnmarshalJSON(b []byte) error {
	// Every choice of every answer and chunk has one, so the usual values
	// are read without a decoder (or an allocation).
	switch string(b) {
	case "null":
		*f = ""
		return nil
	case `"` + FinishStop + `"`:
		*f = FinishStop
		return nil
	case `"` + FinishLength + `"`:
		*f = FinishLength
		return nil
	case `"` + FinishToolCalls + `"`:
		*f = FinishToolCalls
		return nil
	case `"` + FinishContentFilter + `"`:
		*f = FinishContentFilter
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*f = FinishReason(s)
	return nil
}

// Usage counts tokens as the provider reported them.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`

	// Estimated is true when Switchyard counted the tokens itself because
	// the provider reported none (a stream cut short, a backend without usage).
	Estimated bool `json:"-"`
}

// CachedTokens returns the prompt tokens served from the provider's cache.
func (u *Usage) CachedTokens() int {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// PromptTokensDetails breaks prompt tokens down.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	// CacheCreationTokens are prompt tokens written to the cache (Anthropic,
	// Bedrock); providers bill them above the normal input price.
	CacheCreationTokens int `json:"cache_creation_tokens,omitempty"`
}

// CompletionTokensDetails breaks completion tokens down.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// ChatChunk is one server-sent event of a streamed chat completion.
type ChatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"` // "chat.completion.chunk"
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`

	// Extra holds chunk fields Switchyard does not model. A chunk from
	// DecodeWireChunk fills it only on Edit.
	Extra map[string]json.RawMessage `json:"-"`

	// wire is the chunk as its provider sent it (see Wire), or nil.
	wire []byte
}

// ChunkChoice is the delta of one choice in a ChatChunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	FinishReason FinishReason    `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
	// ContentFilterResults is Azure OpenAI's verdict on this choice so
	// far, as received (see Choice).
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
}

// Delta is the increment of a message in a stream.
type Delta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	Refusal          *string         `json:"refusal,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
}

// Upstream records which provider answered and what it said about itself.
type Upstream struct {
	RequestID    string // the provider's own request id
	ModelVersion string // the model version the provider reported, if any
	RateLimit    RateLimit
}

// RateLimit is the provider's view of remaining quota; -1 means not reported.
type RateLimit struct {
	RemainingRequests int
	RemainingTokens   int
}
