package anthropic

import (
	"encoding/json"
	"net/http"

	"github.com/switchyard/switchyard/internal/llm"
)

// StopReason maps a canonical finish reason to an Anthropic stop_reason.
func StopReason(f llm.FinishReason) string {
	switch f {
	case llm.FinishLength:
		return StopMaxTokens
	case llm.FinishToolCalls:
		return StopToolUse
	case llm.FinishContentFilter:
		return StopRefusal
	default:
		return StopEndTurn
	}
}

// MessagesUsage converts canonical usage to Anthropic's, where
// input_tokens excludes the cached and cache-written tokens.
func MessagesUsage(u *llm.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	var cached, created int
	if d := u.PromptTokensDetails; d != nil {
		cached, created = d.CachedTokens, d.CacheCreationTokens
	}
	return Usage{
		InputTokens:              max(u.PromptTokens-cached-created, 0),
		OutputTokens:             u.CompletionTokens,
		CacheReadInputTokens:     cached,
		CacheCreationInputTokens: created,
	}
}

// FromChatResponse translates a canonical answer to a Messages answer, for
// the Anthropic front door: thinking first, then text, then tool use, in
// the order Anthropic itself sends them. Only the first choice is used.
func FromChatResponse(resp *llm.ChatResponse) (*MessagesResponse, error) {
	out := &MessagesResponse{ID: resp.ID, Type: "message", Role: RoleAssistant, Model: resp.Model, Content: []ContentBlock{}, Usage: MessagesUsage(resp.Usage)}
	stop := StopEndTurn
	if len(resp.Choices) > 0 {
		ch := resp.Choices[0]
		m := ch.Message
		out.Content = append(out.Content, thinkingBlocks(m.ThinkingBlocks, m.ReasoningContent)...)
		text := m.Content.String()
		if m.Refusal != nil && text == "" {
			text = *m.Refusal
		}
		if text != "" {
			out.Content = append(out.Content, ContentBlock{Type: BlockText, Text: text})
		}
		for _, tc := range m.ToolCalls {
			input, err := argumentsObject(tc.Function.Arguments)
			if err != nil {
				e := llm.Errorf(http.StatusBadGateway, "the model returned arguments for tool %q that are not a JSON object, so they cannot be sent as Anthropic tool_use input", tc.Function.Name)
				e.Upstream = true
				return nil, e
			}
			out.Content = append(out.Content, ContentBlock{Type: BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: input})
		}
		stop = StopReason(ch.FinishReason)
	}
	out.StopReason = &stop
	return out, nil
}

// thinkingBlocks returns the signed blocks, or one unsigned block holding
// plain reasoning text when a non-Anthropic backend gave only that.
func thinkingBlocks(tbs []llm.ThinkingBlock, reasoning string) []ContentBlock {
	var out []ContentBlock
	for _, t := range tbs {
		if t.Type == BlockRedactedThinking {
			out = append(out, ContentBlock{Type: BlockRedactedThinking, Data: t.Data})
			continue
		}
		out = append(out, ContentBlock{Type: BlockThinking, Thinking: t.Thinking, Signature: t.Signature})
	}
	if len(out) == 0 && reasoning != "" {
		out = append(out, ContentBlock{Type: BlockThinking, Thinking: reasoning})
	}
	return out
}

// marshalEvent encodes an event's data; the values are all plain structs.
func marshalEvent(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("anthropic: unencodable event: " + err.Error())
	}
	return b
}
