package bedrocksim

import (
	"encoding/json"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/switchyard/switchyard/internal/sim"
)

// event is one ConverseStream event before encoding.
type event struct {
	typ     string
	payload any
}

func (s *server) converseStream(w http.ResponseWriter, r *http.Request, body []byte, n int64) {
	p, bad := decodeConverse(r.PathValue("modelId"), body)
	if bad != "" {
		validation(w, bad)
		return
	}
	events := streamEvents(s.eng.Script().Answer(p), n)
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := eventstream.NewEncoder()
	for sent, ev := range events {
		if !s.eng.Pace(r, sent) {
			// Truncation closes the stream without messageStop/metadata;
			// a client that went away needs nothing more either.
			return
		}
		payload, _ := json.Marshal(ev.payload)
		msg := eventstream.Message{Payload: payload}
		msg.Headers.Set(":event-type", eventstream.StringValue(ev.typ))
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		if enc.Encode(w, msg) != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// streamEvents renders the whole answer: messageStart; reasoning, text and
// each tool use as content blocks (indexes in that order); messageStop;
// metadata with usage.
func streamEvents(reply sim.Reply, n int64) []event {
	out := []event{{"messageStart", map[string]string{"role": "assistant"}}}
	idx := 0
	delta := func(d any) {
		out = append(out, event{"contentBlockDelta", map[string]any{"contentBlockIndex": idx, "delta": d}})
	}
	stop := func() {
		out = append(out, event{"contentBlockStop", map[string]int{"contentBlockIndex": idx}})
		idx++
	}
	if reply.Reasoning != "" {
		for _, piece := range sim.Pieces(reply.Reasoning) {
			delta(map[string]any{"reasoningContent": map[string]string{"text": piece}})
		}
		delta(map[string]any{"reasoningContent": map[string]string{"signature": signature}})
		stop()
	}
	if reply.Text != "" || len(reply.ToolCalls) == 0 {
		for _, piece := range sim.Pieces(reply.Text) {
			delta(map[string]string{"text": piece})
		}
		stop()
	}
	for i, tc := range reply.ToolCalls {
		out = append(out, event{"contentBlockStart", map[string]any{"contentBlockIndex": idx,
			"start": map[string]any{"toolUse": map[string]string{"toolUseId": toolUseID(n, i), "name": tc.Name}}}})
		for _, frag := range sim.ArgPieces(argsObject(tc.Arguments)) {
			delta(map[string]any{"toolUse": map[string]string{"input": frag}})
		}
		stop()
	}
	out = append(out,
		event{"messageStop", map[string]string{"stopReason": stopReason(reply)}},
		event{"metadata", map[string]any{"usage": usage(reply), "metrics": map[string]int{"latencyMs": 12}}},
	)
	return out
}
