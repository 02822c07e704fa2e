package bedrock

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// passedExtra are the unmodelled request fields Converse can carry: they
// go to additionalModelRequestFields unchanged. Every other Extra field is
// rejected, so no field the client sent is silently dropped.
var passedExtra = map[string]bool{"top_k": true, "thinking": true}

// toConverse translates a canonical request into a Converse body for
// deployment. Every error is a 400 *llm.Error naming the offending field.
func toConverse(req *llm.ChatRequest, deployment string) (*converseRequest, error) {
	if err := checkUnsupported(req, deployment); err != nil {
		return nil, err
	}
	out := &converseRequest{Messages: []cvMessage{}}
	hasToolHistory := false
	for i := range req.Messages {
		m := &req.Messages[i]
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper:
			blocks, err := systemBlocks(m, i, deployment)
			if err != nil {
				return nil, err
			}
			out.System = append(out.System, blocks...)
		case llm.RoleUser:
			blocks, err := userBlocks(m.Content, fmt.Sprintf("messages[%d].content", i), deployment)
			if err != nil {
				return nil, err
			}
			out.Messages = appendTurn(out.Messages, "user", blocks)
		case llm.RoleAssistant:
			blocks, err := assistantBlocks(m, i, deployment)
			if err != nil {
				return nil, err
			}
			hasToolHistory = hasToolHistory || len(m.ToolCalls) > 0
			out.Messages = appendTurn(out.Messages, "assistant", blocks)
		case llm.RoleTool:
			block, err := toolResultBlock(m, i, deployment)
			if err != nil {
				return nil, err
			}
			hasToolHistory = true
			out.Messages = appendTurn(out.Messages, "user", []cvBlock{block})
		default:
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i),
				"role %q is not supported by Bedrock deployment %q; use system, developer, user, assistant or tool", m.Role, deployment)
		}
	}
	if len(out.Messages) == 0 {
		return nil, badRequest("messages", "Bedrock deployment %q needs at least one user message besides system messages", deployment)
	}
	ic, err := inferenceConfig(req, deployment)
	if err != nil {
		return nil, err
	}
	out.InferenceConfig = ic
	if out.ToolConfig, err = toolConfig(req, hasToolHistory, deployment); err != nil {
		return nil, err
	}
	if out.OutputConfig, err = outputConfig(req, deployment); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(req.Extra) {
		if out.AdditionalModelRequestFields == nil {
			out.AdditionalModelRequestFields = map[string]json.RawMessage{}
		}
		out.AdditionalModelRequestFields[k] = req.Extra[k]
	}
	return out, nil
}

func badRequest(param, format string, args ...any) *llm.Error {
	return llm.BadRequest(param, format, args...)
}

