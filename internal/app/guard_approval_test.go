package app_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/cli"
	"github.com/switchyard/switchyard/internal/store"
)

type chatResult struct {
	resp *openai.ChatCompletion
	err  error
}

// TestAgentLoopApproval runs an agent against the simulated model: the
// model asks to call delete_records, the gateway holds the answer for
// approval, a person decides, and the agent goes on.
func TestAgentLoopApproval(t *testing.T) {
	tests := []struct {
		name    string
		extra   string
		decide  func(e *env, id string)
		status  string
		release bool
		note    string
		by      string // who decided, when not alice
	}{
		{name: "approved", extra: "approvals: {timeout: 30s, poll_interval: 20ms}\n", status: store.ApprovalApproved, release: true,
			decide: func(e *env, id string) {
				if _, err := e.gw.Approvals().Decide(context.Background(), id, true, "alice@example.com", "fine"); err != nil {
					e.t.Fatal(err)
				}
			}},
		{name: "denied", extra: "approvals: {timeout: 30s, poll_interval: 20ms}\n", status: store.ApprovalDenied, note: "denied by bob@example.com (not today)",
			decide: func(e *env, id string) {
				if _, err := e.gw.Approvals().Decide(context.Background(), id, false, "bob@example.com", "not today"); err != nil {
					e.t.Fatal(err)
				}
			}},
		{name: "timeout", extra: "approvals: {timeout: 300ms, poll_interval: 20ms}\n", status: store.ApprovalExpired, note: "not decided in time",
			decide: func(e *env, id string) {}},
		{name: "approved through the admin API", extra: "approvals: {timeout: 30s, poll_interval: 20ms}\nadmin: {bootstrap_token: " + adminToken + "}\n",
			status: store.ApprovalApproved, release: true, by: "bootstrap",
			decide: func(e *env, id string) {
				if status, _, body := e.do(http.MethodPost, "/admin/v1/approvals/"+id+"/approve", adminToken, `{"comment":"fine"}`); status != 200 {
					e.t.Fatalf("approve: %d %s", status, body)
				}
			}},
		{name: "denied with the CLI", extra: "approvals: {timeout: 30s, poll_interval: 20ms}\nadmin: {bootstrap_token: " + adminToken + "}\n",
			status: store.ApprovalDenied, note: "not today",
			decide: func(e *env, id string) {
				var out, errb bytes.Buffer
				args := []string{"approvals", "deny", id, "--comment", "not today", "--url", e.srv.URL, "--token", adminToken}
				if code := cli.Main(context.Background(), args, &out, &errb); code != 0 {
					e.t.Fatalf("switchyard approvals deny: exit %d: %s", code, errb.String())
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, guardConfig(tt.extra))
			e.fleet.Clouds["openai"].Engine.SetScript(&agentScript)
			c := e.client(testKey)
			params := openai.ChatCompletionNewParams{
				Model:    "gpt-4o",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("please clean up the users table")},
				Tools:    []openai.ChatCompletionToolUnionParam{fnTool("delete_records")},
			}
			done := make(chan chatResult, 1)
			go func() {
				r, err := c.Chat.Completions.New(context.Background(), params)
				done <- chatResult{r, err}
			}()
			a := e.pendingApproval()
			if a.Tool != "delete_records" || a.KeyID == "" || !strings.HasPrefix(a.Digest, "sha256:") || a.PolicyVersion == "" ||
				a.Reason != "deleting records needs a human" || !strings.Contains(a.ArgumentsRedacted, `"users"`) || len(a.Payload) == 0 {
				t.Errorf("pending approval = %+v", a)
			}
			tt.decide(e, a.ID)
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			msg := r.resp.Choices[0].Message
			if got := e.approval(a.ID).Status; got != tt.status {
				t.Errorf("approval status = %s, want %s", got, tt.status)
			}
			if !tt.release {
				if len(msg.ToolCalls) != 0 || r.resp.Choices[0].FinishReason != "stop" {
					t.Fatalf("blocked answer still calls tools: %+v", r.resp.Choices[0])
				}
				mustContain(t, "blocked answer", msg.Content, "delete_records", "blocked by policy", a.ID, tt.note)
				return
			}
			if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "delete_records" || r.resp.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("released answer = %+v", r.resp.Choices[0])
			}
			// The agent runs the tool and goes on to a final answer.
			params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("deleted 3 rows", msg.ToolCalls[0].ID))
			final, err := c.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			if got := final.Choices[0].Message.Content; got != "All done: the tool reported success." {
				t.Errorf("final answer = %q", got)
			}
			by := "alice@example.com"
			if tt.by != "" {
				by = tt.by
			}
			if d := e.approval(a.ID); !strings.Contains(d.DecidedBy, by) || d.DecidedAt == nil {
				t.Errorf("decision not recorded: decided by %q at %v", d.DecidedBy, d.DecidedAt)
			}
			if tt.by != "" {
				// A decision through the admin API is in the audit trail
				// (written in batches: flush first).
				if err := app.GovernanceOf(e.gw).Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				status, _, body := e.do(http.MethodGet, "/admin/v1/audit", adminToken, "")
				if status != 200 || !strings.Contains(body, `"approval.approve"`) || !strings.Contains(body, a.ID) {
					t.Errorf("audit export lacks the approval decision: %d %s", status, body)
				}
			}
		})
	}
}

