package config_test

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/config"
)

const guardBase = `
store: {dsn: "sqlite://x.db"}
deployments:
  - {name: d1, provider: cfgtest, model: m, region: us-east-1, options: {base_url: "http://x", api_key: k}}
models:
  - {alias: gpt-4o, deployments: [d1]}
`

func TestGuardrailsConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error; none means valid
	}{
		{"valid", `
dlp:
  default_action: alert
  actions: {card: redact}
  overrides: {"team:t1": {card: block}}
policies:
  rules:
    - {name: r1, when: 'tool.name == "x"', effect: deny}
approvals: {mode: async, timeout: 1m}
`, nil},
		{"rule does not compile", `
policies:
  rules:
    - {name: ok, when: 'true', effect: allow}
    - name: broken
      when: 'request.tem == "x"'
      effect: deny
`, []string{"line 11", "policies.rules[1]", `rule "broken"`, "tem"}},
		{"route to unknown pool", `
policies:
  rules:
    - {name: r, when: 'true', effect: route, pool: nowhere}
`, []string{"policies.rules[0].pool", `"nowhere"`}},
		{"bad override", `
dlp:
  overrides: {"tem:x": {card: block}}
`, []string{"dlp.overrides.tem:x", "team:<id>"}},
		{"bad mode", `
approvals: {mode: later}
`, []string{"approvals.mode", "wait or async"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(guardBase+tt.yaml), config.ParseOptions{})
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.PolicyEngine() == nil || cfg.Approvals.Mode != "async" || cfg.Approvals.PollInterval != config.DefaultApprovalPoll {
					t.Errorf("guardrails not set up: %+v", cfg.Guardrails)
				}
				return
			}
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
