package vertex

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/vertexsim"
)

func TestClaudeOnVertex(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	f.engine.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{Reply: sim.Reply{Text: "Hello from Claude", CachedTokens: 2, PromptTokens: 10}},
	}})
	p := f.provider(t, func(o *Options) { o.Publisher = PublisherAnthropic })

	resp, err := p.ChatCompletion(t.Context(), userRequest("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "Hello from Claude" || resp.Choices[0].FinishReason != llm.FinishStop {
		t.Errorf("choice = %+v", resp.Choices[0])
	}
	if resp.Usage.PromptTokens != 10 || resp.Usage.CachedTokens() != 2 || resp.Created == 0 {
		t.Errorf("usage %+v created %d", resp.Usage, resp.Created)
	}
	rec := f.engine.Recorder().Requests()[0]
	var body map[string]any
	_ = json.Unmarshal(rec.Body, &body)
	if !strings.HasSuffix(rec.Path, "/publishers/anthropic/models/gemini-2.0-flash:rawPredict") || body["anthropic_version"] != "vertex-2023-10-16" || body["model"] != nil {
		t.Errorf("sent %s %v, want rawPredict with anthropic_version and no model", rec.Path, body)
	}

	req := userRequest("weather in Paris?")
	req.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object"}`)}}}
	s, err := p.StreamChatCompletion(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(s)
	if err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	var args strings.Builder
	var finish llm.FinishReason
	for _, c := range chunks {
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				args.WriteString(tc.Function.Arguments)
			}
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
	}
	if args.String() != `{"city":"Paris"}` || finish != llm.FinishToolCalls {
		t.Errorf("streamed arguments %q finish %q", args.String(), finish)
	}
	if rec := f.engine.Recorder().Requests()[1]; !strings.HasSuffix(rec.Path, ":streamRawPredict") {
		t.Errorf("stream path = %s", rec.Path)
	}

	f.engine.SetFaults(&sim.Faults{TruncateAfter: 2})
	s, err = p.StreamChatCompletion(t.Context(), userRequest("hi"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = drain(s)
	assertError(t, err, http.StatusBadGateway, "ended before completion")
}
