package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/store"
)

// guardConfig adds guardrails to baseConfig: DLP redacts cards and
// e-mail and blocks AWS keys; drop_table is forbidden, delete_records
// needs approval, the "forbidden-model" alias is denied.
func guardConfig(extra string) string {
	return baseConfig + `
dlp:
  default_action: alert
  actions: {card: redact, email: redact, aws_access_key: block}
policies:
  rules:
    - name: no-forbidden-model
      when: 'request.alias == "forbidden-model"'
      effect: deny
      message: the forbidden-model alias is closed; use gpt-4o
    - name: no-drop
      when: 'tool.name == "drop_table"'
      effect: deny
      message: dropping tables is not allowed
    - name: approve-deletes
      when: 'tool.name == "delete_records"'
      effect: require_approval
      message: deleting records needs a human
` + extra
}

// agentScript makes the model call the tool the prompt names, then
// answer from the tool result.
var agentScript = sim.Script{Rules: []sim.Rule{
	{Contains: "clean up", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "delete_records", Arguments: `{"table":"users","where":"inactive"}`}}}},
	{Contains: "drop it", Reply: sim.Reply{Text: "Dropping now.", ToolCalls: []sim.ToolCallSpec{{Name: "drop_table", Arguments: `{"table":"users"}`}}}},
	{AfterToolResult: true, Reply: sim.Reply{Text: "All done: the tool reported success."}},
}}

func fnTool(name string) openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:       name,
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"table": map[string]any{"type": "string"}}},
	})
}

// pendingApproval waits until the gateway has raised exactly one pending
// approval and returns it.
func (e *env) pendingApproval() store.Approval {
	e.t.Helper()
	svc := e.gw.Approvals()
	for range 500 {
		l, err := svc.List(context.Background(), store.ApprovalFilter{Status: store.ApprovalPending})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(l) == 1 {
			return l[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("no pending approval appeared")
	return store.Approval{}
}

func (e *env) approval(id string) store.Approval {
	e.t.Helper()
	a, err := e.gw.Approvals().Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not contain %q", what, s, sub)
		}
	}
}

// streamAll runs a streamed chat with the official SDK and returns what it
// accumulated; a stream error fails the test.
func streamAll(t *testing.T, c openai.Client, p openai.ChatCompletionNewParams) openai.ChatCompletionAccumulator {
	t.Helper()
	s := c.Chat.Completions.NewStreaming(context.Background(), p)
	defer s.Close()
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return acc
}
