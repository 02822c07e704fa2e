package vertexsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/internal/sim"
)

// The fake's own reading of the Gemini request. It decodes strictly, as
// Vertex AI does ("Invalid JSON payload received. Unknown name ..."), so
// an adapter that sends a misspelt field fails here as it would there.

type gRequest struct {
	Contents          []gContent        `json:"contents"`
	SystemInstruction *gContent         `json:"systemInstruction"`
	Tools             []gTool           `json:"tools"`
	ToolConfig        json.RawMessage   `json:"toolConfig"`
	GenerationConfig  *gGenConfig       `json:"generationConfig"`
	SafetySettings    json.RawMessage   `json:"safetySettings"`
	Labels            map[string]string `json:"labels"`
	CachedContent     string            `json:"cachedContent"`
}

type gContent struct {
	Role  string  `json:"role"`
	Parts []gPart `json:"parts"`
}

type gPart struct {
	Text             *string         `json:"text"`
	Thought          bool            `json:"thought"`
	ThoughtSignature string          `json:"thoughtSignature"`
	InlineData       *gBlob          `json:"inlineData"`
	FileData         *gFile          `json:"fileData"`
	FunctionCall     *gCall          `json:"functionCall"`
	FunctionResponse *gFuncResponse  `json:"functionResponse"`
	VideoMetadata    json.RawMessage `json:"videoMetadata"`
}

type gBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type gFile struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

type gCall struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type gFuncResponse struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type gTool struct {
	FunctionDeclarations []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"functionDeclarations"`
}

type gGenConfig struct {
	Temperature      *float64        `json:"temperature"`
	TopP             *float64        `json:"topP"`
	TopK             *float64        `json:"topK"`
	CandidateCount   int             `json:"candidateCount"`
	MaxOutputTokens  int             `json:"maxOutputTokens"`
	StopSequences    []string        `json:"stopSequences"`
	Seed             *int64          `json:"seed"`
	PresencePenalty  *float64        `json:"presencePenalty"`
	FrequencyPenalty *float64        `json:"frequencyPenalty"`
	ResponseMimeType string          `json:"responseMimeType"`
	ResponseSchema   json.RawMessage `json:"responseSchema"`
	ResponseLogprobs bool            `json:"responseLogprobs"`
	Logprobs         int             `json:"logprobs"`
	ThinkingConfig   json.RawMessage `json:"thinkingConfig"`
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// checkRequest applies the checks Vertex AI makes that a wrong adapter
// would trip over; it returns the INVALID_ARGUMENT message, or "".
func (s *server) checkRequest(model string, req *gRequest) string {
	strict := s.requiresSignatures(model)
	if len(req.Contents) == 0 {
		return "Unable to submit request because it must include at least one parts field, which describes the prompt input."
	}
	for i, c := range req.Contents {
		if c.Role != "user" && c.Role != "model" {
			return fmt.Sprintf("contents[%d].role %q must be user or model.", i, c.Role)
		}
		if len(c.Parts) == 0 {
			return fmt.Sprintf("Unable to submit request because it has an empty contents[%d].parts field.", i)
		}
		for j, p := range c.Parts {
			if msg := checkPart(p, fmt.Sprintf("contents[%d].parts[%d]", i, j)); msg != "" {
				return msg
			}
			if strict && c.Role == "model" && p.FunctionCall != nil && j == firstCall(c.Parts) &&
				p.ThoughtSignature != signature(p.FunctionCall.Name) {
				return fmt.Sprintf("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:%s` , position %d.", p.FunctionCall.Name, i+1)
			}
		}
	}
	for _, t := range req.Tools {
		for _, d := range t.FunctionDeclarations {
			if d.Name == "" {
				return "Unable to submit request because one or more function declarations has an empty name."
			}
			if msg := checkSchema(d.Parameters, d.Name); msg != "" {
				return msg
			}
		}
	}
	if gc := req.GenerationConfig; gc != nil && len(gc.ResponseSchema) > 0 {
		if gc.ResponseMimeType != "application/json" {
			return "responseSchema needs responseMimeType application/json."
		}
		return checkSchema(gc.ResponseSchema, "responseSchema")
	}
	return ""
}