// checkUnsupported rejects the fields Converse has no place for.
func checkUnsupported(req *llm.ChatRequest, deployment string) error {
	for _, k := range sortedKeys(req.Extra) {
		if !passedExtra[k] {
			return badRequest(k, "field %q is not supported by Bedrock deployment %q; remove it (Bedrock accepts top_k and thinking as extra fields)", k, deployment)
		}
	}
	switch {
	case req.N != nil && *req.N != 1:
		return badRequest("n", "n=%d is not supported by Bedrock deployment %q, which returns one choice; send n=1 or omit it", *req.N, deployment)
	case req.Seed != nil:
		return badRequest("seed", "seed is not supported by Bedrock deployment %q (Converse has no seed); remove it", deployment)
	case req.Logprobs != nil && *req.Logprobs:
		return badRequest("logprobs", "logprobs are not available from Bedrock deployment %q; remove logprobs", deployment)
	case req.TopLogprobs != nil:
		return badRequest("top_logprobs", "top_logprobs are not available from Bedrock deployment %q; remove top_logprobs", deployment)
	case req.PresencePenalty != nil:
		return badRequest("presence_penalty", "presence_penalty is not supported by Bedrock deployment %q; remove it", deployment)
	case req.FrequencyPenalty != nil:
		return badRequest("frequency_penalty", "frequency_penalty is not supported by Bedrock deployment %q; remove it", deployment)
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// appendTurn adds blocks as a turn of role, merging it into the previous
// turn when that has the same role: Converse wants roles to alternate, and
// OpenAI sends one tool message per result where Bedrock wants one user
// turn holding them all.
func appendTurn(msgs []cvMessage, role string, blocks []cvBlock) []cvMessage {
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, cvMessage{Role: role, Content: blocks})
}

func cachePoint(cc *llm.CacheControl) *cvCachePoint {
	if cc == nil {
		return nil
	}
	cp := &cvCachePoint{Type: "default"}
	if cc.TTL == "5m" || cc.TTL == "1h" {
		cp.TTL = cc.TTL
	}
	return cp
}

func textPtr(s string) *string { return &s }

func systemBlocks(m *llm.Message, i int, deployment string) ([]cvSystemBlock, error) {
	if m.Content.Parts == nil {
		if m.Content.Text == "" {
			return nil, nil
		}
		return []cvSystemBlock{{Text: textPtr(m.Content.Text)}}, nil
	}
	var out []cvSystemBlock
	for j, p := range m.Content.Parts {
		if p.Type != llm.PartText {
			return nil, badRequest(fmt.Sprintf("messages[%d].content[%d].type", i, j),
				"%s messages sent to Bedrock deployment %q may only hold text parts, not %q", m.Role, deployment, p.Type)
		}
		if p.Text != "" {
			out = append(out, cvSystemBlock{Text: textPtr(p.Text)})
		}
		if cp := cachePoint(p.CacheControl); cp != nil {
			out = append(out, cvSystemBlock{CachePoint: cp})
		}
	}
	return out, nil
}

// userBlocks translates user content (text, data-URL images, cache breakpoints).
func userBlocks(c llm.Content, param, deployment string) ([]cvBlock, error) {
	if c.Parts == nil {
		if c.IsNull() || c.Text == "" {
			return nil, badRequest(param, "a user message sent to Bedrock deployment %q has no content; Bedrock rejects empty turns", deployment)
		}
		return []cvBlock{{Text: textPtr(c.Text)}}, nil
	}
	var out []cvBlock
	for j, p := range c.Parts {
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch p.Type {
		case llm.PartText:
			if p.Text != "" {
				out = append(out, cvBlock{Text: textPtr(p.Text)})
			}
		case llm.PartImage:
			img, err := imageBlock(p.ImageURL, pp+".image_url.url", deployment)
			if err != nil {
				return nil, err
			}
			out = append(out, cvBlock{Image: img})
		default:
			return nil, badRequest(pp+".type", "content part type %q is not supported by Bedrock deployment %q; send text or image_url parts", p.Type, deployment)
		}
		if cp := cachePoint(p.CacheControl); cp != nil {
			out = append(out, cvBlock{CachePoint: cp})
		}
	}
	if len(out) == 0 {
		return nil, badRequest(param, "a user message sent to Bedrock deployment %q has no content; Bedrock rejects empty turns", deployment)
	}
	return out, nil
}

// imageBlock decodes a data: URL; Bedrock takes image bytes, never a URL.
func imageBlock(img *llm.ImageURL, param, deployment string) (*cvImage, error) {
	if img == nil || img.URL == "" {
		return nil, badRequest(param, "an image_url part sent to Bedrock deployment %q has no url", deployment)
	}
	rest, ok := strings.CutPrefix(img.URL, "data:")
	if !ok {
		return nil, badRequest(param, "Bedrock deployment %q needs images inline as data: URLs (data:image/png;base64,...); it cannot fetch remote image URLs", deployment)
	}
	meta, data, ok := strings.Cut(rest, ",")
	mime, isB64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isB64 {
		return nil, badRequest(param, "the image data URL sent to Bedrock deployment %q must be base64-encoded (data:image/png;base64,...)", deployment)
	}
	format, known := map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}[strings.ToLower(mime)]
	if !known {
		return nil, badRequest(param, "image type %q is not supported by Bedrock deployment %q; send png, jpeg, gif or webp", mime, deployment)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, badRequest(param, "the image data URL sent to Bedrock deployment %q is not valid base64", deployment)
	}
	return &cvImage{Format: format, Source: cvImageSource{Bytes: raw}}, nil
}

