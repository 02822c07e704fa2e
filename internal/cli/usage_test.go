package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

func TestUsageCommand(t *testing.T) {
	s := startAdmin(t, nil)
	now := time.Now().UTC()
	_, err := s.st.InsertUsage(context.Background(), []store.UsageRecord{
		{RequestID: "r1", Time: now.Add(-time.Hour), TeamID: "team_a", Alias: "gpt-4o", PromptTokens: 100, CompletionTokens: 20, CostMicroUSD: 1_500_000},
		{RequestID: "r2", Time: now.Add(-time.Hour), TeamID: "team_a", Alias: "claude", PromptTokens: 10, CompletionTokens: 2, CostMicroUSD: 250},
		{RequestID: "r3", Time: now.Add(-72 * time.Hour), TeamID: "team_a", Alias: "claude", PromptTokens: 1, CompletionTokens: 1, CostMicroUSD: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := s.ok("usage", "--group-by", "model", "--from", "24h")
	if !strings.Contains(out, "by model") {
		t.Errorf("no title in:\n%s", out)
	}
	for _, c := range []struct{ row, col, want string }{
		{"gpt-4o", "COST", "$1.500000"},
		{"gpt-4o", "PROMPT", "100"},
		{"claude", "REQUESTS", "1"},
		{"TOTAL", "COST", "$1.500250"},
	} {
		if got := cell(t, out, c.col, c.row); got != c.want {
			t.Errorf("%s %s = %q; want %q in:\n%s", c.row, c.col, got, c.want, out)
		}
	}
	var rep adminv1.UsageReport
	if err := json.Unmarshal([]byte(s.ok("usage", "--json", "--group-by", "team", "--from", "168h")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.GroupBy != "team" || len(rep.Data) != 1 || rep.Data[0].Requests != 3 {
		t.Errorf("usage --json = %+v", rep)
	}
	code, _, errOut := s.run("usage", "--group-by", "colour")
	if code != 1 || !strings.Contains(errOut, "group_by") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}
