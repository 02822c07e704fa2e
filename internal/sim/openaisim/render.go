package openaisim

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sse"
)

// Answer is one simulated completion, ready to render.
type Answer struct {
	// ID is the completion id, shared by every chunk of a stream.
	ID string
	// Created is the Unix time every chunk of a stream shares.
	Created int64
	// Model is the model the answer reports.
	Model string
	// Reply is what the simulated model said, with token counts filled in.
	Reply sim.Reply
	// IncludeUsage ends a stream with a usage chunk and writes
	// "usage":null on every other chunk, as stream_options.include_usage asks.
	IncludeUsage bool
}

// Dialect carries what another OpenAI-shaped cloud adds to OpenAI's
// answers. The zero value is OpenAI itself.
type Dialect struct {
	// PromptFilterResults, when set, is added to a completion and sent as
	// a stream's first chunk, whose id, object and model are empty (Azure).
	PromptFilterResults json.RawMessage
	// ChoiceFilterResults, when set, is added to every choice as
	// content_filter_results (Azure).
	ChoiceFilterResults json.RawMessage
}

const fingerprint = "fp_sim0001"

// toolCalls renders the reply's tool calls with stable ids call_<n>.
func toolCalls(r sim.Reply) []wireToolCall {
	out := make([]wireToolCall, len(r.ToolCalls))
	for i, tc := range r.ToolCalls {
		out[i].ID = fmt.Sprintf("call_%d", i+1)
		out[i].Type = "function"
		out[i].Function.Name = tc.Name
		out[i].Function.Arguments = tc.Arguments
	}
	return out
}

// WriteCompletion writes a non-streamed chat completion.
func WriteCompletion(w http.ResponseWriter, a Answer, d Dialect) {
	msg := wireMessage{Role: "assistant", ReasoningContent: a.Reply.Reasoning, ToolCalls: toolCalls(a.Reply), Annotations: []any{}}
	if a.Reply.Text != "" || len(a.Reply.ToolCalls) == 0 {
		text := a.Reply.Text
		msg.Content = &text
	}
	out := wireCompletion{
		ID: a.ID, Object: "chat.completion", Created: a.Created, Model: a.Model,
		Choices: []wireChoice{{Message: msg, FinishReason: a.Reply.FinishReason, ContentFilterResults: d.ChoiceFilterResults}},
		Usage:   usageOf(a.Reply), ServiceTier: "default", SystemFingerprint: fingerprint,
		PromptFilterResults: d.PromptFilterResults,
	}
	WriteJSON(w, http.StatusOK, out)
}

// WriteJSON writes v as a JSON answer.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var (
	jsonNull  = json.RawMessage("null")
	emptyText = json.RawMessage(`""`)
)

// WriteStream writes a streamed chat completion as OpenAI does: chunks
// sharing id, created and model; the role first; reasoning, text, then
// each tool call's header and argument fragments; a finish chunk; a usage
// chunk when asked; then [DONE]. The engine paces the chunks, and when it
// truncates the stream the connection is cut without [DONE].
func WriteStream(w http.ResponseWriter, r *http.Request, eng *sim.Engine, a Answer, d Dialect) {
	sse.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(w)
	chunks := streamChunks(a, d)
	for sent, c := range chunks {
		if !eng.Pace(r, sent) {
			if eng.Truncated(sent) {
				// Cut the connection mid-stream, as a crashed upstream does.
				panic(http.ErrAbortHandler)
			}
			return // the client went away
		}
		b, _ := json.Marshal(c)
		if sw.WriteData(b) != nil {
			return
		}
	}
	_ = sw.WriteData([]byte("[DONE]"))
}

// streamChunks renders the whole stream before pacing it out.
func streamChunks(a Answer, d Dialect) []wireChunk {
	fp := fingerprint
	var usage json.RawMessage
	if a.IncludeUsage {
		usage = jsonNull
	}
	var out []wireChunk
	if d.PromptFilterResults != nil {
		out = append(out, wireChunk{Choices: []wireChunkChoice{}, PromptFilterResults: d.PromptFilterResults})
	}
	add := func(delta wireDelta, finish *string) {
		out = append(out, wireChunk{
			ID: a.ID, Object: "chat.completion.chunk", Created: a.Created, Model: a.Model, SystemFingerprint: &fp,
			Choices: []wireChunkChoice{{Delta: delta, FinishReason: finish, ContentFilterResults: d.ChoiceFilterResults}},
			Usage:   usage,
		})
	}
	calls := toolCalls(a.Reply)
	for i := range calls {
		calls[i].Index = &i
	}
	first := wireDelta{Role: "assistant", Refusal: jsonNull}
	headerSent := false
	if a.Reply.Text == "" && a.Reply.Reasoning == "" && len(calls) > 0 {
		// A pure tool-call answer names its first call in the role chunk.
		first.Content = jsonNull
		first.ToolCalls = []wireToolCall{header(calls[0])}
		headerSent = true
	} else {
		first.Content = emptyText
	}
	add(first, nil)
	for _, piece := range sim.Pieces(a.Reply.Reasoning) {
		add(wireDelta{ReasoningContent: piece}, nil)
	}
	for _, piece := range sim.Pieces(a.Reply.Text) {
		b, _ := json.Marshal(piece)
		add(wireDelta{Content: b}, nil)
	}
	for i, call := range calls {
		if i > 0 || !headerSent {
			add(wireDelta{ToolCalls: []wireToolCall{header(call)}}, nil)
		}
		for _, frag := range sim.ArgPieces(call.Function.Arguments) {
			var tc wireToolCall
			tc.Index = call.Index
			tc.Function.Arguments = frag
			add(wireDelta{ToolCalls: []wireToolCall{tc}}, nil)
		}
	}
	finish := a.Reply.FinishReason
	add(wireDelta{}, &finish)
	if a.IncludeUsage {
		u, _ := json.Marshal(usageOf(a.Reply))
		out = append(out, wireChunk{ID: a.ID, Object: "chat.completion.chunk", Created: a.Created, Model: a.Model,
			SystemFingerprint: &fp, Choices: []wireChunkChoice{}, Usage: u})
	}
	return out
}

// header is the first fragment of a streamed tool call: index, id, type,
// name and empty arguments.
func header(call wireToolCall) wireToolCall {
	h := call
	h.Function.Arguments = ""
	return h
}
