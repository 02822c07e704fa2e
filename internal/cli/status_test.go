package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/admin"
)

func TestStatusCommand(t *testing.T) {
	deps := []map[string]any{
		{"name": "gpt-eu", "provider": "azure", "model": "gpt-4o", "region": "westeurope", "breaker": "closed", "healthy": true, "in_flight": 3, "ttft_ms": 212.4, "requests_this_minute": 17},
		{"name": "claude-us", "provider": "bedrock", "model": "claude", "region": "us-east-1", "breaker": "open", "healthy": false, "last_error": "throttled"},
	}
	s := startAdmin(t, func(o *admin.Options) { o.Status = func() any { return deps } })
	out := s.ok("status")
	for _, c := range []struct{ row, col, want string }{
		{"gpt-eu", "HEALTH", "healthy"},
		{"gpt-eu", "TTFT", "212ms"},
		{"gpt-eu", "REQ/MIN", "17"},
		{"claude-us", "HEALTH", "unhealthy"},
		{"claude-us", "BREAKER", "open"},
		{"claude-us", "LAST ERROR", "throttled"},
	} {
		if got := cell(t, out, c.col, c.row); got != c.want {
			t.Errorf("%s %s = %q; want %q in:\n%s", c.row, c.col, got, c.want, out)
		}
	}
	var back []map[string]any
	if err := json.Unmarshal([]byte(s.ok("status", "--json")), &back); err != nil || len(back) != 2 || back[1]["last_error"] != "throttled" {
		t.Errorf("status --json = %v, %v", back, err)
	}

	other := startAdmin(t, func(o *admin.Options) { o.Status = func() any { return map[string]string{"mode": "demo"} } })
	if out := other.ok("status"); !strings.Contains(out, `"mode": "demo"`) {
		t.Errorf("non-list status printed as %q; want indented JSON", out)
	}
}
