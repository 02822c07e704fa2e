package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

// newMatrixEnv has every optional feature wired and a tenancy of two
// teams, each with a key, a budget and a pending approval.
func newMatrixEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, func(o *admin.Options) {
		o.Approvals = storeDecider{st: o.Store}
		o.AuditVerify = func(context.Context) (any, error) { return report{}, nil }
		o.Status = func() any { return []string{} }
	})
	e.seed()
	seedApprovals(t, e.st)
	for _, team := range []string{"team_a", "team_b"} {
		_, err := e.st.CreateBudget(context.Background(), store.Budget{ID: "bud_" + team, Scope: store.ScopeTeam, ScopeID: team,
			Period: store.PeriodMonth, Mode: store.ModeHard, LimitMicroUSD: 100})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestRoleMatrix(t *testing.T) {
	const (
		ok, created, gone, no = http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusForbidden
	)
	roles := []string{adminv1.RoleAdmin, adminv1.RoleTeamAdmin, adminv1.RoleAuditor, adminv1.RoleReadOnly}
	keyIn := func(team string) adminv1.KeyCreate { return adminv1.KeyCreate{Name: "n", TeamID: team} }
	cases := []struct {
		method, path string
		body         any
		// want is the status for admin, team_admin (of team_a), auditor
		// and read_only, in that order.
		want [4]int
	}{
		{"GET", "/admin/v1/orgs", nil, [4]int{ok, no, no, ok}},
		{"POST", "/admin/v1/orgs", adminv1.OrgCreate{Name: "n"}, [4]int{created, no, no, no}},
		{"GET", "/admin/v1/teams", nil, [4]int{ok, ok, no, ok}},
		{"GET", "/admin/v1/teams/team_a", nil, [4]int{ok, ok, no, ok}},
		{"GET", "/admin/v1/teams/team_b", nil, [4]int{ok, no, no, ok}},
		{"POST", "/admin/v1/teams", adminv1.TeamCreate{OrgID: "org_1", Name: "n"}, [4]int{created, no, no, no}},
		{"PATCH", "/admin/v1/teams/team_a", adminv1.TeamUpdate{}, [4]int{ok, no, no, no}},
		{"GET", "/admin/v1/users", nil, [4]int{ok, no, no, ok}},
		{"POST", "/admin/v1/users", adminv1.UserCreate{OrgID: "org_1", Email: "a@b.c", Role: "auditor"}, [4]int{created, no, no, no}},
		{"GET", "/admin/v1/keys", nil, [4]int{ok, ok, no, ok}},
		{"GET", "/admin/v1/keys?team=team_b", nil, [4]int{ok, no, no, ok}},
		{"GET", "/admin/v1/keys/key_team_a", nil, [4]int{ok, ok, no, ok}},
		{"GET", "/admin/v1/keys/key_team_b", nil, [4]int{ok, no, no, ok}},
		{"POST", "/admin/v1/keys", keyIn("team_a"), [4]int{created, created, no, no}},
		{"POST", "/admin/v1/keys", keyIn("team_b"), [4]int{created, no, no, no}},
		{"POST", "/admin/v1/keys", keyIn(""), [4]int{created, no, no, no}},
		{"PATCH", "/admin/v1/keys/key_team_a", adminv1.KeyUpdate{}, [4]int{ok, ok, no, no}},
		{"PATCH", "/admin/v1/keys/key_team_b", adminv1.KeyUpdate{}, [4]int{ok, no, no, no}},
		{"POST", "/admin/v1/keys/key_team_a/rotate", nil, [4]int{ok, ok, no, no}},
		{"POST", "/admin/v1/keys/key_team_b/rotate", nil, [4]int{ok, no, no, no}},
		{"POST", "/admin/v1/keys/key_team_a/revoke", nil, [4]int{ok, ok, no, no}},
		{"POST", "/admin/v1/keys/key_team_b/revoke", nil, [4]int{ok, no, no, no}},
		{"GET", "/admin/v1/budgets", nil, [4]int{ok, ok, no, ok}},
		{"GET", "/admin/v1/budgets/bud_team_b", nil, [4]int{ok, no, no, ok}},
		{"POST", "/admin/v1/budgets", adminv1.BudgetCreate{Scope: "team", ScopeID: "team_a", LimitMicroUSD: 1}, [4]int{created, created, no, no}},
		{"POST", "/admin/v1/budgets", adminv1.BudgetCreate{Scope: "key", ScopeID: "key_team_b", LimitMicroUSD: 1}, [4]int{created, no, no, no}},
		{"POST", "/admin/v1/budgets", adminv1.BudgetCreate{Scope: "org", ScopeID: "org_1", LimitMicroUSD: 1}, [4]int{created, no, no, no}},
		{"DELETE", "/admin/v1/budgets/bud_team_a", nil, [4]int{gone, gone, no, no}},
		{"DELETE", "/admin/v1/budgets/bud_team_b", nil, [4]int{gone, no, no, no}},
		{"GET", "/admin/v1/usage", nil, [4]int{ok, ok, ok, ok}},
		{"GET", "/admin/v1/usage?team=team_b", nil, [4]int{ok, no, ok, ok}},
		{"GET", "/admin/v1/audit", nil, [4]int{ok, no, ok, no}},
		{"GET", "/admin/v1/audit/verify", nil, [4]int{ok, no, ok, ok}},
		{"GET", "/admin/v1/approvals", nil, [4]int{ok, ok, no, ok}},
		{"GET", "/admin/v1/approvals/apr_team_b", nil, [4]int{ok, no, no, ok}},
		{"POST", "/admin/v1/approvals/apr_team_a/approve", nil, [4]int{ok, ok, no, no}},
		{"POST", "/admin/v1/approvals/apr_team_b/deny", nil, [4]int{ok, no, no, no}},
		{"GET", "/admin/v1/status", nil, [4]int{ok, no, no, ok}},
	}
	for n, c := range cases {
		for i, role := range roles {
			// Unique names: a duplicate gets a "#01" suffix, and '#' in the
			// temp dir would cut the SQLite file URI short.
			t.Run(fmt.Sprintf("%02d %s %s as %s", n, c.method, c.path, role), func(t *testing.T) {
				e := newMatrixEnv(t)
				r := e.do(e.tokenFor(role, "team_a"), c.method, c.path, c.body)
				if r.status != c.want[i] {
					t.Fatalf("status = %d %s; want %d", r.status, r.body, c.want[i])
				}
				if r.status == no {
					if er := r.apiErr(t); er.Type != "permission_error" {
						t.Errorf("type = %q; want permission_error", er.Type)
					}
				}
			})
		}
	}
}

// TestTeamAdminListsOnlyOwnTeams checks the per-team filter on every
// collection a team admin may read, including one with two teams.
func TestTeamAdminListsOnlyOwnTeams(t *testing.T) {
	e := newMatrixEnv(t)
	seedUsage(t, e.st)
	ids := func(path, token string) []string {
		var l adminv1.List[map[string]any]
		e.must(http.StatusOK, token, "GET", path, nil).decode(t, &l)
		var out []string
		for _, m := range l.Data {
			out = append(out, fmt.Sprint(m["id"]))
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		path       string
		onlyA, all []string
	}{
		{"/admin/v1/keys", []string{"key_team_a"}, []string{"key_team_a", "key_team_b"}},
		{"/admin/v1/teams", []string{"team_a"}, []string{"team_a", "team_b"}},
		{"/admin/v1/budgets", []string{"bud_team_a"}, []string{"bud_team_a", "bud_team_b"}},
		{"/admin/v1/approvals", []string{"apr_team_a"}, []string{"apr_team_a", "apr_team_b"}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			if got := ids(c.path, e.tokenFor(adminv1.RoleTeamAdmin, "team_a")); !slices.Equal(got, c.onlyA) {
				t.Errorf("team admin of A sees %v; want %v", got, c.onlyA)
			}
			if got := ids(c.path, e.tokenFor(adminv1.RoleTeamAdmin, "team_a", "team_b")); !slices.Equal(got, c.all) {
				t.Errorf("team admin of A and B sees %v; want %v", got, c.all)
			}
		})
	}
	var rep adminv1.UsageReport
	e.must(http.StatusOK, e.tokenFor(adminv1.RoleTeamAdmin, "team_a"), "GET", "/admin/v1/usage?group_by=model", nil).decode(t, &rep)
	if fmt.Sprint(rep.Data) != fmt.Sprint([]store.UsageGroup{
		{Group: "gpt-4o", Requests: 1, PromptTokens: 10, CompletionTokens: 5, CostMicroUSD: 300},
		{Group: "claude", Requests: 1, PromptTokens: 20, CompletionTokens: 5, CostMicroUSD: 100},
	}) {
		t.Errorf("team A usage by model = %+v", rep.Data)
	}
	e.must(http.StatusOK, e.tokenFor(adminv1.RoleTeamAdmin, "team_a", "team_b"), "GET", "/admin/v1/usage?group_by=model", nil).decode(t, &rep)
	if len(rep.Data) != 2 || rep.Data[0].Group != "gpt-4o" || rep.Data[0].CostMicroUSD != 350 || rep.Data[0].Requests != 2 {
		t.Errorf("teams A+B usage by model = %+v; want gpt-4o merged to 350 over 2 requests", rep.Data)
	}
}

func TestRolesCombine(t *testing.T) {
	e := newMatrixEnv(t)
	tok := e.iss.sign(t, e.claims([]string{"gw-auditors", "gw-team-admins", "unrelated-group"}, []string{"team_a"}), nil)
	e.must(http.StatusOK, tok, "GET", "/admin/v1/audit", nil)
	e.must(http.StatusCreated, tok, "POST", "/admin/v1/keys", adminv1.KeyCreate{Name: "n", TeamID: "team_a"})
	e.must(http.StatusForbidden, tok, "POST", "/admin/v1/keys", adminv1.KeyCreate{Name: "n", TeamID: "team_b"})
	// Auditor's global usage read widens the team admin's.
	e.must(http.StatusOK, tok, "GET", "/admin/v1/usage?team=team_b", nil)
}
