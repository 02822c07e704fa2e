package bedrocksim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/internal/sim"
)

// Converse request, read leniently: only what the fake needs to answer
// and to reject what Bedrock rejects.
type converseBody struct {
	Messages []struct {
		Role    string         `json:"role"`
		Content []contentBlock `json:"content"`
	} `json:"messages"`
	System []struct {
		Text string `json:"text"`
	} `json:"system"`
	InferenceConfig *struct {
		MaxTokens   int      `json:"maxTokens"`
		Temperature *float64 `json:"temperature"`
	} `json:"inferenceConfig"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name string `json:"name"`
			} `json:"toolSpec"`
		} `json:"tools"`
	} `json:"toolConfig"`
}

type contentBlock struct {
	Text       *string         `json:"text"`
	ToolUse    json.RawMessage `json:"toolUse"`
	ToolResult *struct {
		Content []struct {
			Text *string         `json:"text"`
			JSON json.RawMessage `json:"json"`
		} `json:"content"`
	} `json:"toolResult"`
}

// decodeConverse checks the body as Bedrock would and extracts the prompt.
func decodeConverse(model string, body []byte) (sim.Prompt, string) {
	var b converseBody
	if err := json.Unmarshal(body, &b); err != nil {
		return sim.Prompt{}, "Malformed input request, please reformat your input and try again."
	}
	if len(b.Messages) == 0 {
		return sim.Prompt{}, "The model returned the following errors: messages: at least one message is required"
	}
	p := sim.Prompt{Model: model}
	var all strings.Builder
	for _, s := range b.System {
		all.WriteString(s.Text + " ")
	}
	toolBlocks := false
	for i, m := range b.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return sim.Prompt{}, fmt.Sprintf("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", m.Role, i+1)
		}
		if i == 0 && m.Role != "user" {
			return sim.Prompt{}, "A conversation must start with a user message. Try again with a conversation that starts with a user message."
		}
		if i > 0 && b.Messages[i-1].Role == m.Role {
			return sim.Prompt{}, "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
		}
		if len(m.Content) == 0 {
			return sim.Prompt{}, fmt.Sprintf("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		var text strings.Builder
		p.HasToolResult = false
		for _, c := range m.Content {
			switch {
			case c.Text != nil:
				text.WriteString(*c.Text)
			case c.ToolUse != nil:
				toolBlocks = true
				all.Write(c.ToolUse)
				all.WriteByte(' ')
			case c.ToolResult != nil:
				toolBlocks = true
				p.HasToolResult, p.ToolResult = true, toolResultText(c.ToolResult.Content)
				all.WriteString(p.ToolResult + " ")
			}
		}
		all.WriteString(text.String() + " ")
		if m.Role == "user" && text.Len() > 0 {
			p.LastUser = text.String()
		}
	}
	if last := b.Messages[len(b.Messages)-1]; last.Role != "user" {
		p.HasToolResult = false
	}
	if toolBlocks && b.ToolConfig == nil {
		return sim.Prompt{}, "The toolConfig field must be defined when using toolUse and toolResult content blocks."
	}
	if b.ToolConfig != nil {
		for _, t := range b.ToolConfig.Tools {
			if t.ToolSpec != nil {
				p.Tools = append(p.Tools, t.ToolSpec.Name)
			}
		}
	}
	if ic := b.InferenceConfig; ic != nil {
		if ic.Temperature != nil && (*ic.Temperature < 0 || *ic.Temperature > 1) {
			return sim.Prompt{}, "1 validation error detected: Value at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"
		}
		p.MaxTokens = ic.MaxTokens
	}
	p.Text = all.String()
	return p, ""
}

func toolResultText(items []struct {
	Text *string         `json:"text"`
	JSON json.RawMessage `json:"json"`
}) string {
	var b strings.Builder
	for _, it := range items {
		switch {
		case it.Text != nil:
			b.WriteString(*it.Text)
		case it.JSON != nil:
			var buf bytes.Buffer
			if json.Compact(&buf, it.JSON) == nil {
				b.Write(buf.Bytes())
			}
		}
	}
	return b.String()
}

// stopReasons maps the script's canonical finish reasons to Converse's.
var stopReasons = map[string]string{"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "content_filtered"}

func stopReason(r sim.Reply) string {
	if s, ok := stopReasons[r.FinishReason]; ok {
		return s
	}
	return "end_turn"
}

// usage reports the reply's tokens the way Bedrock does: inputTokens
// excludes the prompt tokens read from the cache.
func usage(r sim.Reply) map[string]int {
	u := map[string]int{
		"inputTokens":  r.PromptTokens - r.CachedTokens,
		"outputTokens": r.CompletionTokens,
		"totalTokens":  r.PromptTokens + r.CompletionTokens,
	}
	if r.CachedTokens > 0 {
		u["cacheReadInputTokens"] = r.CachedTokens
		u["cacheWriteInputTokens"] = 0
	}
	return u
}

// signature is the opaque signature the fake puts on reasoning blocks.
const signature = "c2ltLXNpZ25hdHVyZQ"

func toolUseID(n int64, i int) string { return fmt.Sprintf("tooluse_sim%04d_%d", n, i) }

func (s *server) converse(w http.ResponseWriter, r *http.Request, body []byte, n int64) {
	p, bad := decodeConverse(r.PathValue("modelId"), body)
	if bad != "" {
		validation(w, bad)
		return
	}
	reply := s.eng.Script().Answer(p)
	var content []any
	if reply.Reasoning != "" {
		content = append(content, map[string]any{"reasoningContent": map[string]any{"reasoningText": map[string]string{"text": reply.Reasoning, "signature": signature}}})
	}
	if reply.Text != "" || len(reply.ToolCalls) == 0 {
		content = append(content, map[string]any{"text": reply.Text})
	}
	for i, tc := range reply.ToolCalls {
		content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": toolUseID(n, i), "name": tc.Name, "input": json.RawMessage(argsObject(tc.Arguments))}})
	}
	writeJSON(w, map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
		"stopReason": stopReason(reply),
		"usage":      usage(reply),
		"metrics":    map[string]int{"latencyMs": 12},
	})
}

// argsObject returns the scripted arguments, or {} when they are not JSON.
func argsObject(args string) string {
	if json.Valid([]byte(args)) {
		return args
	}
	return "{}"
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
