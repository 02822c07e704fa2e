package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// DefaultMaxTokens is the output cap sent when neither the client nor the
// deployment set one: Anthropic requires max_tokens.
const DefaultMaxTokens = 4096

// StructuredOutputTool is the name of the one tool FromChat forces to get
// JSON output for response_format; answers from it come back as content.
const StructuredOutputTool = "switchyard_json_output"

// reasoningBudgets maps OpenAI's reasoning_effort to thinking budgets.
var reasoningBudgets = map[string]int{"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}

// RequestOptions tunes FromChat for one deployment.
type RequestOptions struct {
	// Model is the Anthropic model id to send; "" leaves model out of the
	// body (Vertex AI takes it from the URL).
	Model string
	// Deployment names the deployment in error messages.
	Deployment string
	// DefaultMaxTokens is max_tokens when the client sent none; 0 means
	// DefaultMaxTokens.
	DefaultMaxTokens int
}

// FromChat translates a canonical request to a Messages request. It never
// modifies req. Anything Anthropic cannot express is a 400 *llm.Error
// naming the parameter and the deployment.
func FromChat(req *llm.ChatRequest, opts RequestOptions) (*MessagesRequest, error) {
	c := converter{opts: opts}
	out := &MessagesRequest{
		Model:         opts.Model,
		MaxTokens:     req.MaxOutputTokens(),
		Temperature:   req.Temperature,
		TopP:          req.TopP,
		StopSequences: append([]string(nil), req.Stop...),
		Stream:        req.Stream,
	}
	if out.MaxTokens == 0 {
		out.MaxTokens = opts.DefaultMaxTokens
	}
	if out.MaxTokens == 0 {
		out.MaxTokens = DefaultMaxTokens
	}
	if err := c.checkUnsupported(req); err != nil {
		return nil, err
	}
	if req.User != "" {
		out.Metadata = &Metadata{UserID: req.User}
	}
	if err := c.extras(req, out); err != nil {
		return nil, err
	}
	if err := c.messages(req.Messages, out); err != nil {
		return nil, err
	}
	if err := c.tools(req, out); err != nil {
		return nil, err
	}
	if err := c.responseFormat(req, out); err != nil {
		return nil, err
	}
	return out, nil
}

type converter struct {
	opts RequestOptions
}

// reject returns a 400 naming param and the deployment.
func (c converter) reject(param, format string, args ...any) *llm.Error {
	msg := fmt.Sprintf(format, args...)
	if c.opts.Deployment != "" {
		msg += fmt.Sprintf(" (deployment %q speaks the Anthropic Messages API)", c.opts.Deployment)
	}
	return llm.BadRequest(param, "%s", msg)
}

func (c converter) checkUnsupported(req *llm.ChatRequest) error {
	if req.N != nil && *req.N > 1 {
		return c.reject("n", "n=%d is not supported: Anthropic returns one choice per request; send n separate requests", *req.N)
	}
	if req.Logprobs != nil && *req.Logprobs {
		return c.reject("logprobs", "logprobs is not supported by Anthropic models; remove it")
	}
	if req.TopLogprobs != nil && *req.TopLogprobs > 0 {
		return c.reject("top_logprobs", "top_logprobs is not supported by Anthropic models; remove it")
	}
	if req.PresencePenalty != nil && *req.PresencePenalty != 0 {
		return c.reject("presence_penalty", "presence_penalty is not supported by Anthropic models; remove it")
	}
	if req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0 {
		return c.reject("frequency_penalty", "frequency_penalty is not supported by Anthropic models; remove it")
	}
	if t := req.Temperature; t != nil && (*t < 0 || *t > 1) {
		return c.reject("temperature", "temperature %g is out of range: Anthropic accepts 0 to 1 (OpenAI's 0 to 2 scale does not carry over)", *t)
	}
	if p := req.TopP; p != nil && (*p < 0 || *p > 1) {
		return c.reject("top_p", "top_p %g is out of range: use 0 to 1", *p)
	}
	if req.MaxOutputTokens() < 0 {
		return c.reject("max_tokens", "max_tokens must be positive")
	}
	return nil
}

// extras maps the Extra fields Anthropic understands and rejects the rest.
func (c converter) extras(req *llm.ChatRequest, out *MessagesRequest) error {
	for name, raw := range req.Extra {
		switch name {
		case "top_k":
			var k int
			if err := json.Unmarshal(raw, &k); err != nil || k < 0 {
				return c.reject("top_k", "top_k must be a non-negative integer")
			}
			out.TopK = &k
		case "thinking":
			var t struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(raw, &t); err != nil || (t.Type != "enabled" && t.Type != "disabled" && t.Type != "adaptive") {
				return c.reject("thinking", `thinking must be {"type":"enabled","budget_tokens":N} or {"type":"disabled"}`)
			}
			out.Thinking = bytes.Clone(raw)
		default:
			return c.reject(name, "request field %q is not supported by Anthropic models; remove it", name)
		}
	}
	if req.ReasoningEffort != "" && out.Thinking == nil {
		budget, ok := reasoningBudgets[req.ReasoningEffort]
		if !ok {
			return c.reject("reasoning_effort", "reasoning_effort %q is not one of minimal, low, medium, high", req.ReasoningEffort)
		}
		if out.MaxTokens <= budget {
			return c.reject("max_tokens", "reasoning_effort %q gives a thinking budget of %d tokens, which must be below max_tokens (%d); raise max_tokens", req.ReasoningEffort, budget, out.MaxTokens)
		}
		out.Thinking = json.RawMessage(fmt.Sprintf(`{"type":"enabled","budget_tokens":%d}`, budget))
	}
	return nil
}

func (c converter) messages(msgs []llm.Message, out *MessagesRequest) error {
	var system []ContentBlock
	systemIsPlain := true
	for i := range msgs {
		m := &msgs[i]
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper:
			blocks, err := c.parts(m.Content, param, false)
			if err != nil {
				return err
			}
			if m.Content.Parts != nil {
				systemIsPlain = false
			}
			system = append(system, blocks...)
		case llm.RoleUser:
			blocks, err := c.parts(m.Content, param, true)
			if err != nil {
				return err
			}
			content := BlocksContent(blocks...)
			if m.Content.Parts == nil {
				content = TextContent(m.Content.Text)
			}
			out.Messages = append(out.Messages, MessageParam{Role: RoleUser, Content: content})
		case llm.RoleAssistant:
			blocks, err := c.assistant(m, param)
			if err != nil {
				return err
			}
			if len(blocks) == 0 {
				// Anthropic rejects empty (and whitespace-only) turns, and
				// merges the neighbours an empty turn leaves adjacent.
				continue
			}
			out.Messages = append(out.Messages, MessageParam{Role: RoleAssistant, Content: BlocksContent(blocks...)})
		case llm.RoleTool:
			block, err := c.toolResult(m, param)
			if err != nil {
				return err
			}
			// A turn's results must share one user message.
			if n := len(out.Messages); n > 0 && endsWithToolResult(out.Messages[n-1]) {
				out.Messages[n-1].Content.Blocks = append(out.Messages[n-1].Content.Blocks, block)
				continue
			}
			out.Messages = append(out.Messages, MessageParam{Role: RoleUser, Content: BlocksContent(block)})
		default:
			return c.reject(param+".role", "role %q is not supported; use system, developer, user, assistant or tool", m.Role)
		}
	}
	if len(out.Messages) == 0 {
		return c.reject("messages", "messages must contain at least one user or assistant message")
	}
	if len(system) > 0 {
		if systemIsPlain && len(system) == 1 {
			out.System = &Content{Text: system[0].Text}
		} else {
			s := BlocksContent(system...)
			out.System = &s
		}
	}
	return nil
}

