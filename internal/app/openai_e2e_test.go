package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/switchyard/switchyard/internal/sim"
)

func TestChatThroughGatewayWithSDK(t *testing.T) {
	e := start(t, baseConfig)
	e.fleet.Clouds["openai"].Engine.SetScript(&sim.Script{Rules: []sim.Rule{{Contains: "hello", Reply: sim.Reply{Text: "Hi from the cloud."}}}})
	var raw *http.Response
	c := e.client(testKey)
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if got := resp.Choices[0].Message.Content; got != "Hi from the cloud." {
		t.Errorf("content %q", got)
	}
	if resp.Usage.TotalTokens == 0 {
		t.Errorf("no usage: %+v", resp.Usage)
	}
	for h, want := range map[string]string{
		"X-Switchyard-Provider":      "openai",
		"X-Switchyard-Deployment":    "openai-us",
		"X-Switchyard-Region":        "us-east-1",
		"X-Switchyard-Model-Version": "2024-08-06",
		"X-Switchyard-Attempts":      "1",
	} {
		if got := raw.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.HasPrefix(raw.Header.Get("X-Request-Id"), "req_") {
		t.Errorf("x-request-id = %q", raw.Header.Get("X-Request-Id"))
	}
	// The cloud saw its own model id and key, never the client's.
	reqs := e.fleet.Clouds["openai"].Engine.Recorder().Requests()
	last := reqs[len(reqs)-1]
	if !strings.Contains(string(last.Body), `"model":"gpt-4o-2024-08-06"`) {
		t.Errorf("upstream body %s", last.Body)
	}
	if strings.Contains(last.Header.Get("Authorization"), testKey) {
		t.Error("the client's Switchyard key leaked upstream")
	}
}

func TestStreamThroughGatewayWithSDK(t *testing.T) {
	tests := []struct {
		name         string
		includeUsage bool
	}{{"with usage", true}, {"without usage", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, baseConfig)
			e.fleet.Clouds["openai"].Engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three four"}}}})
			params := openai.ChatCompletionNewParams{
				Model:    "gpt-4o",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count")},
			}
			if tt.includeUsage {
				params.StreamOptions.IncludeUsage = openai.Bool(true)
			}
			c := e.client(testKey)
			stream := c.Chat.Completions.NewStreaming(context.Background(), params)
			defer stream.Close()
			var acc openai.ChatCompletionAccumulator
			chunks := 0
			for stream.Next() {
				acc.AddChunk(stream.Current())
				chunks++
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got := acc.Choices[0].Message.Content; got != "one two three four" || acc.Choices[0].FinishReason != "stop" {
				t.Errorf("content %q finish %q", got, acc.Choices[0].FinishReason)
			}
			if chunks < 4 {
				t.Errorf("%d chunks; the answer was not streamed piece by piece", chunks)
			}
			if got := acc.Usage.TotalTokens > 0; got != tt.includeUsage {
				t.Errorf("usage present %v, want %v", got, tt.includeUsage)
			}
		})
	}
}

func TestStreamedToolCallThroughGateway(t *testing.T) {
	e := start(t, baseConfig)
	e.fleet.Clouds["openai"].Engine.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{
			{Name: "get_weather", Arguments: `{"city":"Paris"}`},
			{Name: "get_weather", Arguments: `{"city":"Berlin"}`},
		}}},
		{AfterToolResult: true, Reply: sim.Reply{Text: "Paris 21C, Berlin 18C."}},
	}})
	tool := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:       "get_weather",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
	})
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris and Berlin?")},
		Tools:    []openai.ChatCompletionToolUnionParam{tool},
	}
	c := e.client(testKey)
	acc := streamAll(t, c, params)
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 2 || calls[0].Function.Arguments != `{"city":"Paris"}` || calls[1].Function.Arguments != `{"city":"Berlin"}` {
		t.Fatalf("parallel tool calls %+v", calls)
	}
	if acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("finish %q", acc.Choices[0].FinishReason)
	}
	params.Messages = append(params.Messages, acc.Choices[0].Message.ToParam(),
		openai.ToolMessage(`{"tempC":21}`, calls[0].ID), openai.ToolMessage(`{"tempC":18}`, calls[1].ID))
	final, err := c.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if final.Choices[0].Message.Content != "Paris 21C, Berlin 18C." {
		t.Errorf("final %q", final.Choices[0].Message.Content)
	}
}

func TestEmbeddingsAndModelsThroughGateway(t *testing.T) {
	e := start(t, baseConfig)
	c := e.client(testKey)
	emb, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || len(emb.Data[0].Embedding) == 0 {
		t.Fatalf("embeddings %+v", emb.Data)
	}
	list := func(key string) []string {
		kc := e.client(key)
		page, err := kc.Models.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		return ids
	}
	if got := strings.Join(list(testKey), ","); got != "gpt-4o,text-embedding-3-small" {
		t.Errorf("models for unrestricted key: %s", got)
	}
	if got := strings.Join(list(restrictedKey), ","); got != "gpt-4o" {
		t.Errorf("models for restricted key: %s", got)
	}
}

