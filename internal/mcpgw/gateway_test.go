package mcpgw_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/mcpgw"
	"github.com/switchyard/switchyard/internal/store"
)

// legacyVersion is the newest protocol with sessions (Mcp-Session-Id);
// "" negotiates the newest, sessionless one.
const legacyVersion = "2025-11-25"

// upstreams is the standard pair: crm for team-ops (and the vip key),
// mail for everyone but only send_email.
type upstreams struct{ crm, mail *fakeUpstream }

func newUpstreams(t *testing.T) upstreams {
	return upstreams{
		crm:  newFakeUpstream(t, "crm", "list_records", "delete_records"),
		mail: newFakeUpstream(t, "mail", "send_email", "read_inbox"),
	}
}

func (u upstreams) options(guard mcpgw.Guard) mcpgw.Options {
	return mcpgw.Options{
		Servers: []mcpgw.ServerConfig{
			{Name: "crm", URL: u.crm.URL(), AllowedTeams: []string{"team-ops"}, AllowedKeys: []string{"sk-sy-vi"},
				Headers: map[string]string{"Authorization": "Bearer crm-upstream-token"}},
			{Name: "mail", URL: u.mail.URL(), Tools: []string{"send_email"}},
		},
		Guard: guard,
		ToolAccess: func(c *gateway.Caller, server, tool string) bool {
			return !(c.KeyID == "key_ro" && tool == "delete_records")
		},
	}
}

