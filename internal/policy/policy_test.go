package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustCompile(t testing.TB, rules ...Rule) *Engine {
	t.Helper()
	e, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC) // a Friday

func TestEvaluateRequest(t *testing.T) {
	t.Parallel()
	e := mustCompile(t,
		Rule{Name: "night", When: "request.hour < 6 || request.hour >= 22", Effect: EffectDeny, Message: "no traffic at night"},
		Rule{Name: "weekend", When: "request.time.getDayOfWeek() == 0 || request.time.getDayOfWeek() == 6", Effect: EffectRequireApproval},
		Rule{Name: "expensive", When: "request.estimated_cost_usd > 5.0", Effect: EffectRequireApproval},
		Rule{Name: "eu-data", When: `request.metadata["residency"] == "eu"`, Effect: EffectRoute, Pool: "eu-only"},
		Rule{Name: "cards", When: `"card" in dlp.findings`, Effect: EffectDeny, Message: "no card numbers"},
		Rule{Name: "many-findings", When: "dlp.count >= 3", Effect: EffectRedact},
		Rule{Name: "interns", When: `request.team == "interns" && request.alias.startsWith("gpt-4")`, Effect: EffectDeny},
		Rule{Name: "streams-to-bedrock", When: `request.stream && request.provider == "bedrock" && request.region != "us-east-1"`, Effect: EffectRoute, Pool: "bedrock-us"},
		Rule{Name: "trusted", When: `request.key_id == "k-admin"`, Effect: EffectAllow},
	)
	meta := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		desc string
		in   RequestInput
		want Effect
		rule string
		pool string
	}{
		{"nothing matches", RequestInput{Time: noon, Team: "core"}, EffectAllow, "", ""},
		{"night", RequestInput{Time: noon.Add(11 * time.Hour)}, EffectDeny, "night", ""},
		{"hour is in the time's zone", RequestInput{Time: noon.In(time.FixedZone("x", 11*3600))}, EffectDeny, "night", ""},
		{"weekend", RequestInput{Time: noon.AddDate(0, 0, 1)}, EffectRequireApproval, "weekend", ""},
		{"cost", RequestInput{Time: noon, EstimatedCostUSD: 7.5}, EffectRequireApproval, "expensive", ""},
		{"route by metadata", RequestInput{Time: noon, Metadata: meta("residency", "eu")}, EffectRoute, "eu-data", "eu-only"},
		{"dlp finding", RequestInput{Time: noon, DLP: DLPInput{Findings: []string{"email", "card"}}}, EffectDeny, "cards", ""},
		{"dlp count", RequestInput{Time: noon, DLP: DLPInput{Findings: []string{"email", "email", "phone"}}}, EffectRedact, "many-findings", ""},
		{"team and alias", RequestInput{Time: noon, Team: "interns", Alias: "gpt-4o"}, EffectDeny, "interns", ""},
		{"stream and provider", RequestInput{Time: noon, Stream: true, Provider: "bedrock", Region: "eu-west-1"}, EffectRoute, "streams-to-bedrock", "bedrock-us"},
		{"explicit allow", RequestInput{Time: noon, KeyID: "k-admin"}, EffectAllow, "trusted", ""},
		{"deny beats approval", RequestInput{Time: noon.Add(11 * time.Hour), EstimatedCostUSD: 9}, EffectDeny, "night", ""},
		{"approval beats route", RequestInput{Time: noon, EstimatedCostUSD: 9, Metadata: meta("residency", "eu")}, EffectRequireApproval, "expensive", ""},
		{"route beats allow", RequestInput{Time: noon, KeyID: "k-admin", Metadata: meta("residency", "eu")}, EffectRoute, "eu-data", "eu-only"},
		{"deny beats allow", RequestInput{Time: noon, KeyID: "k-admin", DLP: DLPInput{Findings: []string{"card"}}}, EffectDeny, "cards", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			d := e.EvaluateRequest(tt.in)
			if d.Effect != tt.want || d.Rule != tt.rule || d.Pool != tt.pool {
				t.Errorf("decision = %+v; want %s by %q pool %q", d, tt.want, tt.rule, tt.pool)
			}
			if d.Effect == EffectDeny && d.Message == "" {
				t.Error("a deny decision needs a message for the client")
			}
		})
	}
}

