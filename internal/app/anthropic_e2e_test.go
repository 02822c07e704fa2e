package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/switchyard/switchyard/internal/sim"
)

// anthropicBackends are the clouds the Anthropic front door is proven
// against: none of them speaks Messages natively, so every answer is a
// translation (OpenAI chat, Bedrock Converse, Gemini).
var anthropicBackends = []parityBackend{parityBackends[0], parityBackends[3], parityBackends[4]}

const anthropicGreeting = "Bonjour from the cloud, in several words."

// anthropicScript answers a greeting with text, and otherwise plays the
// parity tool conversation.
var anthropicScript = sim.Script{Rules: append([]sim.Rule{
	{Contains: "hello", Reply: sim.Reply{Text: anthropicGreeting}},
}, parityScript.Rules...)}

var claudeWeatherTool = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
	Name:        "get_weather",
	Description: anthropic.String("Current weather in a city"),
	InputSchema: anthropic.ToolInputSchemaParam{
		Properties: map[string]any{"city": map[string]any{"type": "string"}},
		Required:   []string{"city"},
	},
}}

// anthropicClient is the official Anthropic SDK pointed at the gateway.
func (e *env) anthropicClient(key string) anthropic.Client {
	return anthropic.NewClient(
		aoption.WithoutEnvironmentDefaults(),
		aoption.WithBaseURL(e.srv.URL),
		aoption.WithAPIKey(key),
		aoption.WithHTTPClient(e.srv.Client()),
		aoption.WithMaxRetries(0),
	)
}

// TestAnthropicFrontDoorOverEveryCloud drives /v1/messages with the
// official Anthropic SDK against aliases whose backends do not speak
// Messages: plain, streamed and a tool round trip.
func TestAnthropicFrontDoorOverEveryCloud(t *testing.T) {
	for _, b := range anthropicBackends {
		t.Run(b.alias, func(t *testing.T) {
			t.Parallel()
			e := start(t, parityConfig)
			eng := e.fleet.Clouds[b.cloud].Engine
			eng.SetScript(&anthropicScript)
			c := e.anthropicClient(testKey)
			t.Run("plain", func(t *testing.T) { anthropicPlain(t, c, b) })
			t.Run("stream", func(t *testing.T) { anthropicStream(t, c, b) })
			t.Run("tool round trip", func(t *testing.T) {
				eng.Recorder().Reset()
				anthropicToolRoundTrip(t, c, b)
				if !eng.Recorder().Contains("sunny") {
					t.Errorf("the %s fake never saw the tool result", b.cloud)
				}
			})
		})
	}
}

func greetingParams(alias string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(alias),
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))},
	}
}

func anthropicPlain(t *testing.T, c anthropic.Client, b parityBackend) {
	var raw *http.Response
	msg, err := c.Messages.New(context.Background(), greetingParams(b.alias), aoption.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("%s: %v", b.alias, err)
	}
	checkProvenance(t, raw, b)
	if raw.Header.Get("request-id") == "" {
		t.Error("no request-id header; Anthropic SDKs report it in errors and logs")
	}
	if msg.Type != "message" || msg.Role != "assistant" || msg.ID == "" || msg.Model == "" {
		t.Errorf("envelope type=%q role=%q id=%q model=%q", msg.Type, msg.Role, msg.ID, msg.Model)
	}
	if len(msg.Content) != 1 || msg.Content[0].Type != "text" || msg.Content[0].Text != anthropicGreeting {
		t.Errorf("content %s", msg.RawJSON())
	}
	if msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("stop_reason %q, want end_turn", msg.StopReason)
	}
	checkAnthropicUsage(t, msg.Usage)
}

func anthropicStream(t *testing.T, c anthropic.Client, b parityBackend) {
	var raw *http.Response
	s := c.Messages.NewStreaming(context.Background(), greetingParams(b.alias), aoption.WithResponseInto(&raw))
	defer s.Close()
	var msg anthropic.Message
	var types []string
	textDeltas := 0
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		if ev.Type == "content_block_delta" && ev.Delta.Type == "text_delta" {
			textDeltas++
		}
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("accumulate %s: %v", ev.RawJSON(), err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("%s stream: %v", b.alias, err)
	}
	checkProvenance(t, raw, b)
	if len(types) < 2 || types[0] != "message_start" || types[len(types)-1] != "message_stop" {
		t.Errorf("event sequence %v; want message_start first and message_stop last", types)
	}
	if textDeltas < 2 {
		t.Errorf("%d text deltas: the answer was not streamed", textDeltas)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != anthropicGreeting || msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("accumulated %s", msg.RawJSON())
	}
	checkAnthropicUsage(t, msg.Usage)
}

