package openaisim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/sim"
)

// ChatRequest is the part of a chat completion request the fake reads. It
// is the fake's own reading of the wire, independent of the gateway's
// types, so a bug in those cannot hide behind a matching bug here.
type ChatRequest struct {
	Model               string        `json:"model"`
	Messages            []ChatMessage `json:"messages"`
	Tools               []ChatTool    `json:"tools"`
	MaxTokens           *int          `json:"max_tokens"`
	MaxCompletionTokens *int          `json:"max_completion_tokens"`
	Stream              bool          `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// ChatMessage is one message of a ChatRequest.
type ChatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCallID string          `json:"tool_call_id"`
}

// ChatTool is one declared tool of a ChatRequest.
type ChatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// IncludeUsage reports whether the stream must end with a usage chunk.
func (r *ChatRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// DecodeChat reads and checks a chat request body the way OpenAI does,
// answering what OpenAI would for the mistakes it catches.
func DecodeChat(body []byte) (*ChatRequest, *APIError) {
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"}
	}
	if req.Model == "" {
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "model",
			Message: "you must provide a model parameter"}
	}
	if len(req.Messages) == 0 {
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "messages", Code: "empty_array",
			Message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."}
	}
	for i, m := range req.Messages {
		if !validRoles[m.Role] {
			return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "messages[" + strconv.Itoa(i) + "].role",
				Message: "Invalid value: '" + m.Role + "'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."}
		}
	}
	if req.StreamOptions != nil && !req.Stream {
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "stream_options",
			Message: "The 'stream_options' parameter is only allowed when 'stream' is enabled."}
	}
	return &req, nil
}

// Prompt extracts the cloud-neutral gist the script answers.
func (r *ChatRequest) Prompt() sim.Prompt {
	p := sim.Prompt{Model: r.Model}
	var all []string
	for _, m := range r.Messages {
		text := contentText(m.Content)
		all = append(all, text)
		if m.Role == "user" {
			p.LastUser = text
		}
	}
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == "tool" {
		p.HasToolResult = true
		p.ToolResult = contentText(r.Messages[n-1].Content)
	}
	for _, t := range r.Tools {
		p.Tools = append(p.Tools, t.Function.Name)
	}
	p.Text = strings.Join(all, "\n")
	switch {
	case r.MaxCompletionTokens != nil:
		p.MaxTokens = *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		p.MaxTokens = *r.MaxTokens
	}
	return p
}

// contentText returns a message's text: a string, or its text parts joined.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// Wire shapes of answers. Fields are ordered and nulls written as OpenAI
// writes them; the Azure-only fields are omitted when empty.
type (
	wireCompletion struct {
		ID                  string          `json:"id"`
		Object              string          `json:"object"`
		Created             int64           `json:"created"`
		Model               string          `json:"model"`
		Choices             []wireChoice    `json:"choices"`
		Usage               *wireUsage      `json:"usage"`
		ServiceTier         string          `json:"service_tier,omitempty"`
		SystemFingerprint   string          `json:"system_fingerprint"`
		PromptFilterResults json.RawMessage `json:"prompt_filter_results,omitempty"`
	}
	wireChoice struct {
		Index                int             `json:"index"`
		Message              wireMessage     `json:"message"`
		Logprobs             any             `json:"logprobs"`
		FinishReason         string          `json:"finish_reason"`
		ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
	}
	wireMessage struct {
		Role             string         `json:"role"`
		Content          *string        `json:"content"`
		Refusal          *string        `json:"refusal"`
		ReasoningContent string         `json:"reasoning_content,omitempty"`
		ToolCalls        []wireToolCall `json:"tool_calls,omitempty"`
		Annotations      []any          `json:"annotations"`
	}
	wireToolCall struct {
		Index    *int   `json:"index,omitempty"`
		ID       string `json:"id,omitempty"`
		Type     string `json:"type,omitempty"`
		Function struct {
			Name      string `json:"name,omitempty"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	wireUsage struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		TotalTokens         int `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
			AudioTokens  int `json:"audio_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails struct {
			ReasoningTokens          int `json:"reasoning_tokens"`
			AudioTokens              int `json:"audio_tokens"`
			AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
			RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
		} `json:"completion_tokens_details"`
	}
	wireChunk struct {
		ID                  string            `json:"id"`
		Object              string            `json:"object"`
		Created             int64             `json:"created"`
		Model               string            `json:"model"`
		SystemFingerprint   *string           `json:"system_fingerprint,omitempty"`
		Choices             []wireChunkChoice `json:"choices"`
		Usage               json.RawMessage   `json:"usage,omitempty"`
		PromptFilterResults json.RawMessage   `json:"prompt_filter_results,omitempty"`
	}
	wireChunkChoice struct {
		Index                int             `json:"index"`
		Delta                wireDelta       `json:"delta"`
		Logprobs             any             `json:"logprobs"`
		FinishReason         *string         `json:"finish_reason"`
		ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
	}
	wireDelta struct {
		Role             string          `json:"role,omitempty"`
		Content          json.RawMessage `json:"content,omitempty"`
		ReasoningContent string          `json:"reasoning_content,omitempty"`
		ToolCalls        []wireToolCall  `json:"tool_calls,omitempty"`
		Refusal          json.RawMessage `json:"refusal,omitempty"`
	}
)

func usageOf(r sim.Reply) *wireUsage {
	u := &wireUsage{PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, TotalTokens: r.PromptTokens + r.CompletionTokens}
	u.PromptTokensDetails.CachedTokens = r.CachedTokens
	u.CompletionTokensDetails.ReasoningTokens = sim.CountTokens(r.Reasoning)
	return u
}