func TestUnknownFieldsPassThrough(t *testing.T) {
	e := start(t, baseConfig)
	c := e.client(testKey)
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}, option.WithJSONSet("prediction_hint", map[string]any{"kind": "novel"}), option.WithJSONSet("service_tier", "flex"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := e.fleet.Clouds["openai"].Engine.Recorder().Requests()
	var body map[string]json.RawMessage
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &body); err != nil {
		t.Fatal(err)
	}
	if string(body["prediction_hint"]) != `{"kind":"novel"}` || string(body["service_tier"]) != `"flex"` {
		t.Errorf("upstream saw %s", reqs[len(reqs)-1].Body)
	}
}

// TestClientErrors covers every error a client can trigger at the front
// door: each has the right status, OpenAI's error shape and a message a
// person can act on.
func TestClientErrors(t *testing.T) {
	e := start(t, baseConfig)
	big := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 11<<20) + `"}]}`
	tests := []struct {
		name, key, path, body string
		status                int
		code, param, mention  string
	}{
		{"missing key", "", "/v1/chat/completions", `{}`, 401, "missing_api_key", "", "Authorization"},
		{"invalid key", "sk-sy-nope0123456789abcdefghijklmnopqrstuvwxyz", "/v1/chat/completions", `{}`, 401, "invalid_api_key", "", "not known to Switchyard"},
		{"malformed json", testKey, "/v1/chat/completions", `{"model":`, 400, "", "", "not valid JSON"},
		{"wrong type", testKey, "/v1/chat/completions", `{"model":"gpt-4o","messages":"hi"}`, 400, "", "messages", "expected an array"},
		{"no messages", testKey, "/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`, 400, "", "messages", "non-empty"},
		{"no model", testKey, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "", "model", "model parameter"},
		{"bad role", testKey, "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"robot","content":"hi"}]}`, 400, "", "messages[0].role", "robot"},
		{"bad temperature", testKey, "/v1/chat/completions", `{"model":"gpt-4o","temperature":3,"messages":[{"role":"user","content":"hi"}]}`, 400, "", "temperature", "between 0 and 2"},
		{"unknown model", testKey, "/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found", "", "gpt-9"},
		{"model not allowed", restrictedKey, "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, 403, "model_not_allowed", "", "may not use"},
		{"too large", testKey, "/v1/chat/completions", big, 413, "request_too_large", "", "max_body_bytes"},
		{"unknown endpoint", testKey, "/v1/completions/legacy", `{}`, 404, "", "", "/v1/chat/completions"},
		{"bad embedding input", testKey, "/v1/embeddings", `{"model":"text-embedding-3-small","input":{}}`, 400, "", "", "input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := e.do(http.MethodPost, tt.path, tt.key, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content-type %q", ct)
			}
			var eb struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Message == "" || eb.Error.Type == "" {
				t.Fatalf("not an OpenAI error body: %s", body)
			}
			if !strings.Contains(eb.Error.Message, tt.mention) {
				t.Errorf("message %q does not mention %q", eb.Error.Message, tt.mention)
			}
			if tt.code != "" && (eb.Error.Code == nil || *eb.Error.Code != tt.code) {
				t.Errorf("code %v, want %s", eb.Error.Code, tt.code)
			}
			if tt.param != "" && (eb.Error.Param == nil || *eb.Error.Param != tt.param) {
				t.Errorf("param %v, want %s", eb.Error.Param, tt.param)
			}
			if hdr.Get("X-Request-Id") == "" {
				t.Error("error without x-request-id")
			}
		})
	}
}

// TestUpstreamErrors checks what clients see when the cloud fails, and that
// the SDK surfaces it as an API error.
func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name       string
		faults     sim.Faults
		status     int
		retryAfter bool
	}{
		{"throttled", sim.Faults{ErrorRate: 1, ErrorStatus: 429, RetryAfter: 3 * time.Second}, 429, true},
		{"server error", sim.Faults{ErrorRate: 1, ErrorStatus: 500}, 502, false},
		{"overloaded", sim.Faults{ErrorRate: 1, ErrorStatus: 503}, 503, false},
		{"outage", sim.Faults{Down: true}, 503, false},
		{"timeout", sim.Faults{Latency: 5 * time.Second}, 504, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, baseConfig)
			e.fleet.Clouds["openai"].Engine.SetFaults(&tt.faults)
			var raw *http.Response
			c := e.client(testKey)
			_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    "gpt-4o",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			}, option.WithResponseInto(&raw))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err %v is not an *openai.Error", err)
			}
			if apiErr.StatusCode != tt.status {
				t.Errorf("status %d, want %d (%s)", apiErr.StatusCode, tt.status, apiErr.Message)
			}
			if apiErr.Message == "" {
				t.Error("empty message")
			}
			if got := raw.Header.Get("Retry-After") != ""; got != tt.retryAfter {
				t.Errorf("retry-after present %v, want %v", got, tt.retryAfter)
			}
		})
	}
}
