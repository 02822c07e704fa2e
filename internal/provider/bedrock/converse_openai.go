package bedrock

import (
	"encoding/base64"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// respMeta is what a translated answer says about itself.
type respMeta struct {
	errorContext
	id      string
	created int64
	up      llm.Upstream
}

// finishReason maps a Converse stopReason. Malformed output has no OpenAI
// equivalent and nothing usable in it, so it is a retryable 502 instead.
func finishReason(stop string, ec errorContext) (llm.FinishReason, error) {
	switch stop {
	case "end_turn", "stop_sequence":
		return llm.FinishStop, nil
	case "max_tokens", "model_context_window_exceeded":
		return llm.FinishLength, nil
	case "tool_use":
		return llm.FinishToolCalls, nil
	case "guardrail_intervened", "content_filtered":
		return llm.FinishContentFilter, nil
	case "malformed_model_output", "malformed_tool_use":
		return "", upstreamBroken(ec, "ended with stopReason "+stop+" (the model produced output Bedrock could not parse)")
	case "":
		return "", upstreamBroken(ec, "had no stopReason")
	default:
		return llm.FinishStop, nil // a reason newer than this adapter: the answer is whole
	}
}

// toUsage applies the arithmetic in the package doc.
func toUsage(u *cvUsage) *llm.Usage {
	if u == nil {
		return nil
	}
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens
	out := &llm.Usage{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens}
	if u.CacheReadInputTokens > 0 || u.CacheWriteInputTokens > 0 {
		out.PromptTokensDetails = &llm.PromptTokensDetails{CachedTokens: u.CacheReadInputTokens, CacheCreationTokens: u.CacheWriteInputTokens}
	}
	return out
}

// fromConverse translates a Converse answer into a canonical response.
func fromConverse(resp *converseResponse, meta respMeta) (*llm.ChatResponse, error) {
	finish, err := finishReason(resp.StopReason, meta.errorContext)
	if err != nil {
		return nil, err
	}
	msg := llm.Message{Role: llm.RoleAssistant}
	var text, reasoning strings.Builder
	hasText := false
	if resp.Output.Message != nil {
		for _, b := range resp.Output.Message.Content {
			switch {
			case b.Text != nil:
				text.WriteString(*b.Text)
				hasText = true
			case b.ToolUse != nil:
				args := string(b.ToolUse.Input)
				if len(strings.TrimSpace(args)) == 0 || args == "null" {
					args = "{}"
				}
				msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{
					ID: decodeToolID(b.ToolUse.ToolUseID), Type: "function",
					Function: llm.FunctionCall{Name: b.ToolUse.Name, Arguments: args},
				})
			case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
				rt := b.ReasoningContent.ReasoningText
				reasoning.WriteString(rt.Text)
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, llm.ThinkingBlock{Type: "thinking", Thinking: rt.Text, Signature: rt.Signature})
			case b.ReasoningContent != nil && b.ReasoningContent.RedactedContent != nil:
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, llm.ThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(b.ReasoningContent.RedactedContent)})
			}
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		msg.Content = llm.TextContent(text.String())
	}
	msg.ReasoningContent = reasoning.String()
	return &llm.ChatResponse{
		ID: meta.id, Object: "chat.completion", Created: meta.created, Model: meta.model,
		Choices:  []llm.Choice{{Index: 0, Message: msg, FinishReason: finish}},
		Usage:    toUsage(resp.Usage),
		Upstream: meta.up,
	}, nil
}