func endsWithToolResult(m MessageParam) bool {
	b := m.Content.Blocks
	return m.Role == RoleUser && len(b) > 0 && b[len(b)-1].Type == BlockToolResult
}

// parts converts canonical content to blocks; images only where allowed.
// Empty text is left out: Anthropic rejects empty text blocks.
func (c converter) parts(content llm.Content, param string, images bool) ([]ContentBlock, error) {
	if content.Parts == nil {
		if content.Text == "" {
			return nil, nil
		}
		return []ContentBlock{{Type: BlockText, Text: content.Text}}, nil
	}
	blocks := make([]ContentBlock, 0, len(content.Parts))
	for j, p := range content.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch p.Type {
		case llm.PartText:
			if p.Text == "" && p.CacheControl == nil {
				continue
			}
			blocks = append(blocks, ContentBlock{Type: BlockText, Text: p.Text, CacheControl: p.CacheControl})
		case llm.PartImage:
			if !images {
				return nil, c.reject(pp, "images are only allowed in user and tool messages")
			}
			src, err := c.imageSource(p.ImageURL, pp)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, ContentBlock{Type: BlockImage, Source: src, CacheControl: p.CacheControl})
		default:
			return nil, c.reject(pp+".type", "content part type %q is not supported by Anthropic models; send text or image_url", p.Type)
		}
	}
	return blocks, nil
}