// requiresSignatures reports whether model turns with function calls
// must carry back the thoughtSignature the fake sent: Gemini 3 models
// insist on it; Options.RequireThoughtSignatures makes any model insist.
func (s *server) requiresSignatures(model string) bool {
	return s.opts.RequireThoughtSignatures || strings.HasPrefix(model, "gemini-3")
}

func firstCall(parts []gPart) int {
	for i, p := range parts {
		if p.FunctionCall != nil {
			return i
		}
	}
	return -1
}

func checkPart(p gPart, at string) string {
	n := 0
	for _, set := range []bool{p.Text != nil, p.InlineData != nil, p.FileData != nil, p.FunctionCall != nil, p.FunctionResponse != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return fmt.Sprintf("%s must set exactly one of text, inlineData, fileData, functionCall, functionResponse.", at)
	case p.InlineData != nil && (p.InlineData.MimeType == "" || !validBase64(p.InlineData.Data)):
		return fmt.Sprintf("%s.inlineData needs a mimeType and base64 data.", at)
	case p.FileData != nil && (p.FileData.MimeType == "" || p.FileData.FileURI == ""):
		return fmt.Sprintf("%s.fileData needs a mimeType and a fileUri.", at)
	case p.FunctionCall != nil && !isObject(p.FunctionCall.Args, true):
		return fmt.Sprintf("Invalid JSON payload received. %s.functionCall.args must be an object.", at)
	case p.FunctionResponse != nil && !isObject(p.FunctionResponse.Response, false):
		return fmt.Sprintf("Invalid JSON payload received. %s.functionResponse.response must be an object.", at)
	case p.ThoughtSignature != "" && !validBase64(p.ThoughtSignature):
		return fmt.Sprintf("Invalid value at '%s.thought_signature' (TYPE_BYTES), Base64 decoding failed.", at)
	}
	return ""
}

func validBase64(s string) bool {
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

func isObject(raw json.RawMessage, nullOK bool) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nullOK
	}
	return t[0] == '{' && json.Valid(t)
}

var schemaTypes = map[string]bool{"STRING": true, "NUMBER": true, "INTEGER": true, "BOOLEAN": true, "ARRAY": true, "OBJECT": true, "NULL": true}

// checkSchema rejects JSON Schema spellings Gemini's OpenAPI subset lacks
// (lowercase types are accepted by Vertex only in some versions: the fake
// insists on the documented uppercase form).
func checkSchema(raw json.RawMessage, where string) string {
	if len(raw) == 0 {
		return ""
	}
	var node map[string]json.RawMessage
	if err := json.Unmarshal(raw, &node); err != nil {
		return fmt.Sprintf("Invalid JSON payload received. The schema of %s must be an object.", where)
	}
	for k, v := range node {
		switch k {
		case "type":
			var t string
			if json.Unmarshal(v, &t) != nil || !schemaTypes[t] {
				return fmt.Sprintf("Invalid JSON payload received. Invalid value at 'schema.type' (%s) in %s.", string(v), where)
			}
		case "properties":
			var props map[string]json.RawMessage
			if err := json.Unmarshal(v, &props); err != nil {
				return fmt.Sprintf("Invalid JSON payload received. properties in %s must be an object.", where)
			}
			for _, p := range props {
				if msg := checkSchema(p, where); msg != "" {
					return msg
				}
			}
		case "items":
			if msg := checkSchema(v, where); msg != "" {
				return msg
			}
		case "anyOf":
			var alts []json.RawMessage
			_ = json.Unmarshal(v, &alts)
			for _, a := range alts {
				if msg := checkSchema(a, where); msg != "" {
					return msg
				}
			}
		case "format", "title", "description", "nullable", "enum", "required", "propertyOrdering", "default", "example",
			"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties", "minimum", "maximum", "pattern":
		default:
			return fmt.Sprintf("Invalid JSON payload received. Unknown name %q at 'schema' in %s: Cannot find field.", k, where)
		}
	}
	return ""
}

