package anthropicsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/anthropicsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "sk-ant-test-0123"

func fake(t *testing.T) (*sim.Engine, *httptest.Server, anthropic.Client) {
	t.Helper()
	eng := sim.NewEngine("anthropic")
	srv := httptest.NewServer(anthropicsim.New(eng, anthropicsim.Options{APIKeys: []string{testKey}}))
	t.Cleanup(srv.Close)
	client := anthropic.NewClient(
		option.WithBaseURL(srv.URL),
		option.WithAPIKey(testKey),
		option.WithHTTPClient(srv.Client()),
		option.WithMaxRetries(0),
	)
	return eng, srv, client
}

var weatherTool = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
	Name:        "get_weather",
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}},
}}

func params(text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	}
}

func TestSDK_MessagesNew(t *testing.T) {
	eng, _, client := fake(t)
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Contains: "hello", Reply: sim.Reply{Text: "Hi there.", Reasoning: "Greet back.", CachedTokens: 2}}}})
	msg, err := client.Messages.New(context.Background(), params("hello"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if len(msg.Content) != 2 || msg.Content[0].Type != "thinking" || msg.Content[0].Signature == "" || msg.Content[1].Text != "Hi there." {
		t.Fatalf("content = %s", msg.RawJSON())
	}
	if msg.StopReason != anthropic.StopReasonEndTurn || msg.Usage.CacheReadInputTokens != 2 || msg.Usage.OutputTokens == 0 {
		t.Errorf("stop %q usage %+v", msg.StopReason, msg.Usage)
	}
	rec := eng.Recorder().Requests()
	if len(rec) != 1 || rec[0].Header.Get("anthropic-version") == "" || !strings.Contains(string(rec[0].Body), `"max_tokens":256`) {
		t.Errorf("recorded %+v", rec)
	}
}

func TestSDK_StreamAccumulate(t *testing.T) {
	eng, _, client := fake(t)
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three four", Reasoning: "think hard"}}}})
	stream := client.Messages.NewStreaming(context.Background(), params("count"))
	defer stream.Close()
	var msg anthropic.Message
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if types[0] != "message_start" || types[len(types)-1] != "message_stop" || types[len(types)-2] != "message_delta" {
		t.Errorf("event order %v", types)
	}
	if len(msg.Content) != 2 || msg.Content[0].Thinking != "think hard" || !strings.HasPrefix(msg.Content[0].Signature, "simsig_") || msg.Content[1].Text != "one two three four" {
		t.Errorf("accumulated %s", msg.RawJSON())
	}
	if msg.StopReason != anthropic.StopReasonEndTurn || msg.Usage.OutputTokens == 0 || msg.Usage.InputTokens == 0 {
		t.Errorf("stop %q usage %+v", msg.StopReason, msg.Usage)
	}
}

func TestSDK_ToolUseRoundTrip(t *testing.T) {
	eng, _, client := fake(t)
	eng.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}}}},
		{AfterToolResult: true, Reply: sim.Reply{Text: "It is 21C."}},
	}})
	p := params("weather in Paris?")
	p.Tools = []anthropic.ToolUnionParam{weatherTool}
	stream := client.Messages.NewStreaming(context.Background(), p)
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	stream.Close()
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 1 {
		t.Fatalf("got %s", msg.RawJSON())
	}
	tu := msg.Content[0]
	var args map[string]string
	if err := json.Unmarshal(tu.Input, &args); err != nil || args["city"] != "Paris" || !strings.HasPrefix(tu.ID, "toolu_") {
		t.Fatalf("tool_use %s: %v", tu.RawJSON(), err)
	}
	p.Messages = append(p.Messages, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(tu.ID, "21C", false)))
	final, err := client.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if final.Content[0].Text != "It is 21C." {
		t.Errorf("after tool result: %s", final.RawJSON())
	}
	// A tool_use left unanswered is rejected as the real API does.
	p.Messages = p.Messages[:2]
	p.Messages = append(p.Messages, anthropic.NewUserMessage(anthropic.NewTextBlock("and?")))
	_, err = client.Messages.New(context.Background(), p)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "tool_result") {
		t.Errorf("unanswered tool_use: %v", err)
	}
}

func TestSDK_Errors(t *testing.T) {
	tests := []struct {
		name       string
		faults     *sim.Faults
		key        string
		wantStatus int
		wantType   string
		wantRetry  string
	}{
		{"bad key", nil, "wrong", 401, "authentication_error", ""},
		{"rate limited", &sim.Faults{FailEvery: 1, ErrorStatus: 429, RetryAfter: 3 * time.Second}, testKey, 429, "rate_limit_error", "3"},
		{"server error", &sim.Faults{FailEvery: 1, ErrorStatus: 500}, testKey, 500, "api_error", ""},
		{"overloaded", &sim.Faults{Down: true}, testKey, 529, "overloaded_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, srv, _ := fake(t)
			eng.SetFaults(tt.faults)
			client := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(tt.key), option.WithHTTPClient(srv.Client()), option.WithMaxRetries(0))
			_, err := client.Messages.New(context.Background(), params("hi"))
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *anthropic.Error", err)
			}
			if apiErr.StatusCode != tt.wantStatus || string(apiErr.Type()) != tt.wantType || apiErr.Message == "" || apiErr.RequestID == "" {
				t.Errorf("status %d type %q message %q request id %q", apiErr.StatusCode, apiErr.Type(), apiErr.Message, apiErr.RequestID)
			}
			if got := apiErr.Response.Header.Get("retry-after"); got != tt.wantRetry {
				t.Errorf("retry-after = %q, want %q", got, tt.wantRetry)
			}
		})
	}
}

func TestSDK_TruncatedStreamHasNoMessageStop(t *testing.T) {
	eng, _, client := fake(t)
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "a b c d e f g"}}}})
	eng.SetFaults(&sim.Faults{TruncateAfter: 2})
	stream := client.Messages.NewStreaming(context.Background(), params("x"))
	defer stream.Close()
	var last string
	for stream.Next() {
		last = stream.Current().Type
	}
	if last == "message_stop" || last == "message_delta" {
		t.Errorf("truncated stream ended with %q", last)
	}
}

func TestMissingVersionAndCountTokens(t *testing.T) {
	_, srv, client := fake(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(`{}`))
	req.Header.Set("x-api-key", testKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "anthropic-version") || !strings.Contains(string(body), `"type":"error"`) {
		t.Errorf("missing version: %d %s", resp.StatusCode, body)
	}
	n, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model:    "claude-sonnet-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one two three"))},
	})
	if err != nil || n.InputTokens != 3 {
		t.Errorf("count_tokens = %+v, %v", n, err)
	}
}

func TestAdminMounted(t *testing.T) {
	eng, srv, client := fake(t)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/_sim/faults", strings.NewReader(`{"fail_every":1,"error_status":500}`))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || eng.Faults().ErrorStatus != 500 {
		t.Fatalf("PUT /_sim/faults: %d, faults %+v", resp.StatusCode, eng.Faults())
	}
	_, err = client.Messages.New(context.Background(), params("hi"))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Errorf("after faults were set over HTTP: %v", err)
	}
}
