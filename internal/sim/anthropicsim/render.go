package anthropicsim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sse"
	wire "github.com/switchyard/switchyard/internal/wire/anthropic"
)

// validate applies the checks the real API makes that adapters most often
// get wrong; it returns the error message, or "".
func validate(req *wire.MessagesRequest) string {
	if len(req.Extra) > 0 {
		names := make([]string, 0, len(req.Extra))
		for k := range req.Extra {
			names = append(names, k)
		}
		sort.Strings(names)
		return names[0] + ": Extra inputs are not permitted"
	}
	if req.AnthropicVersion != "" {
		return "anthropic_version: Extra inputs are not permitted"
	}
	if req.Model == "" {
		return "model: Field required"
	}
	if req.MaxTokens <= 0 {
		return "max_tokens: Field required"
	}
	if len(req.Messages) == 0 {
		return "messages: at least one message is required"
	}
	if t := req.Temperature; t != nil && (*t < 0 || *t > 1) {
		return "temperature: Input should be less than or equal to 1"
	}
	for i, m := range req.Messages {
		if m.Role != wire.RoleUser && m.Role != wire.RoleAssistant {
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		for j, b := range m.Content.Blocks {
			if msg := validateBlock(b); msg != "" {
				return fmt.Sprintf("messages.%d.content.%d: %s", i, j, msg)
			}
		}
		// Every tool_use must be answered in the very next message.
		if m.Role == wire.RoleAssistant {
			if msg := answered(req.Messages, i); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func validateBlock(b wire.ContentBlock) string {
	switch b.Type {
	case wire.BlockText:
		if b.Text == "" {
			return "text content blocks must be non-empty"
		}
	case wire.BlockImage:
		if b.Source == nil {
			return "source: Field required"
		}
		if b.Source.Type == "base64" && (b.Source.MediaType == "" || b.Source.Data == "") {
			return "source: base64 images need media_type and data"
		}
	case wire.BlockToolUse:
		if b.ID == "" || b.Name == "" || !json.Valid(b.Input) {
			return "tool_use blocks need id, name and an input object"
		}
	case wire.BlockToolResult:
		if b.ToolUseID == "" {
			return "tool_use_id: Field required"
		}
	case wire.BlockThinking:
		if b.Signature == "" {
			return "signature: Field required"
		}
	case wire.BlockRedactedThinking:
	default:
		return fmt.Sprintf("unknown content block type %q", b.Type)
	}
	return ""
}

func answered(msgs []wire.MessageParam, i int) string {
	var ids []string
	for _, b := range msgs[i].Content.Blocks {
		if b.Type == wire.BlockToolUse {
			ids = append(ids, b.ID)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	if i+1 >= len(msgs) {
		return "" // the model is asked to continue its own turn
	}
	results := map[string]bool{}
	for _, b := range msgs[i+1].Content.Blocks {
		if b.Type == wire.BlockToolResult {
			results[b.ToolUseID] = true
		}
	}
	for _, id := range ids {
		if !results[id] {
			return fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, id)
		}
	}
	return ""
}

// promptOf extracts the cloud-neutral prompt from a request.
func promptOf(req *wire.MessagesRequest) sim.Prompt {
	p := sim.Prompt{Model: req.Model, MaxTokens: req.MaxTokens}
	var all strings.Builder
	if req.System != nil {
		all.WriteString(contentText(*req.System))
	}
	for _, t := range req.Tools {
		p.Tools = append(p.Tools, t.Name)
	}
	for i, m := range req.Messages {
		text := contentText(m.Content)
		all.WriteString(" " + text)
		if m.Role != wire.RoleUser {
			continue
		}
		if t := userText(m.Content); t != "" {
			p.LastUser = t
		}
		if i == len(req.Messages)-1 {
			for _, b := range m.Content.Blocks {
				if b.Type == wire.BlockToolResult {
					p.HasToolResult = true
					if b.ResultContent != nil {
						p.ToolResult = contentText(*b.ResultContent)
					}
				}
			}
		}
	}
	p.Text = all.String()
	return p
}

// userText is the text a person typed in a user turn (not tool results).
func userText(c wire.Content) string {
	if c.Blocks == nil {
		return c.Text
	}
	var b strings.Builder
	for _, bl := range c.Blocks {
		if bl.Type == wire.BlockText {
			b.WriteString(bl.Text)
		}
	}
	return b.String()
}

// contentText is all the text of some content, tool results included.
func contentText(c wire.Content) string {
	if c.Blocks == nil {
		return c.Text
	}
	var b strings.Builder
	for _, bl := range c.Blocks {
		switch bl.Type {
		case wire.BlockText:
			b.WriteString(bl.Text + " ")
		case wire.BlockToolResult:
			if bl.ResultContent != nil {
				b.WriteString(contentText(*bl.ResultContent) + " ")
			}
		case wire.BlockToolUse:
			b.WriteString(bl.Name + " " + string(bl.Input) + " ")
		}
	}
	return b.String()
}

// render turns a scripted reply into a Messages answer.
func (s *server) render(req *wire.MessagesRequest, r sim.Reply) *wire.MessagesResponse {
	calls := r.ToolCalls
	// A forced tool is always called: the model answers through it.
	if tc := req.ToolChoice; tc != nil && tc.Type == wire.ToolChoiceTool && len(calls) == 0 {
		args := strings.TrimSpace(r.Text)
		if !json.Valid([]byte(args)) || !strings.HasPrefix(args, "{") {
			b, _ := json.Marshal(map[string]string{"text": r.Text})
			args = string(b)
		}
		calls = []sim.ToolCallSpec{{Name: tc.Name, Arguments: args}}
		r.Text, r.FinishReason = "", "tool_calls"
	}
	msg := &wire.MessagesResponse{
		ID:      fmt.Sprintf("msg_sim%d", s.ids.Add(1)),
		Type:    "message",
		Role:    wire.RoleAssistant,
		Model:   req.Model,
		Content: []wire.ContentBlock{},
		Usage: wire.Usage{
			InputTokens:          max(r.PromptTokens-r.CachedTokens, 0),
			OutputTokens:         r.CompletionTokens,
			CacheReadInputTokens: r.CachedTokens,
		},
	}
	if r.Reasoning != "" {
		msg.Content = append(msg.Content, wire.ContentBlock{Type: wire.BlockThinking, Thinking: r.Reasoning, Signature: signature(r.Reasoning)})
	}
	if r.Text != "" {
		msg.Content = append(msg.Content, wire.ContentBlock{Type: wire.BlockText, Text: r.Text})
	}
	for _, c := range calls {
		args := c.Arguments
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		msg.Content = append(msg.Content, wire.ContentBlock{Type: wire.BlockToolUse, ID: fmt.Sprintf("toolu_%d", s.ids.Add(1)), Name: c.Name, Input: json.RawMessage(args)})
	}
	stop := stopReason(r.FinishReason)
	if len(calls) > 0 {
		stop = wire.StopToolUse
	}
	msg.StopReason = &stop
	return msg
}

// signature is a fake but stable thinking signature.
func signature(thinking string) string {
	h := fnv.New64a()
	h.Write([]byte(thinking))
	return fmt.Sprintf("simsig_%016x", h.Sum64())
}

func stopReason(finish string) string {
	switch finish {
	case "length":
		return wire.StopMaxTokens
	case "tool_calls":
		return wire.StopToolUse
	case "content_filter":
		return wire.StopRefusal
	}
	return wire.StopEndTurn
}

// stream writes msg as the Messages event sequence. Each delta is paced by
// the engine; a truncated stream stops without message_stop.
func (s *server) stream(w http.ResponseWriter, r *http.Request, msg *wire.MessagesResponse) {
	sse.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(w)
	send := func(name string, v any) bool {
		b, _ := json.Marshal(v)
		return sw.WriteEvent(name, b) == nil
	}
	start := *msg
	start.Content = []wire.ContentBlock{}
	start.StopReason = nil
	start.Usage.OutputTokens = 1
	if !send("message_start", map[string]any{"type": "message_start", "message": start}) || !send("ping", map[string]string{"type": "ping"}) {
		return
	}
	sent := 0
	delta := func(i int, d map[string]string) bool {
		if !s.eng.Pace(r, sent) {
			return false
		}
		sent++
		return send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": d})
	}
	for i, b := range msg.Content {
		startBlock := b
		switch b.Type {
		case wire.BlockText:
			startBlock.Text = ""
		case wire.BlockThinking:
			startBlock.Thinking, startBlock.Signature = "", ""
		case wire.BlockToolUse:
			startBlock.Input = json.RawMessage("{}")
		}
		if !send("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": startBlock}) {
			return
		}
		var ok = true
		switch b.Type {
		case wire.BlockText:
			for _, piece := range sim.Pieces(b.Text) {
				if ok = delta(i, map[string]string{"type": "text_delta", "text": piece}); !ok {
					break
				}
			}
		case wire.BlockThinking:
			for _, piece := range sim.Pieces(b.Thinking) {
				if ok = delta(i, map[string]string{"type": "thinking_delta", "thinking": piece}); !ok {
					break
				}
			}
			ok = ok && delta(i, map[string]string{"type": "signature_delta", "signature": b.Signature})
		case wire.BlockToolUse:
			for _, piece := range sim.ArgPieces(string(b.Input)) {
				if ok = delta(i, map[string]string{"type": "input_json_delta", "partial_json": piece}); !ok {
					break
				}
			}
		}
		if !ok || !send("content_block_stop", map[string]any{"type": "content_block_stop", "index": i}) {
			return
		}
	}
	if s.eng.Truncated(sent) {
		return
	}
	send("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": *msg.StopReason, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": msg.Usage.OutputTokens},
	})
	send("message_stop", map[string]string{"type": "message_stop"})
}
