package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyard/switchyard/internal/audit"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

// mcpUpstream is an MCP server made with the SDK that echoes each call
// and remembers what it received.
type mcpUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	args map[string][]string // arguments per tool, in call order; guarded by mu
	auth string              // last Authorization header; guarded by mu
}

func startMCPUpstream(t *testing.T, name string, tools ...string) *mcpUpstream {
	t.Helper()
	u := &mcpUpstream{args: map[string][]string{}}
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	for _, tool := range tools {
		s.AddTool(&mcp.Tool{Name: tool, InputSchema: map[string]any{"type": "object"}}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			u.mu.Lock()
			u.args[tool] = append(u.args[tool], string(req.Params.Arguments))
			u.mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + "." + tool + " done: " + string(req.Params.Arguments)}}}, nil
		})
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.auth = r.Header.Get("Authorization")
		u.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		u.srv.CloseClientConnections()
		u.srv.Close()
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	})
	return u
}

func (u *mcpUpstream) calls(tool string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.args[tool])
}

// bearer adds the Switchyard key to each request.
type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

// TestMCPGatewayEndToEnd drives /mcp of a fully built gateway with the
// official MCP client: the union of two upstreams' tools (a third is
// down), a forwarded call with the upstream's own credentials, a call a
// policy denies (never forwarded), a call whose arguments DLP redacts, a
// call to the dead server, and one signed, verifiable audit record each.
func TestMCPGatewayEndToEnd(t *testing.T) {
	crm := startMCPUpstream(t, "crm", "list_records", "drop_table")
	mail := startMCPUpstream(t, "mail", "send_email")
	dsn := storetest.SQLiteDSN(t)
	e := startGov(t, nil, govSetup{dsn: dsn, extra: `
dlp:
  default_action: alert
  actions: {email: redact}
policies:
  rules:
    - name: no-drop
      when: 'tool.name == "crm.drop_table"'
      effect: deny
      message: dropping tables is not allowed
mcp:
  servers:
    - name: crm
      url: ` + crm.srv.URL + `
      headers: {Authorization: Bearer crm-upstream-token}
    - name: mail
      url: ` + mail.srv.URL + `
    - name: billing
      url: http://127.0.0.1:1/mcp
      timeout: 2s
`})

	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             e.srv.URL + "/mcp",
		HTTPClient:           &http.Client{Transport: bearer{key: testKey, next: transport}},
		DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		t.Fatalf("connect to /mcp: %v", err)
	}
	defer cs.Close()

	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	if want := []string{"crm__drop_table", "crm__list_records", "mail__send_email"}; !slices.Equal(names, want) {
		t.Errorf("tools = %v, want %v (billing is down)", names, want)
	}

	text := func(res *mcp.CallToolResult) string {
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return b.String()
	}
	calls := []struct {
		tool     string
		args     map[string]any
		isError  bool
		contains string
	}{
		{"crm__list_records", map[string]any{"limit": 5}, false, `crm.list_records done: {"limit":5}`},
		{"crm__drop_table", map[string]any{"table": "users"}, true, "dropping tables is not allowed"},
		{"mail__send_email", map[string]any{"to": "bob@example.com", "body": "hello"}, false, "mail.send_email done"},
		{"billing__refund", map[string]any{"id": 7}, true, `MCP server "billing" is unavailable`},
	}
	for _, c := range calls {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: c.tool, Arguments: c.args})
		if err != nil {
			t.Fatalf("%s: %v", c.tool, err)
		}
		if res.IsError != c.isError || !strings.Contains(text(res), c.contains) {
			t.Errorf("%s: result %q (isError %v), want isError %v containing %q", c.tool, text(res), res.IsError, c.isError, c.contains)
		}
	}
	if got := crm.calls("drop_table"); len(got) != 0 {
		t.Errorf("the denied drop_table reached the upstream: %v", got)
	}
	if got := mail.calls("send_email"); len(got) != 1 || strings.Contains(got[0], "bob@example.com") || !strings.Contains(got[0], "hello") {
		t.Errorf("send_email arguments at the upstream = %v, want one call with the address redacted", got)
	}
	crm.mu.Lock()
	if crm.auth != "Bearer crm-upstream-token" {
		t.Errorf("crm saw Authorization %q, want its configured token (never the agent's key)", crm.auth)
	}
	crm.mu.Unlock()

	_ = cs.Close()
	e.close() // flushes the audit writer
	st := openStore(t, dsn)
	recs, err := st.AuditRecords(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		if r.Action != "mcp.tools/call" {
			continue
		}
		got[r.Resource] = r.Outcome
		if r.ActorKind != store.ActorKey || r.ActorID == "" || !strings.HasPrefix(r.RequestDigest, "sha256:") || !json.Valid(r.Details) {
			t.Errorf("record %+v", r)
		}
	}
	want := map[string]string{"crm.list_records": "allowed", "crm.drop_table": "denied", "mail.send_email": "allowed", "billing.refund": "error"}
	if len(got) != len(want) {
		t.Errorf("mcp audit records = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("audit outcome of %s = %q, want %q", k, got[k], v)
		}
	}
	rep, err := audit.Verify(context.Background(), st, e.pubKey(t))
	if err != nil || !rep.OK() {
		t.Errorf("audit chain: %+v %v", rep, err)
	}
}