func TestListToolsPerKey(t *testing.T) {
	up := newUpstreams(t)
	e := newEnv(t, up.options(nil))
	tests := []struct {
		key  string
		want []string
	}{
		{"sk-sy-ops", []string{"crm__delete_records", "crm__list_records", "mail__send_email"}},
		{"sk-sy-sales", []string{"mail__send_email"}},
		{"sk-sy-vip", []string{"crm__delete_records", "crm__list_records", "mail__send_email"}},
		{"sk-sy-readonly", []string{"crm__list_records", "mail__send_email"}},
	}
	for _, version := range []string{"", legacyVersion} {
		for _, tt := range tests {
			t.Run(tt.key+"/"+version, func(t *testing.T) {
				cs := e.connect(tt.key, version)
				if got := toolNames(t, cs); !slices.Equal(got, tt.want) {
					t.Errorf("tools = %v, want %v", got, tt.want)
				}
			})
		}
	}
	t.Run("descriptions and schemas pass through", func(t *testing.T) {
		res, err := e.connect("sk-sy-ops", "").ListTools(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tool := range res.Tools {
			if tool.Name == "crm__delete_records" {
				if tool.Description != "crm delete_records" || tool.InputSchema == nil {
					t.Errorf("tool = %+v, want the upstream's description and schema", tool)
				}
				return
			}
		}
		t.Error("crm__delete_records not listed")
	})
	if got := up.crm.lastHeader("Authorization"); got != "Bearer crm-upstream-token" {
		t.Errorf("crm upstream saw Authorization %q, want the configured header", got)
	}
	if got := up.mail.lastHeader("Authorization"); got != "" {
		t.Errorf("mail upstream saw Authorization %q: the agent's key must not reach upstreams", got)
	}
}

func TestCallForwards(t *testing.T) {
	for _, version := range []string{"", legacyVersion} {
		t.Run("protocol "+version, func(t *testing.T) {
			up := newUpstreams(t)
			e := newEnv(t, up.options(nil))
			cs := e.connect("sk-sy-ops", version)
			res, err := call(t, cs, "crm__list_records", map[string]any{"limit": 2})
			if err != nil {
				t.Fatalf("CallTool: %v", err)
			}
			if res.IsError || resultText(res) != `crm.list_records ok {"limit":2}` {
				t.Errorf("result = %q (isError %v), want the upstream's answer", resultText(res), res.IsError)
			}
			if n := up.crm.count("list_records"); n != 1 {
				t.Errorf("upstream list_records calls = %d, want 1", n)
			}
			recs := e.audit.all()
			if len(recs) != 1 {
				t.Fatalf("audit records = %d, want 1", len(recs))
			}
			r := recs[0]
			if r.Action != "mcp.tools/call" || r.Resource != "crm.list_records" || r.Outcome != mcpgw.OutcomeAllowed ||
				r.ActorKind != store.ActorKey || r.ActorID != "key_ops" || r.TeamID != "team-ops" || r.OrgID != "org-1" {
				t.Errorf("audit record = %+v", r)
			}
			d := details(t, r)
			if !strings.HasPrefix(d["arguments_digest"].(string), "sha256:") || r.RequestDigest != d["arguments_digest"] {
				t.Errorf("details = %v, request digest %q: want the arguments digest in both", d, r.RequestDigest)
			}
			if version == legacyVersion && d["session"] != cs.ID() {
				t.Errorf("details session = %v, want the client's session %q", d["session"], cs.ID())
			}
		})
	}
}

func TestCallUpstreamToolErrorPassesThrough(t *testing.T) {
	f := newFakeUpstream(t, "ops", "fail")
	e := newEnv(t, mcpgw.Options{Servers: []mcpgw.ServerConfig{{Name: "ops", URL: f.URL()}}})
	res, err := call(t, e.connect("sk-sy-ops", ""), "ops__fail", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || resultText(res) != "upstream tool failed" {
		t.Errorf("result = %q (isError %v), want the upstream's tool error unchanged", resultText(res), res.IsError)
	}
	recs := e.audit.all()
	if len(recs) != 1 || recs[0].Outcome != mcpgw.OutcomeAllowed || details(t, recs[0])["tool_error"] != true {
		t.Errorf("audit = %+v, want one allowed record with tool_error", recs)
	}
}

func TestCallNotAvailable(t *testing.T) {
	up := newUpstreams(t)
	guard := &guardFunc{}
	e := newEnv(t, up.options(guard))
	tests := []struct {
		name, key, tool, resource string
	}{
		{"server not for this team", "sk-sy-sales", "crm__delete_records", "crm.delete_records"},
		{"tool not in allow-list", "sk-sy-ops", "mail__read_inbox", "mail.read_inbox"},
		{"ToolAccess says no", "sk-sy-readonly", "crm__delete_records", "crm.delete_records"},
		{"no such server", "sk-sy-ops", "billing__refund", "billing__refund"},
		{"no separator", "sk-sy-ops", "delete_records", "delete_records"},
		{"no such upstream tool", "sk-sy-ops", "crm__drop_database", "crm.drop_database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.audit.all())
			_, err := call(t, e.connect(tt.key, ""), tt.tool, map[string]any{})
			var je *jsonrpc.Error
			if !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams {
				t.Fatalf("err = %v, want a JSON-RPC invalid-params error", err)
			}
			if !strings.Contains(je.Message, tt.tool) || !strings.Contains(je.Message, "tools/list") {
				t.Errorf("message %q should name the tool and point to tools/list", je.Message)
			}
			recs := e.audit.all()[before:]
			if len(recs) != 1 || recs[0].Outcome != mcpgw.OutcomeDenied || recs[0].Resource != tt.resource {
				t.Errorf("audit = %+v, want one denied record for %s", recs, tt.resource)
			}
		})
	}
	if guard.calls.Load() != 0 {
		t.Errorf("guard called %d times for tools the key may not use", guard.calls.Load())
	}
	if up.crm.count("delete_records")+up.mail.count("read_inbox") != 0 {
		t.Error("a refused call reached an upstream")
	}
}

func TestGuardDecisions(t *testing.T) {
	denyDelete := func(server, tool string, args json.RawMessage) (json.RawMessage, error) {
		if tool == "delete_records" {
			return nil, llm.Errorf(http.StatusForbidden, "deleting CRM records needs an approval; ask your team lead").WithCode("policy_denied")
		}
		return nil, nil
	}
	redactBody := func(server, tool string, args json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(strings.ReplaceAll(string(args), "123-45-6789", "[SSN]")), nil
	}
	tests := []struct {
		name      string
		guard     *guardFunc
		tool      string
		args      map[string]any
		wantErr   bool   // isError result
		wantText  string // substring of the result text
		wantCalls int    // upstream calls of the tool
		wantArgs  string // upstream's arguments when called
		outcome   string
		guardCall string
		guardRes  string
	}{
		{
			name: "deny before forwarding", guard: &guardFunc{call: denyDelete}, tool: "crm__delete_records",
			args: map[string]any{"ids": []int{1}}, wantErr: true,
			wantText: "Switchyard blocked the call to crm__delete_records: deleting CRM records needs an approval; ask your team lead",
			outcome:  mcpgw.OutcomeDenied, guardCall: "deny",
		},
		{
			name: "allow", guard: &guardFunc{call: denyDelete}, tool: "crm__list_records", args: map[string]any{},
			wantText: "crm.list_records ok", wantCalls: 1, wantArgs: `{}`, outcome: mcpgw.OutcomeAllowed, guardCall: "allow", guardRes: "allow",
		},
		{
			name: "redact arguments", guard: &guardFunc{call: redactBody}, tool: "mail__send_email",
			args:     map[string]any{"to": "a@example.com", "body": "my ssn is 123-45-6789"},
			wantText: "[SSN]", wantCalls: 1, wantArgs: `{"body":"my ssn is [SSN]","to":"a@example.com"}`,
			outcome: mcpgw.OutcomeAllowed, guardCall: "modify", guardRes: "allow",
		},
		{
			name: "guard failure fails closed", tool: "crm__delete_records", args: map[string]any{}, wantErr: true,
			guard: &guardFunc{call: func(string, string, json.RawMessage) (json.RawMessage, error) {
				return nil, errors.New("policy store down")
			}},
			wantText: "could not check the call to crm__delete_records, so it was not made", outcome: mcpgw.OutcomeError, guardCall: "error",
		},
		{
			name: "withhold result", tool: "crm__list_records", args: map[string]any{}, wantErr: true, wantCalls: 1, wantArgs: `{}`,
			guard: &guardFunc{result: func(string, string, json.RawMessage) (json.RawMessage, error) {
				return nil, llm.Errorf(http.StatusForbidden, "the result holds card numbers").WithCode("dlp_blocked")
			}},
			wantText: "Switchyard blocked the result of crm__list_records: the result holds card numbers",
			outcome:  mcpgw.OutcomeDenied, guardCall: "allow", guardRes: "deny",
		},
		{
			name: "rewrite result", tool: "crm__list_records", args: map[string]any{}, wantCalls: 1, wantArgs: `{}`,
			guard: &guardFunc{result: func(_, _ string, raw json.RawMessage) (json.RawMessage, error) {
				return json.RawMessage(`{"content":[{"type":"text","text":"[redacted]"}]}`), nil
			}},
			wantText: "[redacted]", outcome: mcpgw.OutcomeAllowed, guardCall: "allow", guardRes: "modify",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstreams(t)
			e := newEnv(t, up.options(tt.guard))
			res, err := call(t, e.connect("sk-sy-ops", ""), tt.tool, tt.args)
			if err != nil {
				t.Fatalf("CallTool: %v", err)
			}
			if res.IsError != tt.wantErr || !strings.Contains(resultText(res), tt.wantText) {
				t.Errorf("result = %q (isError %v), want isError %v containing %q", resultText(res), res.IsError, tt.wantErr, tt.wantText)
			}
			server, tool, _ := strings.Cut(tt.tool, "__")
			f := map[string]*fakeUpstream{"crm": up.crm, "mail": up.mail}[server]
			if n := f.count(tool); n != tt.wantCalls {
				t.Errorf("upstream %s calls = %d, want %d", tool, n, tt.wantCalls)
			}
			if tt.wantCalls > 0 {
				if got := string(f.lastArgs(tool)); got != tt.wantArgs {
					t.Errorf("upstream arguments = %s, want %s", got, tt.wantArgs)
				}
			}
			recs := e.audit.all()
			if len(recs) != 1 {
				t.Fatalf("audit records = %d, want 1", len(recs))
			}
			if recs[0].Outcome != tt.outcome {
				t.Errorf("outcome = %q, want %q", recs[0].Outcome, tt.outcome)
			}
			d := details(t, recs[0])
			g, _ := d["guard"].(map[string]any)
			if g["call"] != tt.guardCall || (tt.guardRes != "" && g["result"] != tt.guardRes) {
				t.Errorf("guard details = %v, want call %q result %q", g, tt.guardCall, tt.guardRes)
			}
			if _, redacted := d["forwarded_arguments_digest"]; redacted != (tt.guardCall == "modify") {
				t.Errorf("forwarded_arguments_digest present = %v, want it only for modified arguments", redacted)
			}
		})
	}
}