// assistantBlocks replays an assistant turn: signed reasoning first (the
// model rejects tool use that lost the thinking before it), then text,
// then tool calls.
func assistantBlocks(m *llm.Message, i int, deployment string) ([]cvBlock, error) {
	var out []cvBlock
	for j, tb := range m.ThinkingBlocks {
		switch tb.Type {
		case "redacted_thinking":
			raw, err := base64.StdEncoding.DecodeString(tb.Data)
			if err != nil {
				return nil, badRequest(fmt.Sprintf("messages[%d].thinking_blocks[%d].data", i, j), "redacted thinking data for Bedrock deployment %q must be base64, as it was returned", deployment)
			}
			out = append(out, cvBlock{ReasoningContent: &cvReasoning{RedactedContent: raw}})
		default:
			out = append(out, cvBlock{ReasoningContent: &cvReasoning{ReasoningText: &cvReasoningText{Text: tb.Thinking, Signature: tb.Signature}}})
		}
	}
	if m.Content.Parts != nil {
		for j, p := range m.Content.Parts {
			if p.Type != llm.PartText {
				return nil, badRequest(fmt.Sprintf("messages[%d].content[%d].type", i, j), "assistant messages sent to Bedrock deployment %q may only hold text parts, not %q", deployment, p.Type)
			}
			if p.Text != "" {
				out = append(out, cvBlock{Text: textPtr(p.Text)})
			}
			if cp := cachePoint(p.CacheControl); cp != nil {
				out = append(out, cvBlock{CachePoint: cp})
			}
		}
	} else if m.Content.Text != "" {
		out = append(out, cvBlock{Text: textPtr(m.Content.Text)})
	}
	for j, tc := range m.ToolCalls {
		param := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
		if tc.ID == "" {
			return nil, badRequest(param+".id", "a tool call sent to Bedrock deployment %q has no id", deployment)
		}
		input, err := argumentsObject(tc.Function.Arguments)
		if err != nil {
			return nil, badRequest(param+".function.arguments", "the arguments of tool call %q are not a JSON object (%v); Bedrock deployment %q needs them as an object", tc.ID, err, deployment)
		}
		out = append(out, cvBlock{ToolUse: &cvToolUse{ToolUseID: encodeToolID(tc.ID), Name: tc.Function.Name, Input: input}})
	}
	if len(out) == 0 {
		return nil, badRequest(fmt.Sprintf("messages[%d].content", i), "an assistant message sent to Bedrock deployment %q has neither content nor tool calls", deployment)
	}
	return out, nil
}

// argumentsObject parses OpenAI's arguments string; "" means no arguments.
func argumentsObject(args string) (json.RawMessage, error) {
	args = strings.TrimSpace(args)
	if args == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(args)) {
		return nil, fmt.Errorf("invalid JSON")
	}
	if args[0] != '{' {
		return nil, fmt.Errorf("JSON but not an object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(args)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toolResultBlock turns one tool message into a toolResult: a JSON object
// travels as json content, anything else as text.
func toolResultBlock(m *llm.Message, i int, deployment string) (cvBlock, error) {
	if m.ToolCallID == "" {
		return cvBlock{}, badRequest(fmt.Sprintf("messages[%d].tool_call_id", i), "a tool message sent to Bedrock deployment %q has no tool_call_id", deployment)
	}
	for j, p := range m.Content.Parts {
		if p.Type != llm.PartText {
			return cvBlock{}, badRequest(fmt.Sprintf("messages[%d].content[%d].type", i, j), "tool results sent to Bedrock deployment %q may only hold text parts, not %q", deployment, p.Type)
		}
	}
	text := m.Content.String()
	var content cvToolResultContent
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(t))
		content.JSON = buf.Bytes()
	} else {
		content.Text = textPtr(text)
	}
	return cvBlock{ToolResult: &cvToolResult{ToolUseID: encodeToolID(m.ToolCallID), Content: []cvToolResultContent{content}}}, nil
}

func inferenceConfig(req *llm.ChatRequest, deployment string) (*cvInferenceConfig, error) {
	ic := &cvInferenceConfig{}
	if req.MaxCompletionTokens != nil || req.MaxTokens != nil {
		n := req.MaxOutputTokens()
		param := "max_completion_tokens"
		if req.MaxCompletionTokens == nil {
			param = "max_tokens"
		}
		if n < 1 {
			return nil, badRequest(param, "%s must be at least 1 for Bedrock deployment %q", param, deployment)
		}
		ic.MaxTokens = &n
	}
	if t := req.Temperature; t != nil {
		if *t < 0 || *t > 1 {
			return nil, badRequest("temperature", "temperature %g is outside Bedrock's range 0 to 1 (deployment %q); send a value between 0 and 1", *t, deployment)
		}
		ic.Temperature = t
	}
	if p := req.TopP; p != nil {
		if *p < 0 || *p > 1 {
			return nil, badRequest("top_p", "top_p %g is outside the range 0 to 1 (deployment %q)", *p, deployment)
		}
		ic.TopP = p
	}
	for j, s := range req.Stop {
		if s == "" {
			return nil, badRequest(fmt.Sprintf("stop[%d]", j), "Bedrock deployment %q rejects empty stop sequences; remove it", deployment)
		}
	}
	ic.StopSequences = req.Stop
	if ic.MaxTokens == nil && ic.Temperature == nil && ic.TopP == nil && len(ic.StopSequences) == 0 {
		return nil, nil
	}
	return ic, nil
}

