package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// ToChat translates a Messages request (from an Anthropic SDK client) to a
// canonical request. top_k and thinking travel in Extra, where the Anthropic
// adapter maps them and other adapters reject them by name. Fields with no
// canonical form are a 400 naming them.
func ToChat(req *MessagesRequest) (*llm.ChatRequest, error) {
	if req == nil {
		return nil, llm.BadRequest("", "request body is empty")
	}
	if len(req.Extra) > 0 {
		names := make([]string, 0, len(req.Extra))
		for k := range req.Extra {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, llm.BadRequest(names[0], "field %q is not supported by this gateway's Anthropic-compatible API; remove it", names[0])
	}
	if req.Model == "" {
		return nil, llm.BadRequest("model", "model is required")
	}
	if req.MaxTokens <= 0 {
		return nil, llm.BadRequest("max_tokens", "max_tokens is required and must be positive")
	}
	if len(req.Messages) == 0 {
		return nil, llm.BadRequest("messages", "messages must contain at least one message")
	}
	maxTokens := req.MaxTokens
	out := &llm.ChatRequest{
		Model:       req.Model,
		MaxTokens:   &maxTokens,
		Temperature: req.Temperature,
		TopP:        req.TopP,
		Stop:        llm.Stop(append([]string(nil), req.StopSequences...)),
		Stream:      req.Stream,
	}
	if req.Stream {
		// The closing message_delta needs usage from every backend.
		out.StreamOptions = &llm.StreamOptions{IncludeUsage: true}
	}
	if req.Metadata != nil {
		out.User = req.Metadata.UserID
	}
	if req.TopK != nil {
		setExtra(out, "top_k", *req.TopK)
	}
	if len(bytes.TrimSpace(req.Thinking)) > 0 {
		setExtraRaw(out, "thinking", bytes.Clone(req.Thinking))
	}
	if req.System != nil {
		sys, err := systemMessage(*req.System)
		if err != nil {
			return nil, err
		}
		if sys != nil {
			out.Messages = append(out.Messages, *sys)
		}
	}
	for i, m := range req.Messages {
		msgs, err := chatMessages(m, fmt.Sprintf("messages[%d]", i))
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if err := chatTools(req, out); err != nil {
		return nil, err
	}
	return out, nil
}

func setExtra(r *llm.ChatRequest, name string, v any) {
	b, _ := json.Marshal(v)
	setExtraRaw(r, name, b)
}

func setExtraRaw(r *llm.ChatRequest, name string, raw json.RawMessage) {
	if r.Extra == nil {
		r.Extra = make(map[string]json.RawMessage)
	}
	r.Extra[name] = raw
}

func systemMessage(c Content) (*llm.Message, error) {
	if c.Blocks == nil {
		if c.Text == "" {
			return nil, nil
		}
		return &llm.Message{Role: llm.RoleSystem, Content: llm.TextContent(c.Text)}, nil
	}
	parts := make([]llm.Part, 0, len(c.Blocks))
	for j, b := range c.Blocks {
		if b.Type != BlockText {
			return nil, llm.BadRequest(fmt.Sprintf("system[%d].type", j), "system blocks must be text, not %q", b.Type)
		}
		parts = append(parts, llm.Part{Type: llm.PartText, Text: b.Text, CacheControl: b.CacheControl})
	}
	return &llm.Message{Role: llm.RoleSystem, Content: llm.PartsContent(parts...)}, nil
}

// chatMessages converts one turn. A user turn's tool_result blocks become
// one tool message each, ahead of the rest of the turn, as OpenAI wants.
func chatMessages(m MessageParam, param string) ([]llm.Message, error) {
	switch m.Role {
	case RoleUser:
		return userMessages(m.Content, param)
	case RoleAssistant:
		msg, err := assistantMessage(m.Content, param)
		if err != nil {
			return nil, err
		}
		return []llm.Message{msg}, nil
	}
	return nil, llm.BadRequest(param+".role", "role must be user or assistant, not %q", m.Role)
}

func userMessages(c Content, param string) ([]llm.Message, error) {
	if c.Blocks == nil {
		return []llm.Message{{Role: llm.RoleUser, Content: llm.TextContent(c.Text)}}, nil
	}
	var out []llm.Message
	var parts []llm.Part
	for j, b := range c.Blocks {
		bp := fmt.Sprintf("%s.content[%d]", param, j)
		switch b.Type {
		case BlockToolResult:
			tm, err := toolMessage(b, bp)
			if err != nil {
				return nil, err
			}
			out = append(out, tm)
		default:
			p, err := chatPart(b, bp)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
	}
	if len(parts) > 0 || len(out) == 0 {
		out = append(out, llm.Message{Role: llm.RoleUser, Content: simplify(parts)})
	}
	return out, nil
}

// simplify sends a lone plain text block as a string, which every backend
// accepts, and keeps parts otherwise.
func simplify(parts []llm.Part) llm.Content {
	if len(parts) == 1 && parts[0].Type == llm.PartText && parts[0].CacheControl == nil {
		return llm.TextContent(parts[0].Text)
	}
	return llm.PartsContent(parts...)
}

func chatPart(b ContentBlock, param string) (llm.Part, error) {
	switch b.Type {
	case BlockText:
		return llm.Part{Type: llm.PartText, Text: b.Text, CacheControl: b.CacheControl}, nil
	case BlockImage:
		if b.Source == nil {
			return llm.Part{}, llm.BadRequest(param+".source", "image blocks need a source")
		}
		var url string
		switch b.Source.Type {
		case "base64":
			url = "data:" + b.Source.MediaType + ";base64," + b.Source.Data
		case "url":
			url = b.Source.URL
		default:
			return llm.Part{}, llm.BadRequest(param+".source.type", "image source type %q is not supported; use base64 or url", b.Source.Type)
		}
		return llm.Part{Type: llm.PartImage, ImageURL: &llm.ImageURL{URL: url}, CacheControl: b.CacheControl}, nil
	}
	return llm.Part{}, llm.BadRequest(param+".type", "content block type %q is not supported by this gateway; send text, image, tool_use or tool_result blocks", b.Type)
}

func toolMessage(b ContentBlock, param string) (llm.Message, error) {
	if b.ToolUseID == "" {
		return llm.Message{}, llm.BadRequest(param+".tool_use_id", "tool_result blocks need tool_use_id")
	}
	m := llm.Message{Role: llm.RoleTool, ToolCallID: b.ToolUseID, Content: llm.TextContent("")}
	if rc := b.ResultContent; rc != nil {
		if rc.Blocks == nil {
			m.Content = llm.TextContent(rc.Text)
		} else {
			parts := make([]llm.Part, 0, len(rc.Blocks))
			for k, inner := range rc.Blocks {
				p, err := chatPart(inner, fmt.Sprintf("%s.content[%d]", param, k))
				if err != nil {
					return llm.Message{}, err
				}
				parts = append(parts, p)
			}
			m.Content = simplify(parts)
		}
	}
	if b.IsError {
		// OpenAI has no error flag on tool results; say it in the text so
		// the model still learns the call failed.
		m.Content = prefixText(m.Content, "Error: ")
	}
	return m, nil
}

func prefixText(c llm.Content, prefix string) llm.Content {
	if c.Parts == nil {
		return llm.TextContent(prefix + c.Text)
	}
	return llm.PartsContent(append([]llm.Part{{Type: llm.PartText, Text: strings.TrimSpace(prefix)}}, c.Parts...)...)
}

func assistantMessage(c Content, param string) (llm.Message, error) {
	m := llm.Message{Role: llm.RoleAssistant}
	if c.Blocks == nil {
		m.Content = llm.TextContent(c.Text)
		return m, nil
	}
	var text, reasoning strings.Builder
	hasText := false
	for j, b := range c.Blocks {
		bp := fmt.Sprintf("%s.content[%d]", param, j)
		switch b.Type {
		case BlockText:
			text.WriteString(b.Text)
			hasText = true
		case BlockThinking:
			reasoning.WriteString(b.Thinking)
			m.ThinkingBlocks = append(m.ThinkingBlocks, llm.ThinkingBlock{Type: BlockThinking, Thinking: b.Thinking, Signature: b.Signature})
		case BlockRedactedThinking:
			m.ThinkingBlocks = append(m.ThinkingBlocks, llm.ThinkingBlock{Type: BlockRedactedThinking, Data: b.Data})
		case BlockToolUse:
			if b.ID == "" || b.Name == "" {
				return llm.Message{}, llm.BadRequest(bp, "tool_use blocks need id and name")
			}
			m.ToolCalls = append(m.ToolCalls, llm.ToolCall{ID: b.ID, Type: "function", Function: llm.FunctionCall{Name: b.Name, Arguments: compactInput(b.Input)}})
		default:
			return llm.Message{}, llm.BadRequest(bp+".type", "assistant content block type %q is not supported by this gateway", b.Type)
		}
	}
	if hasText || len(m.ToolCalls) == 0 {
		m.Content = llm.TextContent(text.String())
	}
	m.ReasoningContent = reasoning.String()
	return m, nil
}

func chatTools(req *MessagesRequest, out *llm.ChatRequest) error {
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "custom" {
			return llm.BadRequest(fmt.Sprintf("tools[%d].type", i), "server tool %q is not supported by this gateway; declare client tools with name and input_schema", t.Type)
		}
		if t.Name == "" {
			return llm.BadRequest(fmt.Sprintf("tools[%d].name", i), "tools need a name")
		}
		out.Tools = append(out.Tools, llm.Tool{
			Type:         "function",
			Function:     llm.FunctionDef{Name: t.Name, Description: t.Description, Parameters: bytes.Clone(t.InputSchema)},
			CacheControl: t.CacheControl,
		})
	}
	tc := req.ToolChoice
	if tc == nil {
		return nil
	}
	switch tc.Type {
	case ToolChoiceAuto:
		out.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceAuto}
	case ToolChoiceAny:
		out.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceRequired}
	case ToolChoiceNone:
		out.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceNone}
	case ToolChoiceTool:
		if tc.Name == "" {
			return llm.BadRequest("tool_choice.name", `tool_choice {"type":"tool"} needs a name`)
		}
		out.ToolChoice = &llm.ToolChoice{Function: tc.Name}
	default:
		return llm.BadRequest("tool_choice.type", "tool_choice type %q is not one of auto, any, tool, none", tc.Type)
	}
	if tc.DisableParallelToolUse {
		f := false
		out.ParallelToolCalls = &f
	}
	return nil
}
