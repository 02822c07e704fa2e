package vertex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// geminiNameRE is what Gemini accepts as a function name.
var geminiNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$`)

// reasoningBudgets maps OpenAI's reasoning_effort to a Gemini thinking budget.
var reasoningBudgets = map[string]int{"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

// toGemini translates a canonical chat request into a Gemini
// generateContent body for the named deployment. It never modifies req.
// Anything Gemini cannot express is a 400 naming the field, never dropped.
func toGemini(req *llm.ChatRequest, deployment string) (*generateContentRequest, error) {
	if err := rejectExtra(req.Extra, "", deployment); err != nil {
		return nil, err
	}
	out := &generateContentRequest{Contents: []content{}}
	if err := translateMessages(req.Messages, out, deployment); err != nil {
		return nil, err
	}
	if err := translateTools(req, out, deployment); err != nil {
		return nil, err
	}
	gc, err := translateGeneration(req, deployment)
	if err != nil {
		return nil, err
	}
	out.GenerationConfig = gc
	return out, nil
}

// rejectExtra refuses request fields Switchyard does not model: passing
// them on unread would silently change what the caller asked for.
func rejectExtra(extra map[string]json.RawMessage, prefix, deployment string) error {
	if len(extra) == 0 {
		return nil
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return llm.BadRequest(prefix+keys[0], "the field %q is not supported by Vertex AI deployment %q; remove it from the request", prefix+keys[0], deployment)
}

// callRef is what a tool message needs to know about the call it answers.
type callRef struct {
	name  string
	id    string // "" when the id was synthesized and Gemini never saw it
	order int    // position among its assistant message's calls
}

func translateMessages(msgs []llm.Message, out *generateContentRequest, deployment string) error {
	calls := map[string]callRef{}
	var pending []pendingResult
	flush := func() {
		if len(pending) == 0 {
			return
		}
		// Without ids Gemini pairs results with calls by order, so the
		// results follow the order of the calls, not of the tool messages.
		sort.SliceStable(pending, func(i, j int) bool { return pending[i].order < pending[j].order })
		parts := make([]part, len(pending))
		for i, p := range pending {
			parts[i] = p.part
		}
		out.Contents = append(out.Contents, content{Role: "user", Parts: parts})
		pending = nil
	}
	for i, m := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		if m.Role != llm.RoleTool {
			flush()
		}
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper:
			text, err := textOnly(m.Content, param, deployment)
			if err != nil {
				return err
			}
			if out.SystemInstruction == nil {
				out.SystemInstruction = &content{Parts: []part{}}
			}
			out.SystemInstruction.Parts = append(out.SystemInstruction.Parts, part{Text: text})
		case llm.RoleUser:
			parts, err := userParts(m.Content, param, deployment)
			if err != nil {
				return err
			}
			if len(parts) == 0 {
				return llm.BadRequest(param+".content", "%s is a user message with no content; Gemini rejects empty turns", param)
			}
			out.Contents = append(out.Contents, content{Role: "user", Parts: parts})
		case llm.RoleAssistant:
			parts, err := assistantParts(m, param, calls)
			if err != nil {
				return err
			}
			if len(parts) > 0 {
				out.Contents = append(out.Contents, content{Role: "model", Parts: parts})
			}
		case llm.RoleTool:
			p, err := toolResultPart(m, param, calls)
			if err != nil {
				return err
			}
			pending = append(pending, p)
		default:
			return llm.BadRequest(param+".role", "%s has role %q; use system, developer, user, assistant or tool", param, m.Role)
		}
	}
	flush()
	if len(out.Contents) == 0 {
		return llm.BadRequest("messages", "the request has no user or assistant messages; Gemini needs at least one")
	}
	return nil
}

type pendingResult struct {
	part  part
	order int
}

func textOnly(c llm.Content, param, deployment string) (string, error) {
	if c.Parts == nil {
		return c.Text, nil
	}
	var b strings.Builder
	for j, p := range c.Parts {
		if p.Type != llm.PartText {
			return "", llm.BadRequest(fmt.Sprintf("%s.content[%d]", param, j), "%s: system messages may contain only text parts on Vertex AI deployment %q, not %q", param, deployment, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func userParts(c llm.Content, param, deployment string) ([]part, error) {
	if c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []part{{Text: c.Text}}, nil
	}
	parts := make([]part, 0, len(c.Parts))
	for j, p := range c.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch p.Type {
		case llm.PartText, llm.PartImage:
			if err := rejectExtra(p.Extra, pp+".", deployment); err != nil {
				return nil, err
			}
		}
		switch p.Type {
		case llm.PartText:
			if p.Text != "" {
				parts = append(parts, part{Text: p.Text})
			}
		case llm.PartImage:
			if p.ImageURL == nil {
				return nil, llm.BadRequest(pp+".image_url", "%s has type image_url but no image_url", pp)
			}
			ip, err := imagePart(p.ImageURL.URL, pp+".image_url.url", deployment)
			if err != nil {
				return nil, err
			}
			parts = append(parts, ip)
		default:
			return nil, llm.BadRequest(pp+".type", "content part type %q is not supported by Vertex AI deployment %q; send text or image_url parts", p.Type, deployment)
		}
	}
	return parts, nil
}

// imagePart maps an image URL: data: URLs travel inline, gs:// and https
// URLs by reference (Vertex fetches them), which needs a MIME type that
// only the file name can tell.
func imagePart(raw, param, deployment string) (part, error) {
	if rest, ok := strings.CutPrefix(raw, "data:"); ok {
		meta, data, found := strings.Cut(rest, ",")
		mime, isB64 := strings.CutSuffix(meta, ";base64")
		if !found || !isB64 || mime == "" {
			return part{}, llm.BadRequest(param, "the image data URL must look like data:image/png;base64,<data>")
		}
		return part{InlineData: &blob{MimeType: mime, Data: data}}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "gs" && u.Scheme != "https") || u.Host == "" {
		return part{}, llm.BadRequest(param, "image URLs on Vertex AI deployment %q must be data: URLs, gs:// URIs or https URLs", deployment)
	}
	mime := mimeByExt[strings.ToLower(path.Ext(u.Path))]
	if mime == "" {
		return part{}, llm.BadRequest(param, "cannot tell the type of image %q from its name: Vertex AI needs a MIME type for images sent by URL; use a name ending in .png, .jpg, .gif or .webp, or send the image as a data: URL", raw)
	}
	return part{FileData: &fileData{MimeType: mime, FileURI: raw}}, nil
}

var mimeByExt = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf",
}

func assistantParts(m llm.Message, param string, calls map[string]callRef) ([]part, error) {
	var parts []part
	var pendingSig string
	for _, tb := range m.ThinkingBlocks {
		if tb.Type != "thinking" {
			continue // redacted blocks belong to another provider's reasoning
		}
		if tb.Thinking == "" {
			// A signature Gemini put on a plain text part goes back on it.
			pendingSig = tb.Signature
			continue
		}
		parts = append(parts, part{Text: tb.Thinking, Thought: true, ThoughtSignature: tb.Signature})
	}
	if text := m.Content.String(); text != "" {
		parts = append(parts, part{Text: text, ThoughtSignature: pendingSig})
		pendingSig = ""
	}
	for j, tc := range m.ToolCalls {
		pp := fmt.Sprintf("%s.tool_calls[%d]", param, j)
		if tc.Function.Name == "" {
			return nil, llm.BadRequest(pp+".function.name", "%s has no function name", pp)
		}
		args, err := argsObject(tc.Function.Arguments, pp+".function.arguments")
		if err != nil {
			return nil, err
		}
		// Results name the call by the id the client was given, suffix and
		// all; Gemini gets the id it sent (or none) and the signature from
		// the field, or else from the id (see sigid.go).
		id, sig := splitSignatureID(tc.ID)
		if tc.ThoughtSignature != "" {
			sig = tc.ThoughtSignature
		}
		if isSynthesizedID(id) {
			id = ""
		}
		calls[tc.ID] = callRef{name: tc.Function.Name, id: id, order: j}
		parts = append(parts, part{FunctionCall: &functionCall{ID: id, Name: tc.Function.Name, Args: args}, ThoughtSignature: sig})
	}
	return parts, nil
}

// argsObject turns OpenAI's arguments string into Gemini's args object.
func argsObject(s, param string) (json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(s)) || s[0] != '{' {
		return nil, llm.BadRequest(param, "tool call arguments must be a JSON object; Gemini cannot carry %.40q", s)
	}
	return compactJSON([]byte(s)), nil
}

func toolResultPart(m llm.Message, param string, calls map[string]callRef) (pendingResult, error) {
	ref, ok := calls[m.ToolCallID]
	if !ok {
		return pendingResult{}, llm.BadRequest(param+".tool_call_id", "%s answers tool_call_id %q, but no earlier assistant message made that call; Gemini needs the call to name the function", param, m.ToolCallID)
	}
	return pendingResult{
		part:  part{FunctionResponse: &functionResponse{ID: ref.id, Name: ref.name, Response: responseObject(m.Content.String())}},
		order: ref.order,
	}, nil
}

// responseObject returns a tool's result as the JSON object Gemini requires,
// wrapping anything else (plain text, arrays, numbers) as {"content": ...}.
func responseObject(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t != "" && json.Valid([]byte(t)) {
		if t[0] == '{' {
			return compactJSON([]byte(t))
		}
		return json.RawMessage(`{"content":` + string(compactJSON([]byte(t))) + `}`)
	}
	b, _ := json.Marshal(map[string]string{"content": s})
	return b
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

func translateTools(req *llm.ChatRequest, out *generateContentRequest, deployment string) error {
	names := map[string]bool{}
	if len(req.Tools) > 0 {
		decls := make([]functionDeclaration, 0, len(req.Tools))
		for i, t := range req.Tools {
			pp := fmt.Sprintf("tools[%d]", i)
			if t.Type != "" && t.Type != "function" {
				return llm.BadRequest(pp+".type", "tool type %q is not supported by Vertex AI deployment %q; only function tools are", t.Type, deployment)
			}
			if !geminiNameRE.MatchString(t.Function.Name) {
				return llm.BadRequest(pp+".function.name", "function name %q is not valid for Gemini: it must start with a letter or underscore and use at most 64 letters, digits, _ . : -", t.Function.Name)
			}
			d := functionDeclaration{Name: t.Function.Name, Description: t.Function.Description}
			if len(t.Function.Parameters) > 0 && string(t.Function.Parameters) != "null" {
				s, err := convertSchema(t.Function.Parameters, schemaTarget{param: pp + ".function.parameters", deployment: deployment})
				if err != nil {
					return err
				}
				d.Parameters = s
			}
			names[t.Function.Name] = true
			decls = append(decls, d)
		}
		out.Tools = []geminiTool{{FunctionDeclarations: decls}}
	}
	tc := req.ToolChoice
	if tc == nil {
		return nil
	}
	if len(req.Tools) == 0 && tc.Mode != llm.ToolChoiceNone {
		return llm.BadRequest("tool_choice", "tool_choice is set but the request declares no tools")
	}
	var fc functionCallingConfig
	switch {
	case tc.Function != "":
		if !names[tc.Function] {
			return llm.BadRequest("tool_choice", "tool_choice names function %q, which is not among the request's tools", tc.Function)
		}
		fc = functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{tc.Function}}
	case tc.Mode == llm.ToolChoiceNone:
		fc.Mode = "NONE"
	case tc.Mode == llm.ToolChoiceRequired:
		fc.Mode = "ANY"
	default:
		fc.Mode = "AUTO"
	}
	out.ToolConfig = &toolConfig{FunctionCallingConfig: fc}
	return nil
}

func translateGeneration(req *llm.ChatRequest, deployment string) (*generationConfig, error) {
	gc := &generationConfig{
		Temperature:      req.Temperature,
		TopP:             req.TopP,
		CandidateCount:   req.N,
		Seed:             req.Seed,
		StopSequences:    req.Stop,
		PresencePenalty:  req.PresencePenalty,
		FrequencyPenalty: req.FrequencyPenalty,
	}
	if n := req.MaxOutputTokens(); n > 0 {
		gc.MaxOutputTokens = &n
	}
	if req.Logprobs != nil && *req.Logprobs {
		gc.ResponseLogprobs = req.Logprobs
		gc.Logprobs = req.TopLogprobs
	} else if req.TopLogprobs != nil {
		return nil, llm.BadRequest("top_logprobs", "top_logprobs needs logprobs: true")
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			gc.ResponseMimeType = "application/json"
		case "json_schema":
			gc.ResponseMimeType = "application/json"
			if rf.JSONSchema == nil {
				return nil, llm.BadRequest("response_format.json_schema", "response_format json_schema needs a json_schema object")
			}
			if len(rf.JSONSchema.Schema) > 0 {
				s, err := convertSchema(rf.JSONSchema.Schema, schemaTarget{param: "response_format.json_schema.schema", deployment: deployment, orderProperties: true})
				if err != nil {
					return nil, err
				}
				gc.ResponseSchema = s
			}
		default:
			return nil, llm.BadRequest("response_format.type", "response_format type %q is not one of text, json_object, json_schema", rf.Type)
		}
	}
	if e := req.ReasoningEffort; e != "" {
		budget, ok := reasoningBudgets[e]
		if !ok {
			return nil, llm.BadRequest("reasoning_effort", "reasoning_effort %q is not one of none, minimal, low, medium, high", e)
		}
		gc.ThinkingConfig = &thinkingConfig{ThinkingBudget: &budget, IncludeThoughts: budget > 0}
	}
	if b, _ := json.Marshal(gc); string(b) == "{}" {
		return nil, nil
	}
	return gc, nil
}
