package vertexsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/internal/sim"
)

// The fake's own minimal reading of an Anthropic Messages body, as Claude
// on Vertex AI receives it: no model (it is in the URL) and
// anthropic_version "vertex-2023-10-16" in the body.

type aRequest struct {
	AnthropicVersion string                  `json:"anthropic_version"`
	Model            *string                 `json:"model"`
	MaxTokens        int                     `json:"max_tokens"`
	Messages         []aMessage              `json:"messages"`
	System           json.RawMessage         `json:"system"`
	Tools            []struct{ Name string } `json:"tools"`
	Stream           bool                    `json:"stream"`
}

type aMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type aBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Content json.RawMessage `json:"content"`
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}})
}

func (s *server) rawPredict(w http.ResponseWriter, r *http.Request, model string, body []byte, stream bool) {
	var req aRequest
	if err := json.Unmarshal(body, &req); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "the body is not JSON: "+err.Error())
		return
	}
	switch {
	case req.AnthropicVersion != "vertex-2023-10-16":
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("anthropic_version: %q is not vertex-2023-10-16", req.AnthropicVersion))
		return
	case req.Model != nil:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "model: Extra inputs are not permitted (Vertex AI takes the model from the URL)")
		return
	case req.MaxTokens <= 0:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	case len(req.Messages) == 0:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "messages: at least one message is required")
		return
	case req.Stream != stream:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "stream must be true for streamRawPredict and false for rawPredict")
		return
	}
	reply := s.eng.Script().Answer(anthropicPrompt(model, &req))
	id := fmt.Sprintf("msg_vrtx_%08x", fnvHash(string(body)))
	blocks := anthropicBlocks(reply)
	stop := map[string]string{"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens", "content_filter": "refusal"}[reply.FinishReason]
	usage := map[string]int{"input_tokens": reply.PromptTokens - reply.CachedTokens, "output_tokens": reply.CompletionTokens, "cache_read_input_tokens": reply.CachedTokens}
	if !stream {
		writeJSON(w, map[string]any{"id": id, "type": "message", "role": "assistant", "model": model, "content": blocks,
			"stop_reason": stop, "stop_sequence": nil, "usage": usage})
		return
	}
	events := []map[string]any{{"type": "message_start", "message": map[string]any{"id": id, "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": usage["input_tokens"], "output_tokens": 1, "cache_read_input_tokens": reply.CachedTokens}}}}
	for i, b := range blocks {
		switch b["type"] {
		case "text":
			events = append(events, map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			for _, p := range sim.Pieces(b["text"].(string)) {
				events = append(events, map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "text_delta", "text": p}})
			}
		case "tool_use":
			events = append(events, map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}})
			for _, p := range sim.ArgPieces(string(b["input"].(json.RawMessage))) {
				events = append(events, map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": p}})
			}
		}
		events = append(events, map[string]any{"type": "content_block_stop", "index": i})
	}
	events = append(events,
		map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]int{"output_tokens": reply.CompletionTokens}},
		map[string]any{"type": "message_stop"})
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i, ev := range events {
		if i > 0 && !s.eng.Pace(r, i) {
			return
		}
		b, _ := json.Marshal(ev)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev["type"], b); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

func anthropicBlocks(reply sim.Reply) []map[string]any {
	var blocks []map[string]any
	if reply.Text != "" {
		blocks = append(blocks, map[string]any{"type": "text", "text": reply.Text})
	}
	for i, tc := range reply.ToolCalls {
		in := json.RawMessage(tc.Arguments)
		if !json.Valid(in) {
			in = json.RawMessage("{}")
		}
		blocks = append(blocks, map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_vrtx_%02d", i), "name": tc.Name, "input": in})
	}
	return blocks
}

func anthropicPrompt(model string, req *aRequest) sim.Prompt {
	p := sim.Prompt{Model: model, MaxTokens: req.MaxTokens}
	var all strings.Builder
	all.Write(req.System)
	for i, m := range req.Messages {
		var text strings.Builder
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			text.WriteString(s)
		}
		var blocks []aBlock
		_ = json.Unmarshal(m.Content, &blocks)
		for _, b := range blocks {
			switch b.Type {
			case "text":
				text.WriteString(b.Text)
			case "tool_result":
				var rs string
				if json.Unmarshal(b.Content, &rs) != nil {
					rs = string(b.Content)
				}
				all.WriteString(rs + " ")
				if i == len(req.Messages)-1 {
					p.HasToolResult, p.ToolResult = true, rs
				}
			}
		}
		all.WriteString(text.String() + " ")
		if m.Role == "user" && text.Len() > 0 {
			p.LastUser = text.String()
		}
	}
	for _, t := range req.Tools {
		p.Tools = append(p.Tools, t.Name)
	}
	p.Text = all.String()
	return p
}