func TestDeniedResultCarriesCode(t *testing.T) {
	up := newUpstreams(t)
	e := newEnv(t, up.options(&guardFunc{call: func(string, string, json.RawMessage) (json.RawMessage, error) {
		return nil, &llm.Error{Status: http.StatusAccepted, Code: "approval_required", Message: "approval apr_1 is pending; call again once it is granted"}
	}}))
	res, err := call(t, e.connect("sk-sy-ops", ""), "crm__delete_records", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := res.Meta[mcpgw.DeniedMetaKey].(map[string]any)
	if !res.IsError || meta["code"] != "approval_required" || meta["stage"] != "call" || meta["status"] != float64(http.StatusAccepted) {
		t.Errorf("result meta = %v (isError %v), want code approval_required at stage call", res.Meta, res.IsError)
	}
	if !strings.Contains(resultText(res), "approval apr_1 is pending") {
		t.Errorf("text = %q, want the guard's message", resultText(res))
	}
	if d := details(t, e.audit.all()[0]); d["code"] != "approval_required" {
		t.Errorf("audit details = %v, want the guard's code", d)
	}
}

func TestStdioUpstream(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("no test binary path: %v", err)
	}
	e := newEnv(t, mcpgw.Options{Servers: []mcpgw.ServerConfig{{
		Name: "notes", Command: exe, Args: []string{"-test.run=^$"},
		Env: map[string]string{stdioEnv: "1", "NOTES_SECRET": "s3"},
	}}})
	cs := e.connect("sk-sy-ops", "")
	if got := toolNames(t, cs); !slices.Equal(got, []string{"notes__add_note"}) {
		t.Fatalf("tools = %v, want [notes__add_note]", got)
	}
	res, err := call(t, cs, "notes__add_note", map[string]any{"text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if got := resultText(res); got != `noted {"text":"hi"} secret=s3` {
		t.Errorf("result = %q, want the stdio server's answer with its env", got)
	}
}
