package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// FinishReason maps an Anthropic stop_reason to a canonical finish reason.
// pause_turn becomes "stop": the turn ended normally from the client's view
// and it may continue by sending the conversation back.
func FinishReason(stopReason string) llm.FinishReason {
	switch stopReason {
	case StopMaxTokens, StopContextWindowExceeded:
		return llm.FinishLength
	case StopToolUse:
		return llm.FinishToolCalls
	case StopRefusal:
		return llm.FinishContentFilter
	default: // end_turn, stop_sequence, pause_turn, and any new reason
		return llm.FinishStop
	}
}

// ChatUsage converts Anthropic usage to canonical usage. Anthropic's
// input_tokens excludes cached tokens, so the prompt total adds them back.
func ChatUsage(u Usage) *llm.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	return &llm.Usage{
		PromptTokens:     prompt,
		CompletionTokens: u.OutputTokens,
		TotalTokens:      prompt + u.OutputTokens,
		PromptTokensDetails: &llm.PromptTokensDetails{
			CachedTokens:        u.CacheReadInputTokens,
			CacheCreationTokens: u.CacheCreationInputTokens,
		},
	}
}

// ToChatResponse translates a Messages answer to a canonical response.
// Created is left 0 for the caller to stamp. A tool_use of
// StructuredOutputTool becomes the message's JSON content.
func ToChatResponse(resp *MessagesResponse) (*llm.ChatResponse, error) {
	if resp == nil {
		return nil, errors.New("anthropic: empty response")
	}
	var (
		text      strings.Builder
		reasoning strings.Builder
		msg       = llm.Message{Role: llm.RoleAssistant}
		hasText   bool
	)
	structured := false
	for _, b := range resp.Content {
		switch b.Type {
		case BlockText:
			text.WriteString(b.Text)
			hasText = true
		case BlockThinking:
			reasoning.WriteString(b.Thinking)
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, llm.ThinkingBlock{Type: BlockThinking, Thinking: b.Thinking, Signature: b.Signature})
		case BlockRedactedThinking:
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, llm.ThinkingBlock{Type: BlockRedactedThinking, Data: b.Data})
		case BlockToolUse:
			args := compactInput(b.Input)
			if b.Name == StructuredOutputTool {
				text.WriteString(args)
				hasText, structured = true, true
				continue
			}
			msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{ID: b.ID, Type: "function", Function: llm.FunctionCall{Name: b.Name, Arguments: args}})
		}
		// Server-tool blocks (web search results, ...) have no canonical form.
	}
	if hasText || len(msg.ToolCalls) == 0 {
		msg.Content = llm.TextContent(text.String())
	}
	msg.ReasoningContent = reasoning.String()
	stop := ""
	if resp.StopReason != nil {
		stop = *resp.StopReason
	}
	finish := FinishReason(stop)
	if structured && finish == llm.FinishToolCalls {
		finish = llm.FinishStop
	}
	return &llm.ChatResponse{
		ID:       resp.ID,
		Object:   "chat.completion",
		Model:    resp.Model,
		Choices:  []llm.Choice{{Index: 0, Message: msg, FinishReason: finish}},
		Usage:    ChatUsage(resp.Usage),
		Upstream: llm.Upstream{ModelVersion: resp.Model, RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}},
	}, nil
}

// compactInput renders a tool_use input object as an arguments string.
func compactInput(in json.RawMessage) string {
	if len(bytes.TrimSpace(in)) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, in) != nil {
		return string(in)
	}
	return buf.String()
}