// anthropicToolRoundTrip streams the tool call (arguments as
// input_json_delta), answers it with a tool_result and expects the text.
func anthropicToolRoundTrip(t *testing.T, c anthropic.Client, b parityBackend) {
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(b.alias),
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(parityQuestion))},
		Tools:     []anthropic.ToolUnionParam{claudeWeatherTool},
	}
	s := c.Messages.NewStreaming(ctx, params)
	var msg anthropic.Message
	var partial strings.Builder
	jsonDeltas := 0
	for s.Next() {
		ev := s.Current()
		if ev.Type == "content_block_delta" && ev.Delta.Type == "input_json_delta" {
			jsonDeltas++
			partial.WriteString(ev.Delta.PartialJSON)
		}
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("accumulate %s: %v", ev.RawJSON(), err)
		}
	}
	err := s.Err()
	s.Close()
	if err != nil {
		t.Fatalf("%s tool stream: %v", b.alias, err)
	}
	if jsonDeltas == 0 {
		t.Fatal("no input_json_delta events: the tool input was not streamed the Anthropic way")
	}
	wantInput := map[string]any{"city": "Paris"}
	var streamed map[string]any
	if err := json.Unmarshal([]byte(partial.String()), &streamed); err != nil || !reflect.DeepEqual(streamed, wantInput) {
		t.Errorf("concatenated partial_json %q, want %v", partial.String(), wantInput)
	}
	if msg.StopReason != anthropic.StopReasonToolUse {
		t.Errorf("stop_reason %q, want tool_use", msg.StopReason)
	}
	var use *anthropic.ContentBlockUnion
	for i := range msg.Content {
		if msg.Content[i].Type == "tool_use" {
			use = &msg.Content[i]
		}
	}
	if use == nil {
		t.Fatalf("no tool_use block in %s", msg.RawJSON())
	}
	var input map[string]any
	if err := json.Unmarshal(use.Input, &input); err != nil || use.Name != "get_weather" || use.ID == "" || !reflect.DeepEqual(input, wantInput) {
		t.Fatalf("tool_use id=%q name=%q input=%s", use.ID, use.Name, use.Input)
	}
	params.Messages = append(params.Messages, msg.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, parityToolResult, false)))
	final, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatalf("%s tool result turn: %v", b.alias, err)
	}
	if len(final.Content) != 1 || final.Content[0].Text != parityAnswer || final.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("final %s", final.RawJSON())
	}
	checkAnthropicUsage(t, final.Usage)
}

func checkAnthropicUsage(t *testing.T, u anthropic.Usage) {
	t.Helper()
	if u.InputTokens <= 0 || u.OutputTokens <= 0 {
		t.Errorf("usage input=%d output=%d; want both positive", u.InputTokens, u.OutputTokens)
	}
}

// anthropicErrorBody checks Anthropic's error shape,
// {"type":"error","error":{"type":...,"message":...}}, and returns the
// inner type and message.
func anthropicErrorBody(t *testing.T, body string) (typ, msg string) {
	t.Helper()
	var eb struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Type != "error" || eb.Error.Type == "" || eb.Error.Message == "" {
		t.Fatalf("not an Anthropic error body: %s", body)
	}
	return eb.Error.Type, eb.Error.Message
}

// TestAnthropicFrontDoorErrors: what an Anthropic SDK client sees when it
// names a model the gateway lacks or sends no key, in Anthropic's shape.
func TestAnthropicFrontDoorErrors(t *testing.T) {
	t.Parallel()
	e := start(t, parityConfig)
	tests := []struct {
		name    string
		client  anthropic.Client
		model   string
		opts    []aoption.RequestOption
		status  int
		typ     string
		mention string
	}{
		{name: "unknown model", client: e.anthropicClient(testKey), model: "claude-nope",
			status: 404, typ: "not_found_error", mention: "claude-nope"},
		{name: "missing key", client: e.anthropicClient(testKey), model: "parity-openai",
			opts:   []aoption.RequestOption{aoption.WithHeaderDel("authorization")},
			status: 401, typ: "authentication_error", mention: "x-api-key"},
		{name: "unknown key", client: e.anthropicClient("sk-sy-nope00000000000000000000000000000000000"), model: "parity-openai",
			status: 401, typ: "authentication_error", mention: "invalid API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := greetingParams(tt.model)
			for _, streaming := range []bool{false, true} {
				var err error
				if streaming {
					s := tt.client.Messages.NewStreaming(context.Background(), p, tt.opts...)
					for s.Next() {
					}
					err = s.Err()
					s.Close()
				} else {
					_, err = tt.client.Messages.New(context.Background(), p, tt.opts...)
				}
				var apiErr *anthropic.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("streaming=%v: err %v is not an *anthropic.Error", streaming, err)
				}
				if apiErr.StatusCode != tt.status || string(apiErr.Type()) != tt.typ || apiErr.RequestID == "" {
					t.Errorf("streaming=%v: status %d type %q request-id %q; want %d %s", streaming, apiErr.StatusCode, apiErr.Type(), apiErr.RequestID, tt.status, tt.typ)
				}
				if typ, msg := anthropicErrorBody(t, apiErr.RawJSON()); typ != tt.typ || !strings.Contains(msg, tt.mention) {
					t.Errorf("streaming=%v: body type %q message %q; want %s mentioning %q", streaming, typ, msg, tt.typ, tt.mention)
				}
			}
		})
	}
}