// prompt extracts the cloud-neutral gist of a Gemini request.
func prompt(model string, req *gRequest) sim.Prompt {
	p := sim.Prompt{Model: model}
	var all strings.Builder
	if req.SystemInstruction != nil {
		for _, part := range req.SystemInstruction.Parts {
			if part.Text != nil {
				all.WriteString(*part.Text + " ")
			}
		}
	}
	for i, c := range req.Contents {
		var text strings.Builder
		last := i == len(req.Contents)-1
		for _, part := range c.Parts {
			switch {
			case part.Text != nil && !part.Thought:
				text.WriteString(*part.Text)
			case part.FunctionResponse != nil:
				r := toolResultText(part.FunctionResponse.Response)
				all.WriteString(r + " ")
				if last && c.Role == "user" {
					p.HasToolResult, p.ToolResult = true, r
				}
			}
		}
		all.WriteString(text.String() + " ")
		if c.Role == "user" && text.Len() > 0 {
			p.LastUser = text.String()
		}
	}
	for _, t := range req.Tools {
		for _, d := range t.FunctionDeclarations {
			p.Tools = append(p.Tools, d.Name)
		}
	}
	p.Text = all.String()
	if req.GenerationConfig != nil {
		p.MaxTokens = req.GenerationConfig.MaxOutputTokens
	}
	return p
}

