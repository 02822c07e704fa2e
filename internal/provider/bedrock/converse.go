package bedrock

import "encoding/json"

// Converse wire types (restJson1; blobs are base64 strings, which
// encoding/json produces for []byte). Each content block is a one-key union.

type converseRequest struct {
	Messages                     []cvMessage                `json:"messages"`
	System                       []cvSystemBlock            `json:"system,omitempty"`
	InferenceConfig              *cvInferenceConfig         `json:"inferenceConfig,omitempty"`
	ToolConfig                   *cvToolConfig              `json:"toolConfig,omitempty"`
	OutputConfig                 *cvOutputConfig            `json:"outputConfig,omitempty"`
	AdditionalModelRequestFields map[string]json.RawMessage `json:"additionalModelRequestFields,omitempty"`
}

type cvMessage struct {
	Role    string    `json:"role"`
	Content []cvBlock `json:"content"`
}

type cvBlock struct {
	Text             *string       `json:"text,omitempty"`
	Image            *cvImage      `json:"image,omitempty"`
	ToolUse          *cvToolUse    `json:"toolUse,omitempty"`
	ToolResult       *cvToolResult `json:"toolResult,omitempty"`
	ReasoningContent *cvReasoning  `json:"reasoningContent,omitempty"`
	CachePoint       *cvCachePoint `json:"cachePoint,omitempty"`
}

type cvImage struct {
	Format string        `json:"format"`
	Source cvImageSource `json:"source"`
}

type cvImageSource struct {
	Bytes []byte `json:"bytes"`
}

type cvToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type cvToolResult struct {
	ToolUseID string                `json:"toolUseId"`
	Content   []cvToolResultContent `json:"content"`
	Status    string                `json:"status,omitempty"`
}

type cvToolResultContent struct {
	Text *string         `json:"text,omitempty"`
	JSON json.RawMessage `json:"json,omitempty"`
}

type cvReasoning struct {
	ReasoningText   *cvReasoningText `json:"reasoningText,omitempty"`
	RedactedContent []byte           `json:"redactedContent,omitempty"`
}

type cvReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

type cvCachePoint struct {
	Type string `json:"type"` // "default"
	TTL  string `json:"ttl,omitempty"`
}

type cvSystemBlock struct {
	Text       *string       `json:"text,omitempty"`
	CachePoint *cvCachePoint `json:"cachePoint,omitempty"`
}

type cvInferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

type cvToolConfig struct {
	Tools      []cvTool      `json:"tools"`
	ToolChoice *cvToolChoice `json:"toolChoice,omitempty"`
}

type cvTool struct {
	ToolSpec   *cvToolSpec   `json:"toolSpec,omitempty"`
	CachePoint *cvCachePoint `json:"cachePoint,omitempty"`
}

type cvToolSpec struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	InputSchema cvInputSchema `json:"inputSchema"`
	Strict      *bool         `json:"strict,omitempty"`
}

type cvInputSchema struct {
	JSON json.RawMessage `json:"json"`
}

type cvToolChoice struct {
	Auto *struct{}      `json:"auto,omitempty"`
	Any  *struct{}      `json:"any,omitempty"`
	Tool *cvNamedChoice `json:"tool,omitempty"`
}

type cvNamedChoice struct {
	Name string `json:"name"`
}

// cvOutputConfig is Converse's outputConfig, as the AWS SDK for Go v2
// models it (service/bedrockruntime/types.OutputConfig): textFormat holds a
// json_schema whose schema travels as a JSON-encoded string.
type cvOutputConfig struct {
	TextFormat *cvTextFormat `json:"textFormat,omitempty"`
	Effort     string        `json:"effort,omitempty"`
}

type cvTextFormat struct {
	Type      string            `json:"type"` // "json_schema"
	Structure cvFormatStructure `json:"structure"`
}

type cvFormatStructure struct {
	JSONSchema cvJSONSchema `json:"jsonSchema"`
}

type cvJSONSchema struct {
	Schema      string `json:"schema"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

type converseResponse struct {
	Output struct {
		Message *cvMessage `json:"message"`
	} `json:"output"`
	StopReason string   `json:"stopReason"`
	Usage      *cvUsage `json:"usage"`
}

type cvUsage struct {
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	TotalTokens           int `json:"totalTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens,omitempty"`
}

// Stream event payloads (ConverseStreamOutput members, sent bare).

type evMessageStart struct {
	Role string `json:"role"`
}

type evBlockStart struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Start             struct {
		ToolUse *struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		} `json:"toolUse"`
	} `json:"start"`
}

type evBlockDelta struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Delta             struct {
		Text    *string `json:"text"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse"`
		ReasoningContent *struct {
			Text            *string `json:"text"`
			Signature       *string `json:"signature"`
			RedactedContent []byte  `json:"redactedContent"`
		} `json:"reasoningContent"`
	} `json:"delta"`
}

type evBlockStop struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
}

type evMessageStop struct {
	StopReason string `json:"stopReason"`
}

type evMetadata struct {
	Usage *cvUsage `json:"usage"`
}

// errorBody is the {"message": ...} body of errors and stream exceptions;
// some SDKs also read "Message".
type errorBody struct {
	Message  string `json:"message"`
	MessageU string `json:"Message"`
}
