package guard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/dlp"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/guard"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newGuard(t testing.TB, opts guard.Options, rules ...policy.Rule) *guard.Guard {
	t.Helper()
	eng, err := policy.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	opts.Policy = eng
	g, err := guard.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func newCall(keyID, team, text string) *gateway.Call {
	return &gateway.Call{
		Info:    &gateway.RequestInfo{ID: "req_1", Caller: &gateway.Caller{KeyID: keyID, TeamID: team}},
		Kind:    "chat",
		Alias:   "gpt-4o",
		Chat:    &llm.ChatRequest{Model: "gpt-4o", Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.TextContent(text)}}},
		Headers: http.Header{},
	}
}

func before(ctx context.Context, g *guard.Guard, c *gateway.Call) error {
	for _, s := range g.Stages() {
		if b, ok := s.(gateway.BeforeStage); ok {
			if err := b.Before(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func answer(ctx context.Context, g *guard.Guard, c *gateway.Call, r *llm.ChatResponse) error {
	for _, s := range g.Stages() {
		if a, ok := s.(gateway.AnswerStage); ok {
			if err := a.Answer(ctx, c, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestAuditState: findings and decisions land in the Call state, never
// with the values.
func TestAuditState(t *testing.T) {
	g := newGuard(t, guard.Options{DLP: &guard.DLPOptions{Config: dlp.Config{Actions: map[string]dlp.Action{dlp.Email: dlp.ActionRedact}}}},
		policy.Rule{Name: "no-drop", When: `tool.name == "drop_table"`, Effect: policy.EffectDeny},
		policy.Rule{Name: "pii-to-safe", When: `"email" in dlp.findings`, Effect: policy.EffectRoute, Pool: "safe"})
	c := newCall("key_1", "team_1", "mail jane@example.com now")
	if err := before(context.Background(), g, c); err != nil {
		t.Fatal(err)
	}
	if c.Alias != "safe" {
		t.Errorf("alias = %q, want the route rule's pool", c.Alias)
	}
	fs, _ := c.Get(guard.StateFindings).([]guard.Finding)
	if len(fs) != 1 || fs[0] != (guard.Finding{Detector: dlp.Email, Action: dlp.ActionRedact, Where: "request"}) {
		t.Errorf("findings = %+v", fs)
	}
	resp := &llm.ChatResponse{Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant,
		ToolCalls: []llm.ToolCall{{ID: "c1", Type: "function", Function: llm.FunctionCall{Name: "drop_table", Arguments: `{}`}}}},
		FinishReason: llm.FinishToolCalls}}}
	if err := answer(context.Background(), g, c, resp); err != nil {
		t.Fatal(err)
	}
	ds, _ := c.Get(guard.StateDecisions).([]guard.Decision)
	want := []guard.Decision{
		{Kind: "request", Effect: policy.EffectRoute, Rule: "pii-to-safe"},
		{Kind: "tool_call", Tool: "drop_table", Effect: policy.EffectDeny, Rule: "no-drop", Message: `request denied by policy rule "no-drop"; ask your gateway administrator if you need this allowed`},
	}
	if fmt.Sprint(ds) != fmt.Sprint(want) {
		t.Errorf("decisions = %+v\nwant %+v", ds, want)
	}
	b, _ := json.Marshal(c.Get(guard.StateFindings))
	if strings.Contains(string(b), "jane") {
		t.Errorf("audit state carries the value: %s", b)
	}
}

// TestOverrides: a key's override wins over its team's, which wins over
// the default.
func TestOverrides(t *testing.T) {
	g := newGuard(t, guard.Options{DLP: &guard.DLPOptions{
		Config: dlp.Config{Actions: map[string]dlp.Action{dlp.Email: dlp.ActionBlock}},
		Overrides: map[string]map[string]dlp.Action{
			"team:support": {dlp.Email: dlp.ActionMask},
			"key:key_vip":  {dlp.Email: dlp.ActionAllow},
		},
	}})
	tests := []struct {
		key, team string
		wantErr   bool
		wantText  string
	}{
		{"key_1", "eng", true, ""},
		{"key_2", "support", false, "mail [EMAIL] now"},
		{"key_vip", "support", false, "mail jane@example.com now"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			c := newCall(tt.key, tt.team, "mail jane@example.com now")
			err := before(context.Background(), g, c)
			if tt.wantErr {
				var le *llm.Error
				if !errors.As(err, &le) || le.Status != 400 || le.Code != "dlp_blocked" || !strings.Contains(le.Message, `"email"`) || strings.Contains(le.Message, "jane") {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Chat.Messages[0].Content.String(); got != tt.wantText {
				t.Errorf("sent %q, want %q", got, tt.wantText)
			}
		})
	}
}

// TestPolicyRedact: a redact rule redacts findings whose detector action
// is only alert, and the answer gets them back.
func TestPolicyRedact(t *testing.T) {
	g := newGuard(t, guard.Options{}, policy.Rule{Name: "team-redacts", When: `request.team == "legal"`, Effect: policy.EffectRedact})
	orig := "call +1 415 555 0100 or jane@example.com"
	c := newCall("key_1", "legal", orig)
	if err := before(context.Background(), g, c); err != nil {
		t.Fatal(err)
	}
	sent := c.Chat.Messages[0].Content.String()
	if strings.Contains(sent, "jane@") || !strings.Contains(sent, "[EMAIL_1]") {
		t.Fatalf("sent %q", sent)
	}
	resp := &llm.ChatResponse{Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.TextContent("echo: " + sent)}, FinishReason: llm.FinishStop}}}
	if err := answer(context.Background(), g, c, resp); err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "echo: "+orig {
		t.Errorf("answer %q", got)
	}
}

// TestToolGuard is the MCP gateway's check: namespaced and bare rules,
// DLP on arguments and results.
func TestToolGuard(t *testing.T) {
	g := newGuard(t, guard.Options{DLP: &guard.DLPOptions{Config: dlp.Config{Actions: map[string]dlp.Action{dlp.Email: dlp.ActionMask, dlp.AWSAccessKey: dlp.ActionBlock}}}},
		policy.Rule{Name: "no-github-delete", When: `tool.name == "github.delete_repo"`, Effect: policy.EffectDeny, Message: "no repo deletion"},
		policy.Rule{Name: "no-exec", When: `tool.name == "exec"`, Effect: policy.EffectDeny, Message: "no exec anywhere"},
		policy.Rule{Name: "needs-ok", When: `tool.name == "wire_money"`, Effect: policy.EffectRequireApproval})
	tg := g.Tools()
	caller := &gateway.Caller{KeyID: "key_1"}
	tests := []struct {
		server, tool, args string
		status             int
		code, want         string
	}{
		{"github", "delete_repo", `{}`, 403, "policy_denied", "no repo deletion"},
		{"shell", "exec", `{}`, 403, "policy_denied", "no exec anywhere"},
		{"bank", "wire_money", `{}`, 403, "approval_denied", "no approval workflow"},
		{"mail", "send", `{"to":"AKIAIOSFODNN7EXAMPLE"}`, 400, "dlp_blocked", "aws_access_key"},
		{"mail", "send", `{"to":"jane@example.com"}`, 0, "", `{"to":"[EMAIL]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.server+"."+tt.tool, func(t *testing.T) {
			out, err := tg.CheckCall(context.Background(), caller, tt.server, tt.tool, json.RawMessage(tt.args))
			if tt.status == 0 {
				if err != nil || string(out) != tt.want {
					t.Errorf("CheckCall = %s, %v; want %s", out, err, tt.want)
				}
				return
			}
			var le *llm.Error
			if !errors.As(err, &le) || le.Status != tt.status || le.Code != tt.code || !strings.Contains(le.Message, tt.want) {
				t.Errorf("CheckCall err = %v; want %d %s mentioning %q", err, tt.status, tt.code, tt.want)
			}
		})
	}
	res, err := tg.CheckResult(context.Background(), caller, "crm", "lookup", json.RawMessage(`{"email":"jane@example.com"}`))
	if err != nil || string(res) != `{"email":"[EMAIL]"}` {
		t.Errorf("CheckResult = %s, %v", res, err)
	}
}

// BenchmarkStages is the guard's per-request cost: 50 rules and DLP on a
// 2 KB prompt with no findings, before and answer stages.
func BenchmarkStages(b *testing.B) {
	var rules []policy.Rule
	for i := range 50 {
		switch i % 3 {
		case 0:
			rules = append(rules, policy.Rule{Name: fmt.Sprintf("team-%d", i), When: fmt.Sprintf(`request.team == "team-%d" && request.hour < 6`, i), Effect: policy.EffectDeny})
		case 1:
			rules = append(rules, policy.Rule{Name: fmt.Sprintf("cost-%d", i), When: fmt.Sprintf(`request.estimated_cost_usd > %d.0 && request.alias == "big"`, i), Effect: policy.EffectRoute, Pool: "cheap"})
		default:
			rules = append(rules, policy.Rule{Name: fmt.Sprintf("tool-%d", i), When: fmt.Sprintf(`tool.name == "tool_%d"`, i), Effect: policy.EffectDeny})
		}
	}
	g := newGuard(b, guard.Options{DLP: &guard.DLPOptions{Config: dlp.Config{DefaultAction: dlp.ActionRedact}}}, rules...)
	prompt := strings.Repeat("The quarterly report covers revenue, churn and hiring plans for next year. ", 28)[:2048]
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(prompt)))
	for b.Loop() {
		c := newCall("key_1", "team_x", prompt)
		if err := before(ctx, g, c); err != nil {
			b.Fatal(err)
		}
		resp := &llm.ChatResponse{Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.TextContent("Fine.")}, FinishReason: llm.FinishStop}}}
		if err := answer(ctx, g, c, resp); err != nil {
			b.Fatal(err)
		}
	}
}
