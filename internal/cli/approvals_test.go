package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/store"
)

type decider struct{ st store.Store }

func (d decider) Decide(ctx context.Context, id string, approve bool, by, comment string) (store.Approval, error) {
	status := store.ApprovalDenied
	if approve {
		status = store.ApprovalApproved
	}
	return d.st.DecideApproval(ctx, id, store.Decision{Status: status, By: by, Comment: comment, At: time.Now()})
}

func TestApprovalsCommands(t *testing.T) {
	s := startAdmin(t, func(o *admin.Options) { o.Approvals = decider{st: o.Store} })
	for _, id := range []string{"apr_1", "apr_2"} {
		_, err := s.st.CreateApproval(context.Background(), store.Approval{ID: id, TeamID: "team_a", Tool: "wire_money",
			ArgumentsRedacted: `{"amount":100,"iban":"***"}`, Reason: "policy payments.v2", ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	list := s.ok("approvals", "list")
	if got := cell(t, list, "TOOL", "apr_1"); got != "wire_money" {
		t.Errorf("TOOL = %q in:\n%s", got, list)
	}
	if got := cell(t, list, "REASON", "apr_2"); got != "policy payments.v2" {
		t.Errorf("REASON = %q", got)
	}
	show := s.ok("approvals", "show", "apr_1")
	if !strings.Contains(show, `Arguments:  {"amount":100,"iban":"***"}`) {
		t.Errorf("show:\n%s", show)
	}

	approved := s.ok("approvals", "approve", "apr_1", "--comment", "ok by finance")
	for _, w := range []string{"Status:     approved", "by bootstrap", "Comment:    ok by finance"} {
		if !strings.Contains(approved, w) {
			t.Errorf("approve output lacks %q:\n%s", w, approved)
		}
	}
	var denied store.Approval
	if err := json.Unmarshal([]byte(s.ok("approvals", "deny", "apr_2", "--json")), &denied); err != nil || denied.Status != store.ApprovalDenied {
		t.Fatalf("deny --json = %+v, %v", denied, err)
	}
	if list := s.ok("approvals", "list"); strings.Contains(list, "apr_") {
		t.Errorf("pending list after deciding both:\n%s", list)
	}
	var all []store.Approval
	if err := json.Unmarshal([]byte(s.ok("approvals", "list", "--status", "all", "--json")), &all); err != nil || len(all) != 2 {
		t.Errorf("list --status all = %+v, %v", all, err)
	}
	code, _, errOut := s.run("approvals", "approve", "apr_2")
	if code != 1 || !strings.Contains(errOut, "apr_2 conflicts") {
		t.Errorf("re-deciding: exit %d stderr %q", code, errOut)
	}
}
