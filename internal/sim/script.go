package sim

import (
	"fmt"
	"strings"
)

// Prompt is the cloud-neutral gist of a request, which each fake extracts
// from its native body so that one Script drives every cloud alike.
type Prompt struct {
	// Model is the model id the request named.
	Model string
	// LastUser is the text of the last user turn.
	LastUser string
	// ToolResult is the content of the trailing tool result, when the
	// conversation ends with one (the model is being told what a tool said).
	ToolResult string
	// HasToolResult marks that the conversation ends with a tool result.
	HasToolResult bool
	// Tools lists the names of the tools the request declares.
	Tools []string
	// Text is all the prompt's text, for counting tokens.
	Text string
	// MaxTokens is the output cap the request set, or 0.
	MaxTokens int
}

// Reply is what the simulated model answers.
type Reply struct {
	Text      string         `json:"text,omitempty"`
	Reasoning string         `json:"reasoning,omitempty"`
	ToolCalls []ToolCallSpec `json:"tool_calls,omitempty"`
	// FinishReason is canonical: stop, length, tool_calls or content_filter.
	// Empty means stop, or tool_calls when ToolCalls is set.
	FinishReason string `json:"finish_reason,omitempty"`
	PromptTokens int    `json:"prompt_tokens,omitempty"`
	// CompletionTokens is counted from Text and ToolCalls when zero.
	CompletionTokens int `json:"completion_tokens,omitempty"`
	CachedTokens     int `json:"cached_tokens,omitempty"`
}

// ToolCallSpec is one scripted tool call; Arguments is a JSON object text.
type ToolCallSpec struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Rule answers prompts that match it.
type Rule struct {
	// Contains matches when the last user text contains it (case-insensitive);
	// "" matches every prompt.
	Contains string `json:"contains,omitempty"`
	// AfterToolResult matches only when the conversation ends with a tool
	// result, and otherwise only when it does not.
	AfterToolResult bool  `json:"after_tool_result,omitempty"`
	Reply           Reply `json:"reply"`
}

// Script decides the simulated model's answers. The first matching rule
// wins; with none, the model echoes the prompt deterministically, and after
// a tool result it reports what the tool said.
type Script struct {
	Rules []Rule `json:"rules,omitempty"`
}

// Answer returns the reply to p, with token counts filled in.
func (s *Script) Answer(p Prompt) Reply {
	r, ok := s.match(p)
	if !ok {
		r = defaultReply(p)
	}
	if r.PromptTokens == 0 {
		r.PromptTokens = CountTokens(p.Text)
	}
	if r.CompletionTokens == 0 {
		n := CountTokens(r.Text) + CountTokens(r.Reasoning)
		for _, tc := range r.ToolCalls {
			n += CountTokens(tc.Name) + CountTokens(tc.Arguments)
		}
		r.CompletionTokens = max(n, 1)
	}
	if r.FinishReason == "" {
		r.FinishReason = "stop"
		if len(r.ToolCalls) > 0 {
			r.FinishReason = "tool_calls"
		}
	}
	if p.MaxTokens > 0 && r.CompletionTokens > p.MaxTokens && len(r.ToolCalls) == 0 {
		words := strings.Fields(r.Text)
		if len(words) > p.MaxTokens {
			r.Text = strings.Join(words[:p.MaxTokens], " ")
		}
		r.CompletionTokens, r.FinishReason = p.MaxTokens, "length"
	}
	return r
}

func (s *Script) match(p Prompt) (Reply, bool) {
	if s == nil {
		return Reply{}, false
	}
	last := strings.ToLower(p.LastUser)
	for _, rule := range s.Rules {
		if rule.AfterToolResult != p.HasToolResult {
			continue
		}
		if rule.Contains == "" || strings.Contains(last, strings.ToLower(rule.Contains)) {
			return rule.Reply, true
		}
	}
	return Reply{}, false
}

func defaultReply(p Prompt) Reply {
	if p.HasToolResult {
		return Reply{Text: fmt.Sprintf("The tool returned: %s", p.ToolResult)}
	}
	return Reply{Text: fmt.Sprintf("Simulated answer from %s to: %s", p.Model, p.LastUser)}
}

// CountTokens approximates a token count the way the fakes bill: one per
// whitespace-separated word, plus one per 4 bytes of very long words.
func CountTokens(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		n += 1 + len(w)/8
	}
	return n
}

// Pieces splits text into stream deltas of about one word each, keeping
// the spaces so that concatenating the pieces restores the text.
func Pieces(text string) []string {
	if text == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' {
			out = append(out, text[start:i])
			start = i
		}
	}
	return append(out, text[start:])
}

// ArgPieces splits tool-call arguments into a few fragments, as clouds
// stream them, so that clients must concatenate them.
func ArgPieces(args string) []string {
	if len(args) < 8 {
		return []string{args}
	}
	third := len(args) / 3
	return []string{args[:third], args[third : 2*third], args[2*third:]}
}