func TestPrecedenceWithinLevel(t *testing.T) {
	t.Parallel()
	e := mustCompile(t,
		Rule{Name: "route-a", When: "true", Effect: EffectRoute, Pool: "a"},
		Rule{Name: "redact", When: "true", Effect: EffectRedact},
		Rule{Name: "route-b", When: "true", Effect: EffectRoute, Pool: "b", Priority: 10},
		Rule{Name: "deny-1", When: "request.team == 'x'", Effect: EffectDeny},
		Rule{Name: "deny-2", When: "request.team == 'x'", Effect: EffectDeny, Message: "second"},
	)
	if d := e.EvaluateRequest(RequestInput{Time: noon}); d.Rule != "route-b" || d.Pool != "b" {
		t.Errorf("priority: got %+v; want route-b", d)
	}
	if d := e.EvaluateRequest(RequestInput{Time: noon, Team: "x"}); d.Rule != "deny-1" || !strings.Contains(d.Message, `"deny-1"`) {
		t.Errorf("first deny wins: got %+v", d)
	}
}

func TestEvaluateTool(t *testing.T) {
	t.Parallel()
	e := mustCompile(t,
		Rule{Name: "bulk-delete", When: `tool.name == "delete_records" && tool.arguments.count > 100`, Effect: EffectRequireApproval},
		Rule{Name: "no-shell", When: `tool.name == "run_shell"`, Effect: EffectDeny, Message: "shell access is not allowed"},
		Rule{Name: "prod-db", When: `tool.name.startsWith("db_") && "env" in tool.arguments && tool.arguments.env == "prod" && request.team != "dba"`, Effect: EffectDeny},
		Rule{Name: "team-deny", When: `request.team == "blocked"`, Effect: EffectDeny},
		Rule{Name: "users-table", When: `tool.name == "query" && tool.arguments.filter.tables.exists(t, t == "users")`, Effect: EffectRedact},
	)
	tests := []struct {
		desc string
		team string
		name string
		args string
		want Effect
		rule string
	}{
		{"small delete", "core", "delete_records", `{"count": 5}`, EffectAllow, ""},
		{"bulk delete", "core", "delete_records", `{"count": 500, "table": "users"}`, EffectRequireApproval, "bulk-delete"},
		{"delete without count", "core", "delete_records", `{}`, EffectAllow, ""},
		{"shell", "core", "run_shell", "", EffectDeny, "no-shell"},
		{"prod db", "core", "db_query", `{"env": "prod"}`, EffectDeny, "prod-db"},
		{"prod db by dba", "dba", "db_query", `{"env": "prod"}`, EffectAllow, ""},
		{"nested arguments", "core", "query", `{"filter": {"tables": ["orders", "users"]}}`, EffectRedact, "users-table"},
		{"nested arguments other table", "core", "query", `{"filter": {"tables": ["orders"]}}`, EffectAllow, ""},
		{"request rules do not apply to tools", "blocked", "search", `{}`, EffectAllow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tool, err := ToolFromJSON(tt.name, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			d := e.EvaluateTool(RequestInput{Time: noon, Team: tt.team}, tool)
			if d.Effect != tt.want || d.Rule != tt.rule {
				t.Errorf("decision = %+v; want %s by %q", d, tt.want, tt.rule)
			}
		})
	}
	// Tool rules are not request rules.
	if d := e.EvaluateRequest(RequestInput{Time: noon, Team: "core"}); d.Effect != EffectAllow {
		t.Errorf("request evaluation ran a tool rule: %+v", d)
	}
	if d := e.EvaluateRequest(RequestInput{Time: noon, Team: "blocked"}); d.Rule != "team-deny" {
		t.Errorf("request rule: %+v", d)
	}
	if _, err := ToolFromJSON("x", "[1,2"); err == nil || !strings.Contains(err.Error(), `tool "x"`) {
		t.Errorf("bad arguments: err = %v", err)
	}
}

