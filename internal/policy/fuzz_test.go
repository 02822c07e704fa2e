package policy

import "testing"

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"true", `request.team == "x"`, "request.hour < 6 || request.hour >= 22",
		`tool.name == "delete_records" && tool.arguments.count > 100`, `"card" in dlp.findings`,
		"request.time > timestamp('2025-01-01T00:00:00Z')", "((((", "1 +", `request.metadata["a"].size() > 2`,
		"[1,2,3].all(x, x > 0)", "request.team", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Compile([]Rule{{Name: "fuzz", When: expr, Effect: EffectDeny}})
		if err != nil {
			return
		}
		// A rule that compiles must evaluate without panicking.
		e.EvaluateRequest(RequestInput{Time: noon})
		e.EvaluateTool(RequestInput{Time: noon}, ToolInput{Name: "t", Arguments: map[string]any{"count": 1.0}})
	})
}