func (c converter) imageSource(u *llm.ImageURL, param string) (*ImageSource, error) {
	if u == nil || u.URL == "" {
		return nil, c.reject(param+".image_url", "image_url.url is required")
	}
	if rest, ok := strings.CutPrefix(u.URL, "data:"); ok {
		meta, data, found := strings.Cut(rest, ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !found || !isBase64 || mediaType == "" {
			return nil, c.reject(param+".image_url", "data URL must look like data:image/png;base64,<data>")
		}
		return &ImageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	if strings.HasPrefix(u.URL, "https://") || strings.HasPrefix(u.URL, "http://") {
		return &ImageSource{Type: "url", URL: u.URL}, nil
	}
	return nil, c.reject(param+".image_url", "image URL must be an https URL or a base64 data URL")
}

// assistant converts an assistant turn: signed thinking first (Anthropic
// rejects tool use whose preceding thinking was dropped), then text, then
// tool calls.
func (c converter) assistant(m *llm.Message, param string) ([]ContentBlock, error) {
	var blocks []ContentBlock
	for _, t := range m.ThinkingBlocks {
		switch t.Type {
		case BlockRedactedThinking:
			blocks = append(blocks, ContentBlock{Type: BlockRedactedThinking, Data: t.Data})
		default:
			blocks = append(blocks, ContentBlock{Type: BlockThinking, Thinking: t.Thinking, Signature: t.Signature})
		}
	}
	text, err := c.parts(m.Content, param, false)
	if err != nil {
		return nil, err
	}
	blocks = append(blocks, text...)
	for k, tc := range m.ToolCalls {
		input, err := argumentsObject(tc.Function.Arguments)
		if err != nil {
			return nil, c.reject(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, k), "%s.tool_calls[%d] arguments are not a JSON object: %v", param, k, err)
		}
		blocks = append(blocks, ContentBlock{Type: BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return blocks, nil
}

// argumentsObject turns an OpenAI arguments string into an input object.
func argumentsObject(args string) (json.RawMessage, error) {
	args = strings.TrimSpace(args)
	if args == "" {
		return json.RawMessage("{}"), nil
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(args)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c converter) toolResult(m *llm.Message, param string) (ContentBlock, error) {
	if m.ToolCallID == "" {
		return ContentBlock{}, c.reject(param+".tool_call_id", "tool messages need the tool_call_id of the call they answer")
	}
	b := ContentBlock{Type: BlockToolResult, ToolUseID: m.ToolCallID}
	if m.Content.Parts == nil {
		if m.Content.Text != "" {
			b.ResultContent = &Content{Text: m.Content.Text}
		}
		return b, nil
	}
	blocks, err := c.parts(m.Content, param, true)
	if err != nil {
		return ContentBlock{}, err
	}
	if len(blocks) > 0 {
		rc := BlocksContent(blocks...)
		b.ResultContent = &rc
	}
	return b, nil
}

func (c converter) tools(req *llm.ChatRequest, out *MessagesRequest) error {
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			return c.reject(fmt.Sprintf("tools[%d].type", i), "tool type %q is not supported; declare function tools", t.Type)
		}
		schema := t.Function.Parameters
		if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, Tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: bytes.Clone(schema), CacheControl: t.CacheControl})
	}
	if tc := req.ToolChoice; tc != nil {
		switch {
		case tc.Function != "":
			out.ToolChoice = &ToolChoice{Type: ToolChoiceTool, Name: tc.Function}
		case tc.Mode == llm.ToolChoiceNone:
			out.ToolChoice = &ToolChoice{Type: ToolChoiceNone}
		case tc.Mode == llm.ToolChoiceRequired:
			out.ToolChoice = &ToolChoice{Type: ToolChoiceAny}
		case tc.Mode == llm.ToolChoiceAuto:
			out.ToolChoice = &ToolChoice{Type: ToolChoiceAuto}
		}
	}
	if p := req.ParallelToolCalls; p != nil && !*p && len(out.Tools) > 0 {
		if out.ToolChoice == nil {
			out.ToolChoice = &ToolChoice{Type: ToolChoiceAuto}
		}
		if out.ToolChoice.Type != ToolChoiceNone {
			out.ToolChoice.DisableParallelToolUse = true
		}
	}
	return nil
}

// responseFormat forces one tool whose input is the wanted JSON.
func (c converter) responseFormat(req *llm.ChatRequest, out *MessagesRequest) error {
	rf := req.ResponseFormat
	if rf == nil || rf.Type == "" || rf.Type == "text" {
		return nil
	}
	tool := Tool{Name: StructuredOutputTool, Description: "Respond with a JSON object by calling this tool."}
	switch rf.Type {
	case "json_object":
		tool.InputSchema = json.RawMessage(`{"type":"object"}`)
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return c.reject("response_format.json_schema.schema", "response_format json_schema needs a schema")
		}
		tool.InputSchema = bytes.Clone(rf.JSONSchema.Schema)
		if d := rf.JSONSchema.Description; d != "" {
			tool.Description = d
		}
	default:
		return c.reject("response_format.type", "response_format type %q is not one of text, json_object, json_schema", rf.Type)
	}
	if len(out.Tools) > 0 || out.ToolChoice != nil {
		return c.reject("response_format", "response_format cannot be combined with tools or tool_choice on Anthropic models (JSON output is produced by forcing one tool); drop one of them")
	}
	out.Tools = []Tool{tool}
	out.ToolChoice = &ToolChoice{Type: ToolChoiceTool, Name: StructuredOutputTool}
	return nil
}