func toolConfig(req *llm.ChatRequest, hasToolHistory bool, deployment string) (*cvToolConfig, error) {
	if len(req.Tools) == 0 {
		if req.ToolChoice != nil && req.ToolChoice.Mode != llm.ToolChoiceNone && req.ToolChoice.Mode != llm.ToolChoiceAuto {
			return nil, badRequest("tool_choice", "tool_choice needs tools; the request to Bedrock deployment %q declares none", deployment)
		}
		return nil, nil
	}
	tc := &cvToolConfig{}
	var names []string
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			return nil, badRequest(fmt.Sprintf("tools[%d].type", i), "tool type %q is not supported by Bedrock deployment %q; declare function tools", t.Type, deployment)
		}
		if t.Function.Name == "" {
			return nil, badRequest(fmt.Sprintf("tools[%d].function.name", i), "tool %d sent to Bedrock deployment %q has no name", i, deployment)
		}
		schema := t.Function.Parameters
		if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		tc.Tools = append(tc.Tools, cvTool{ToolSpec: &cvToolSpec{
			Name: t.Function.Name, Description: t.Function.Description,
			InputSchema: cvInputSchema{JSON: schema}, Strict: t.Function.Strict,
		}})
		if cp := cachePoint(t.CacheControl); cp != nil {
			tc.Tools = append(tc.Tools, cvTool{CachePoint: cp})
		}
		names = append(names, t.Function.Name)
	}
	ch := req.ToolChoice
	switch {
	case ch == nil || ch.Mode == llm.ToolChoiceAuto:
		tc.ToolChoice = &cvToolChoice{Auto: &struct{}{}}
	case ch.Mode == llm.ToolChoiceRequired:
		tc.ToolChoice = &cvToolChoice{Any: &struct{}{}}
	case ch.Mode == llm.ToolChoiceNone:
		if !hasToolHistory {
			return nil, nil
		}
		// Bedrock rejects tool history without toolConfig and has no
		// "none" choice: keep the tools and leave the choice to the model.
	case ch.Function != "":
		if !slices.Contains(names, ch.Function) {
			return nil, badRequest("tool_choice", "tool_choice names %q, which is not among the request's tools (deployment %q)", ch.Function, deployment)
		}
		tc.ToolChoice = &cvToolChoice{Tool: &cvNamedChoice{Name: ch.Function}}
	}
	return tc, nil
}

func outputConfig(req *llm.ChatRequest, deployment string) (*cvOutputConfig, error) {
	var oc cvOutputConfig
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_schema":
			if rf.JSONSchema == nil || len(bytes.TrimSpace(rf.JSONSchema.Schema)) == 0 {
				return nil, badRequest("response_format.json_schema.schema", "response_format json_schema needs a schema (deployment %q)", deployment)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, rf.JSONSchema.Schema); err != nil {
				return nil, badRequest("response_format.json_schema.schema", "the response_format schema is not valid JSON (deployment %q)", deployment)
			}
			oc.TextFormat = &cvTextFormat{Type: "json_schema", Structure: cvFormatStructure{JSONSchema: cvJSONSchema{
				Schema: buf.String(), Name: rf.JSONSchema.Name, Description: rf.JSONSchema.Description,
			}}}
		case "json_object":
			return nil, badRequest("response_format.type", "Bedrock deployment %q has no schemaless JSON mode; send response_format type json_schema with a schema", deployment)
		default:
			return nil, badRequest("response_format.type", "response_format type %q is not supported by Bedrock deployment %q", rf.Type, deployment)
		}
	}
	switch req.ReasoningEffort {
	case "":
	case "low", "medium", "high":
		oc.Effort = req.ReasoningEffort
	default:
		return nil, badRequest("reasoning_effort", "reasoning_effort %q is not supported by Bedrock deployment %q; use low, medium or high", req.ReasoningEffort, deployment)
	}
	if oc == (cvOutputConfig{}) {
		return nil, nil
	}
	return &oc, nil
}

// Tool-call ids: Bedrock accepts [a-zA-Z0-9_-]{1,64}. Others are rewritten
// as toolIDPrefix + base64url(id), which stays in that alphabet and is
// decoded back in answers; ids too long for that are hashed (those cannot
// come back, but stay stable so a call and its result still match).
const toolIDPrefix = "sy-"

func validToolID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func encodeToolID(id string) string {
	if validToolID(id) && !strings.HasPrefix(id, toolIDPrefix) {
		return id
	}
	enc := toolIDPrefix + base64.RawURLEncoding.EncodeToString([]byte(id))
	if len(enc) <= 64 {
		return enc
	}
	return "syh-" + hashHex(id)[:60]
}

func decodeToolID(id string) string {
	rest, ok := strings.CutPrefix(id, toolIDPrefix)
	if !ok {
		return id
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return id
	}
	return string(raw)
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