// TestAnthropicFrontDoorKeyHeaders: the front door takes the key the way
// each kind of client sends it.
func TestAnthropicFrontDoorKeyHeaders(t *testing.T) {
	t.Parallel()
	e := start(t, parityConfig)
	e.fleet.Clouds["openai"].Engine.SetScript(&anthropicScript)
	body := `{"model":"parity-openai","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}`
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"x-api-key", []string{"x-api-key", testKey, "anthropic-version", "2023-06-01"}, 200},
		{"bearer", []string{"Authorization", "Bearer " + testKey}, 200},
		{"api-key", []string{"api-key", testKey}, 200},
		{"none", []string{"anthropic-version", "2023-06-01"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, got := e.do(http.MethodPost, "/v1/messages", "", body, tt.hdr...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, got)
			}
			if status != 200 {
				if typ, msg := anthropicErrorBody(t, got); typ != "authentication_error" || !strings.Contains(msg, "x-api-key") {
					t.Errorf("type %q message %q", typ, msg)
				}
				return
			}
			var m anthropic.Message
			if err := json.Unmarshal([]byte(got), &m); err != nil || m.Type != "message" || len(m.Content) != 1 || m.Content[0].Text != anthropicGreeting {
				t.Errorf("answer %s", got)
			}
		})
	}
}

// TestAnthropicFrontDoorUpstreamThrottle: a cloud's 429 reaches the
// Anthropic client as a 429 rate_limit_error with the cloud's retry-after,
// plain and streamed, whichever cloud throttled.
func TestAnthropicFrontDoorUpstreamThrottle(t *testing.T) {
	// One attempt per request: the router otherwise honours Retry-After
	// and retries, which would only make the test slow.
	cfg := parityConfig
	for _, b := range anthropicBackends {
		pool := "    deployments: [" + b.deploy + "]\n"
		cfg = strings.Replace(cfg, pool, pool+"    retry: {max_attempts: 1}\n", 1)
	}
	for _, b := range anthropicBackends {
		for _, streaming := range []bool{false, true} {
			name := b.alias + "/plain"
			if streaming {
				name = b.alias + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := start(t, cfg)
				eng := e.fleet.Clouds[b.cloud].Engine
				eng.SetFaults(&sim.Faults{ErrorRate: 1, ErrorStatus: 429, RetryAfter: 3 * time.Second})
				c := e.anthropicClient(testKey)
				var err error
				if streaming {
					s := c.Messages.NewStreaming(context.Background(), greetingParams(b.alias))
					for s.Next() {
					}
					err = s.Err()
					s.Close()
				} else {
					_, err = c.Messages.New(context.Background(), greetingParams(b.alias))
				}
				if n := eng.Recorder().Count(); n != 1 {
					t.Errorf("the %s fake got %d requests, want 1", b.cloud, n)
				}
				var apiErr *anthropic.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("err %v is not an *anthropic.Error", err)
				}
				if apiErr.StatusCode != 429 || apiErr.Type() != "rate_limit_error" {
					t.Errorf("status %d type %q, want 429 rate_limit_error", apiErr.StatusCode, apiErr.Type())
				}
				if got := apiErr.Response.Header.Get("retry-after"); got != "3" {
					t.Errorf("retry-after %q, want the cloud's 3 seconds", got)
				}
				if _, msg := anthropicErrorBody(t, apiErr.RawJSON()); msg == "" {
					t.Error("empty message")
				}
			})
		}
	}
}