// toolResultText unwraps {"content": "..."} (how adapters wrap plain tool
// output) and otherwise returns the object's JSON.
func toolResultText(raw json.RawMessage) string {
	var wrapped map[string]json.RawMessage
	if json.Unmarshal(raw, &wrapped) == nil && len(wrapped) == 1 {
		var s string
		if json.Unmarshal(wrapped["content"], &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// signature is the thoughtSignature the fake puts on a function call, so
// that a later turn can be checked for carrying it back.
func signature(name string) string {
	return base64.StdEncoding.EncodeToString([]byte("sim-thought:" + name))
}

var finishNames = map[string]string{"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}

// replyParts renders a reply as the parts of one model turn, each group
// being what one stream chunk carries.
func replyParts(reply sim.Reply, jsonOut bool) [][]map[string]any {
	var groups [][]map[string]any
	if reply.FinishReason == "content_filter" {
		return nil // a blocked candidate carries no content
	}
	if reply.Reasoning != "" {
		groups = append(groups, []map[string]any{{"text": reply.Reasoning, "thought": true, "thoughtSignature": signature("reasoning")}})
	}
	text := reply.Text
	if jsonOut && text != "" && !json.Valid([]byte(text)) {
		b, _ := json.Marshal(map[string]string{"answer": text})
		text = string(b)
	}
	for _, piece := range sim.Pieces(text) {
		groups = append(groups, []map[string]any{{"text": piece}})
	}
	if len(reply.ToolCalls) > 0 {
		var calls []map[string]any
		for i, tc := range reply.ToolCalls {
			args := json.RawMessage(tc.Arguments)
			if !json.Valid(args) {
				args = json.RawMessage("{}")
			}
			p := map[string]any{"functionCall": map[string]any{"name": tc.Name, "args": args}}
			// Every turn with calls is signed, on its first call only:
			// Gemini signs parallel calls once.
			if i == 0 {
				p["thoughtSignature"] = signature(tc.Name)
			}
			calls = append(calls, p)
		}
		groups = append(groups, calls)
	}
	return groups
}

func usage(reply sim.Reply, n int) map[string]any {
	thoughts := 0
	if reply.Reasoning != "" {
		thoughts = min(sim.CountTokens(reply.Reasoning), reply.CompletionTokens-1)
	}
	cands := (reply.CompletionTokens - thoughts) * n
	u := map[string]any{
		"promptTokenCount":     reply.PromptTokens,
		"candidatesTokenCount": cands,
		"totalTokenCount":      reply.PromptTokens + cands + thoughts*n,
	}
	if thoughts > 0 {
		u["thoughtsTokenCount"] = thoughts * n
	}
	if reply.CachedTokens > 0 {
		u["cachedContentTokenCount"] = reply.CachedTokens
	}
	return u
}

type renderMode int

const (
	renderJSON renderMode = iota
	renderSSE
	renderArray
)

func (s *server) generate(w http.ResponseWriter, r *http.Request, model string, body []byte, mode renderMode) {
	var req gRequest
	if err := decodeStrict(body, &req); err != nil {
		writeStatus(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error(), 0)
		return
	}
	if msg := s.checkRequest(model, &req); msg != "" {
		writeStatus(w, http.StatusBadRequest, msg, 0)
		return
	}
	reply := s.eng.Script().Answer(prompt(model, &req))
	n := 1
	jsonOut := false
	if gc := req.GenerationConfig; gc != nil {
		n = max(gc.CandidateCount, 1)
		jsonOut = gc.ResponseMimeType == "application/json"
	}
	groups := replyParts(reply, jsonOut)
	finish := finishNames[reply.FinishReason]
	respID := fmt.Sprintf("sim-%08x", fnvHash(string(body)))
	chunk := func(parts []map[string]any, last bool) map[string]any {
		cands := make([]map[string]any, n)
		for i := range cands {
			c := map[string]any{"index": i}
			if len(parts) > 0 {
				c["content"] = map[string]any{"role": "model", "parts": parts}
			}
			if last {
				c["finishReason"] = finish
			}
			cands[i] = c
		}
		out := map[string]any{"candidates": cands, "modelVersion": model, "responseId": respID}
		if last {
			out["usageMetadata"] = usage(reply, n)
		}
		return out
	}
	if mode == renderJSON {
		var parts []map[string]any
		for _, g := range groups {
			parts = append(parts, g...)
		}
		writeJSON(w, chunk(mergeText(parts), true))
		return
	}
	chunks := make([]map[string]any, 0, len(groups)+1)
	for i, g := range groups {
		chunks = append(chunks, chunk(g, i == len(groups)-1))
	}
	if len(chunks) == 0 {
		chunks = append(chunks, chunk(nil, true))
	}
	if mode == renderArray {
		writeJSON(w, chunks)
		return
	}
	s.streamSSE(w, r, chunks)
}

// mergeText joins adjacent plain text parts, as a non-streamed answer has them.
func mergeText(parts []map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range parts {
		if t, ok := p["text"].(string); ok && len(p) == 1 && len(out) > 0 {
			if prev, ok := out[len(out)-1]["text"].(string); ok && len(out[len(out)-1]) == 1 {
				out[len(out)-1] = map[string]any{"text": prev + t}
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// streamSSE writes one `data:` event per chunk, flushed, with no end
// marker: Gemini ends a stream by closing it. A truncated stream stops
// before the chunk that carries finishReason.
func (s *server) streamSSE(w http.ResponseWriter, r *http.Request, chunks []map[string]any) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i, c := range chunks {
		if i > 0 && !s.eng.Pace(r, i) {
			return
		}
		b, _ := json.Marshal(c)
		if _, err := fmt.Fprintf(w, "data: %s\r\n\r\n", b); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func fnvHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// predict serves text embeddings: deterministic unit vectors derived from
// each instance's content.
func (s *server) predict(w http.ResponseWriter, body []byte) {
	var req struct {
		Instances []struct {
			Content  string `json:"content"`
			TaskType string `json:"task_type"`
			Title    string `json:"title"`
		} `json:"instances"`
		Parameters struct {
			OutputDimensionality int  `json:"outputDimensionality"`
			AutoTruncate         bool `json:"autoTruncate"`
		} `json:"parameters"`
	}
	if err := decodeStrict(body, &req); err != nil {
		writeStatus(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error(), 0)
		return
	}
	if len(req.Instances) == 0 {
		writeStatus(w, http.StatusBadRequest, "instances must not be empty.", 0)
		return
	}
	dims := req.Parameters.OutputDimensionality
	if dims <= 0 {
		dims = 768
	}
	preds := make([]any, len(req.Instances))
	chars := 0
	for i, in := range req.Instances {
		chars += len(in.Content)
		preds[i] = map[string]any{"embeddings": map[string]any{
			"values":     vector(in.Content, dims),
			"statistics": map[string]any{"truncated": false, "token_count": sim.CountTokens(in.Content)},
		}}
	}
	writeJSON(w, map[string]any{"predictions": preds, "metadata": map[string]any{"billableCharacterCount": chars}})
}

func vector(text string, dims int) []float32 {
	v := make([]float32, dims)
	x := uint64(fnvHash(text)) | 1
	var norm float64
	for i := range v {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v[i] = float32(int64(x%2001)-1000) / 1000
		norm += float64(v[i]) * float64(v[i])
	}
	if norm > 0 {
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
	}
	return v
}
