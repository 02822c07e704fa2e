package app_test

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/config"
)

// TestGovernanceConfigErrors checks that each bad governance setting is
// refused with a message naming the field and what to write instead.
func TestGovernanceConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, mention string
	}{
		{"negative queue", "usage: {queue_size: -1}", "usage.queue_size"},
		{"negative retention", "audit: {retention: -1h}", "audit.retention"},
		{"negative team limit", "rate_limits: {teams: {t1: {rpm: -5}}}", "rate_limits.teams.t1"},
		{"content for all and for some", "audit: {include_content: true, content_orgs: [o1]}", "audit.content_orgs"},
		{"empty content org", "audit: {content_orgs: [o1, \" \"]}", "audit.content_orgs[1]"},
		{"webhook not a URL", "budgets: {alert_webhook: hooks.example}", "http:// or https://"},
		{"lease longer than the window", "counters: {lease: 2m}", "counters.lease"},
		{"commitment without provider", "pricing: {commitments: [{monthly: \"100\"}]}", "provider is required"},
		{"unknown field", "audit: {sign_key: x}", "sign_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), config.ParseOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error %v does not mention %q", err, tt.mention)
			}
		})
	}
	cfg, err := config.Parse([]byte("store: {dsn: \"sqlite:///var/lib/sy/db.sqlite\"}\naudit: {retention: 2160h, include_content: true}\nrate_limits: {teams: {t1: {rpm: 60, tpm: 1000}}}\n"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UsageSpillPath() != "/var/lib/sy/usage-spill.jsonl" || cfg.RedisPrefix() != "switchyard:" || cfg.RateLimits.Teams["t1"].TPM != 1000 || !cfg.Audit.IncludeContent {
		t.Errorf("defaults: spill %s prefix %s teams %+v", cfg.UsageSpillPath(), cfg.RedisPrefix(), cfg.RateLimits.Teams)
	}
	if p, generated := cfg.AuditSigningKeyPath(); p != "/var/lib/sy/audit-signing.key" || !generated {
		t.Errorf("signing key path %s generated %v", p, generated)
	}
}
