package policy

import (
	"fmt"
	"testing"
)

// fiftyRules is a realistic set in which no rule matches the benchmark
// request, so every rule is evaluated: the worst case.
func fiftyRules() []Rule {
	var rules []Rule
	for i := range 50 {
		var r Rule
		switch i % 5 {
		case 0:
			r = Rule{When: fmt.Sprintf(`request.team == "team-%d" && request.alias.startsWith("gpt-4")`, i), Effect: EffectDeny}
		case 1:
			r = Rule{When: fmt.Sprintf(`request.estimated_cost_usd > %d.5 && request.org == "org-%d"`, i, i), Effect: EffectRequireApproval}
		case 2:
			r = Rule{When: fmt.Sprintf(`"region" in request.metadata && request.metadata["region"] == "r%d"`, i), Effect: EffectRoute, Pool: "restricted"}
		case 3:
			r = Rule{When: fmt.Sprintf(`"card" in dlp.findings && request.key_id == "k%d"`, i), Effect: EffectRedact}
		case 4:
			r = Rule{When: fmt.Sprintf(`request.hour == %d && request.provider == "p%d"`, i%24, i), Effect: EffectDeny}
		}
		r.Name = fmt.Sprintf("rule-%d", i)
		rules = append(rules, r)
	}
	return rules
}

func BenchmarkEvaluateRequest50Rules(b *testing.B) {
	e := mustCompile(b, fiftyRules()...)
	in := RequestInput{KeyID: "k-1", Team: "core", Org: "acme", Alias: "gpt-4o", Provider: "openai", Time: noon,
		EstimatedCostUSD: 0.02, Metadata: map[string]string{"region": "eu"}, DLP: DLPInput{Findings: []string{"email"}}}
	b.ReportAllocs()
	for b.Loop() {
		if d := e.EvaluateRequest(in); d.Effect != EffectAllow || d.Errors != nil {
			b.Fatal(d)
		}
	}
}

func BenchmarkEvaluateTool(b *testing.B) {
	e := mustCompile(b,
		Rule{Name: "bulk-delete", When: `tool.name == "delete_records" && tool.arguments.count > 100`, Effect: EffectRequireApproval},
		Rule{Name: "no-shell", When: `tool.name == "run_shell"`, Effect: EffectDeny},
	)
	tool, _ := ToolFromJSON("delete_records", `{"count": 5}`)
	in := RequestInput{Time: noon}
	b.ReportAllocs()
	for b.Loop() {
		if d := e.EvaluateTool(in, tool); d.Effect != EffectAllow {
			b.Fatal(d)
		}
	}
}