func TestRuntimeErrorDoesNotMatch(t *testing.T) {
	t.Parallel()
	e := mustCompile(t,
		Rule{Name: "missing-key", When: `request.metadata["tier"] == "free"`, Effect: EffectDeny},
		Rule{Name: "route", When: "true", Effect: EffectRoute, Pool: "p"},
	)
	d := e.EvaluateRequest(RequestInput{Time: noon})
	if d.Rule != "route" || len(d.Errors) != 1 || !strings.Contains(d.Errors[0].Error(), `"missing-key"`) {
		t.Errorf("decision = %+v; want route and one error naming missing-key", d)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		set  Set
		want []string
	}{
		{"syntax", Set{Rules: []Rule{{Name: "broken", When: "request.team ==", Effect: EffectDeny}}}, []string{`rule "broken"`, "Syntax error"}},
		{"unknown field", Set{Rules: []Rule{{Name: "typo", When: `request.teem == "x"`, Effect: EffectDeny}}}, []string{`rule "typo"`, "teem"}},
		{"unknown variable", Set{Rules: []Rule{{Name: "var", When: `user == "x"`, Effect: EffectDeny}}}, []string{`rule "var"`, "undeclared reference"}},
		{"type mismatch", Set{Rules: []Rule{{Name: "types", When: `request.hour > "5"`, Effect: EffectDeny}}}, []string{`rule "types"`, "no matching overload"}},
		{"not bool", Set{Rules: []Rule{{Name: "str", When: `request.team`, Effect: EffectDeny}}}, []string{`rule "str"`, "must return bool", "string"}},
		{"bad effect", Set{Rules: []Rule{{Name: "eff", When: "true", Effect: "explode"}}}, []string{`rule "eff"`, `effect "explode"`}},
		{"route without pool", Set{Rules: []Rule{{Name: "r", When: "true", Effect: EffectRoute}}}, []string{`rule "r"`, "pool"}},
		{"no name", Set{Rules: []Rule{{When: "true", Effect: EffectDeny}}}, []string{"no name"}},
		{"empty when", Set{Rules: []Rule{{Name: "w", Effect: EffectDeny}}}, []string{`rule "w"`, "when is empty"}},
		{"duplicate", Set{Rules: []Rule{{Name: "d", When: "true", Effect: EffectDeny}, {Name: "d", When: "false", Effect: EffectDeny}}}, []string{`rule "d"`, "unique"}},
		{"tool policy", Set{ToolPolicy: ToolPolicy{OnForbiddenDeclared: "ignore"}}, []string{"on_forbidden_declared", "reject or remove"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := CompileSet(tt.set)
			if err == nil {
				t.Fatal("CompileSet succeeded; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestVersionAndToolPolicy(t *testing.T) {
	t.Parallel()
	r := []Rule{{Name: "a", When: "true", Effect: EffectDeny}}
	a, b := mustCompile(t, r...), mustCompile(t, r...)
	c := mustCompile(t, Rule{Name: "a", When: "false", Effect: EffectDeny})
	if a.Version() != b.Version() || a.Version() == c.Version() || !strings.HasPrefix(a.Version(), "sha256:") {
		t.Errorf("versions: %s %s %s", a.Version(), b.Version(), c.Version())
	}
	if a.ToolPolicy().OnForbiddenDeclared != "reject" {
		t.Errorf("default tool policy = %+v; want reject", a.ToolPolicy())
	}
	e, err := CompileSet(Set{Rules: r, ToolPolicy: ToolPolicy{OnForbiddenDeclared: "remove"}})
	if err != nil || e.ToolPolicy().OnForbiddenDeclared != "remove" || e.Version() == a.Version() {
		t.Errorf("remove policy: %v %+v", err, e)
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, fiftyRules()...)
	done := make(chan Decision)
	for i := range 8 {
		go func() {
			d := Decision{}
			for range 100 {
				d = e.EvaluateRequest(RequestInput{Time: noon, Team: fmt.Sprintf("team-%d", i*5), Alias: "gpt-4o"})
			}
			done <- d
		}()
	}
	for range 8 {
		if d := <-done; d.Effect != EffectDeny {
			t.Errorf("decision = %+v; want deny by a team rule", d)
		}
	}
}