// TestApprovalAsyncResubmit: in async mode the gateway answers at once
// that approval is pending; the client resubmits with the approval id.
func TestApprovalAsyncResubmit(t *testing.T) {
	e := start(t, guardConfig("approvals: {mode: async, timeout: 30s}\n"))
	e.fleet.Clouds["openai"].Engine.SetScript(&agentScript)
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"please clean up the users table"}],"tools":[{"type":"function","function":{"name":"delete_records","parameters":{"type":"object"}}}]}`
	status, hdr, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, body)
	id := hdr.Get("X-Switchyard-Approval-Id")
	if status != http.StatusOK || id == "" {
		t.Fatalf("status %d, approval id %q, body %s", status, id, resp)
	}
	mustContain(t, "pending answer", resp, "Approval "+id+" is pending", `"finish_reason":"stop"`)
	if strings.Contains(resp, `"tool_calls"`) {
		t.Errorf("pending answer carries the held call: %s", resp)
	}
	t.Run("still pending", func(t *testing.T) {
		status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, body, "x-switchyard-approval-id", id)
		if status != http.StatusOK || !strings.Contains(resp, "is pending") || strings.Contains(resp, `"tool_calls"`) {
			t.Errorf("status %d body %s", status, resp)
		}
	})
	t.Run("different request", func(t *testing.T) {
		other := strings.Replace(body, "users table", "orders table", 1)
		status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, other, "x-switchyard-approval-id", id)
		if status != http.StatusConflict {
			t.Fatalf("status %d, want 409; body %s", status, resp)
		}
		mustContain(t, "error", resp, "approval_mismatch", "different request", "drop the x-switchyard-approval-id header")
	})
	t.Run("other key", func(t *testing.T) {
		status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", restrictedKey, body, "x-switchyard-approval-id", id)
		if status != http.StatusForbidden || !strings.Contains(resp, "approval_mismatch") {
			t.Errorf("status %d body %s", status, resp)
		}
	})
	t.Run("approved", func(t *testing.T) {
		if _, err := e.gw.Approvals().Decide(context.Background(), id, true, "alice", ""); err != nil {
			t.Fatal(err)
		}
		for _, stream := range []bool{false, true} {
			b := body
			if stream {
				b = strings.Replace(body, `{"model"`, `{"stream":true,"model"`, 1)
			}
			status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, b, "x-switchyard-approval-id", id)
			if status != http.StatusOK {
				t.Fatalf("stream=%v: status %d body %s", stream, status, resp)
			}
			mustContain(t, "released answer", resp, "delete_records", `\"table\":\"users\"`, `"finish_reason":"tool_calls"`)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, body, "x-switchyard-approval-id", "apr_nope")
		if status != http.StatusNotFound || !strings.Contains(resp, "does not exist") {
			t.Errorf("status %d body %s", status, resp)
		}
	})
}
