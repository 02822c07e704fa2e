package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
)

// TestPolicyDeny: a request rule's deny is a 403 policy_denied with the
// rule's message.
func TestPolicyDeny(t *testing.T) {
	e := start(t, guardConfig(""))
	status, _, body := e.do(http.MethodPost, "/v1/chat/completions", testKey, `{"model":"forbidden-model","messages":[{"role":"user","content":"hi"}]}`)
	if status != http.StatusForbidden {
		t.Fatalf("status %d, want 403; body %s", status, body)
	}
	mustContain(t, "error", body, `"code":"policy_denied"`, "the forbidden-model alias is closed; use gpt-4o")
}

// TestForbiddenDeclaredTool: reject (the default) refuses the request;
// remove drops the tool and goes on.
func TestForbiddenDeclaredTool(t *testing.T) {
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],"tools":[` +
		`{"type":"function","function":{"name":"drop_table","parameters":{"type":"object"}}},` +
		`{"type":"function","function":{"name":"list_tables","parameters":{"type":"object"}}}]}`
	t.Run("reject", func(t *testing.T) {
		e := start(t, guardConfig(""))
		status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, body)
		if status != http.StatusForbidden {
			t.Fatalf("status %d, want 403; body %s", status, resp)
		}
		mustContain(t, "error", resp, `"code":"policy_denied"`, `"param":"tools"`, "drop_table", "remove the tool from the request")
		if n := e.fleet.Clouds["openai"].Engine.Recorder().Count(); n != 0 {
			t.Errorf("the cloud received %d requests", n)
		}
	})
	t.Run("remove", func(t *testing.T) {
		cfg := strings.Replace(guardConfig(""), "policies:\n", "policies:\n  tool_policy: {on_forbidden_declared: remove}\n", 1)
		e := start(t, cfg)
		status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, body)
		if status != http.StatusOK {
			t.Fatalf("status %d; body %s", status, resp)
		}
		rec := e.fleet.Clouds["openai"].Engine.Recorder()
		if rec.Contains("drop_table") || !rec.Contains("list_tables") {
			t.Errorf("the cloud received %+v", rec.Requests())
		}
	})
}

// TestForbiddenToolCallInAnswer: the model calls a forbidden tool; the
// client receives an answer saying so, with no callable call, over both
// front doors, plain and streamed.
func TestForbiddenToolCallInAnswer(t *testing.T) {
	e := start(t, guardConfig(""))
	e.fleet.Clouds["openai"].Engine.SetScript(&agentScript)
	oc := e.client(testKey)
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("the table is useless, drop it")},
		Tools:    []openai.ChatCompletionToolUnionParam{fnTool("list_tables")},
	}
	check := func(t *testing.T, content string, calls int, finish string) {
		t.Helper()
		if calls != 0 {
			t.Errorf("client received %d tool calls", calls)
		}
		mustContain(t, "answer", content, "Dropping now.", "The call to tool drop_table was blocked by policy: dropping tables is not allowed")
		if finish != "stop" && finish != "end_turn" {
			t.Errorf("finish = %q", finish)
		}
	}
	t.Run("openai plain", func(t *testing.T) {
		r, err := oc.Chat.Completions.New(context.Background(), params)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r.Choices[0].Message.Content, len(r.Choices[0].Message.ToolCalls), r.Choices[0].FinishReason)
	})
	t.Run("openai stream", func(t *testing.T) {
		acc := streamAll(t, oc, params)
		check(t, acc.Choices[0].Message.Content, len(acc.Choices[0].Message.ToolCalls), acc.Choices[0].FinishReason)
	})
	// Without DLP, the policy stage is the only one to change the answer,
	// which otherwise leaves as the cloud sent it (usage asked for, so
	// streamed chunks do too).
	t.Run("openai without dlp", func(t *testing.T) {
		e := start(t, baseConfig+`
policies:
  rules:
    - name: no-drop
      when: 'tool.name == "drop_table"'
      effect: deny
      message: dropping tables is not allowed
`)
		e.fleet.Clouds["openai"].Engine.SetScript(&agentScript)
		oc := e.client(testKey)
		r, err := oc.Chat.Completions.New(context.Background(), params)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r.Choices[0].Message.Content, len(r.Choices[0].Message.ToolCalls), r.Choices[0].FinishReason)
		p := params
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		acc := streamAll(t, oc, p)
		check(t, acc.Choices[0].Message.Content, len(acc.Choices[0].Message.ToolCalls), acc.Choices[0].FinishReason)
	})
	ac := anthropic.NewClient(aoption.WithoutEnvironmentDefaults(), aoption.WithBaseURL(e.srv.URL), aoption.WithAPIKey(testKey),
		aoption.WithHTTPClient(e.srv.Client()), aoption.WithMaxRetries(0))
	mp := anthropic.MessageNewParams{
		Model: "gpt-4o", MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("the table is useless, drop it"))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "list_tables",
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{}}}}},
	}
	anthropicCheck := func(t *testing.T, m anthropic.Message) {
		t.Helper()
		var text strings.Builder
		calls := 0
		for _, b := range m.Content {
			switch b.Type {
			case "text":
				text.WriteString(b.Text)
			case "tool_use":
				calls++
			}
		}
		check(t, text.String(), calls, string(m.StopReason))
	}
	t.Run("anthropic plain", func(t *testing.T) {
		m, err := ac.Messages.New(context.Background(), mp)
		if err != nil {
			t.Fatal(err)
		}
		anthropicCheck(t, *m)
	})
	t.Run("anthropic stream", func(t *testing.T) {
		s := ac.Messages.NewStreaming(context.Background(), mp)
		var m anthropic.Message
		for s.Next() {
			if err := m.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		anthropicCheck(t, m)
	})
}
