package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

func TestDirectoryCRUD(t *testing.T) {
	e := newEnv(t, nil)
	var org store.Org
	e.must(http.StatusCreated, bootstrap, "POST", "/admin/v1/orgs", adminv1.OrgCreate{Name: "Acme"}).decode(t, &org)
	var orgs adminv1.List[store.Org]
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/orgs", nil).decode(t, &orgs)
	if len(orgs.Data) != 1 || orgs.Data[0].ID != org.ID {
		t.Fatalf("orgs = %+v", orgs.Data)
	}

	var team store.Team
	e.must(http.StatusCreated, bootstrap, "POST", "/admin/v1/teams",
		adminv1.TeamCreate{OrgID: org.ID, Name: "ML", AllowedModels: []string{"gpt-4o"}, RPM: 100}).decode(t, &team)
	var teams adminv1.List[store.Team]
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/teams?org="+org.ID, nil).decode(t, &teams)
	if len(teams.Data) != 1 || teams.Data[0].ID != team.ID {
		t.Fatalf("teams = %+v", teams.Data)
	}
	name := "Machine Learning"
	regions := []string{"eu-*"}
	tpm := 50_000
	var updated store.Team
	e.must(http.StatusOK, bootstrap, "PATCH", "/admin/v1/teams/"+team.ID,
		adminv1.TeamUpdate{Name: &name, AllowedRegions: &regions, TPM: &tpm}).decode(t, &updated)
	var got store.Team
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/teams/"+team.ID, nil).decode(t, &got)
	if got.Name != name || len(got.AllowedRegions) != 1 || len(got.AllowedModels) != 1 || got.RPM != 100 || got.TPM != tpm {
		t.Errorf("team after patch = %+v; want new name, regions and tpm, models and rpm kept", got)
	}
	negative := -1
	er := e.must(http.StatusBadRequest, bootstrap, "PATCH", "/admin/v1/teams/"+team.ID, adminv1.TeamUpdate{RPM: &negative}).apiErr(t)
	if er.Param != "rpm" {
		t.Errorf("negative rpm in a patch: param %q (%s); want rpm", er.Param, er.Message)
	}
	e.must(http.StatusNotFound, bootstrap, "GET", "/admin/v1/teams/team_nope", nil)
	e.must(http.StatusNotFound, bootstrap, "PATCH", "/admin/v1/teams/team_nope", adminv1.TeamUpdate{Name: &name})

	var u store.User
	e.must(http.StatusCreated, bootstrap, "POST", "/admin/v1/users",
		adminv1.UserCreate{OrgID: org.ID, Email: "ada@example.com", Role: adminv1.RoleAuditor}).decode(t, &u)
	er = e.must(http.StatusConflict, bootstrap, "POST", "/admin/v1/users",
		adminv1.UserCreate{OrgID: org.ID, Email: "ada@example.com", Role: adminv1.RoleAdmin}).apiErr(t)
	if !strings.Contains(er.Message, "ada@example.com") || strings.Contains(er.Message, "UNIQUE") {
		t.Errorf("duplicate user message = %q; want the email and no driver text", er.Message)
	}
	var users adminv1.List[store.User]
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/users?org="+org.ID, nil).decode(t, &users)
	if len(users.Data) != 1 || users.Data[0].Role != adminv1.RoleAuditor {
		t.Errorf("users = %+v", users.Data)
	}
}

func TestDirectoryRejects(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	cases := []struct {
		name, path string
		body       any
		param      string
	}{
		{"org without name", "/admin/v1/orgs", adminv1.OrgCreate{Name: "  "}, "name"},
		{"team without org", "/admin/v1/teams", adminv1.TeamCreate{Name: "x"}, "org_id"},
		{"team in unknown org", "/admin/v1/teams", adminv1.TeamCreate{Name: "x", OrgID: "org_zzz"}, "org_id"},
		{"team without name", "/admin/v1/teams", adminv1.TeamCreate{OrgID: f.org.ID}, "name"},
		{"team with negative tpm", "/admin/v1/teams", adminv1.TeamCreate{OrgID: f.org.ID, Name: "x", TPM: -5}, "tpm"},
		{"user with bad email", "/admin/v1/users", adminv1.UserCreate{OrgID: f.org.ID, Email: "nope", Role: "admin"}, "email"},
		{"user with bad role", "/admin/v1/users", adminv1.UserCreate{OrgID: f.org.ID, Email: "a@b.c", Role: "root"}, "role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			er := e.must(http.StatusBadRequest, bootstrap, "POST", c.path, c.body).apiErr(t)
			if er.Param != c.param {
				t.Errorf("param = %q; want %q (%s)", er.Param, c.param, er.Message)
			}
		})
	}
}

func TestBudgetsCRUD(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	var b store.Budget
	e.must(http.StatusCreated, bootstrap, "POST", "/admin/v1/budgets",
		adminv1.BudgetCreate{Scope: "team", ScopeID: f.teamA.ID, LimitMicroUSD: 5_000_000}).decode(t, &b)
	if b.Period != store.PeriodMonth || b.Mode != store.ModeHard {
		t.Errorf("defaults = %s/%s; want month/hard", b.Period, b.Mode)
	}
	e.must(http.StatusCreated, bootstrap, "POST", "/admin/v1/budgets",
		adminv1.BudgetCreate{Scope: "key", ScopeID: f.keyB.ID, Period: "day", Mode: "soft", LimitMicroUSD: 1})
	var l adminv1.List[store.Budget]
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/budgets?scope=team", nil).decode(t, &l)
	if len(l.Data) != 1 || l.Data[0].ID != b.ID {
		t.Fatalf("team budgets = %+v", l.Data)
	}
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/budgets/"+b.ID, nil)
	e.must(http.StatusNoContent, bootstrap, "DELETE", "/admin/v1/budgets/"+b.ID, nil)
	e.must(http.StatusNotFound, bootstrap, "GET", "/admin/v1/budgets/"+b.ID, nil)
	e.must(http.StatusNotFound, bootstrap, "DELETE", "/admin/v1/budgets/"+b.ID, nil)

	start := start
	cases := []struct {
		name  string
		body  adminv1.BudgetCreate
		param string
	}{
		{"bad scope", adminv1.BudgetCreate{Scope: "user", ScopeID: "x", LimitMicroUSD: 1}, "scope"},
		{"no scope id", adminv1.BudgetCreate{Scope: "team", LimitMicroUSD: 1}, "scope_id"},
		{"unknown team", adminv1.BudgetCreate{Scope: "team", ScopeID: "team_zzz", LimitMicroUSD: 1}, "scope_id"},
		{"unknown key", adminv1.BudgetCreate{Scope: "key", ScopeID: "key_zzz", LimitMicroUSD: 1}, "scope_id"},
		{"zero limit", adminv1.BudgetCreate{Scope: "team", ScopeID: f.teamA.ID}, "limit_micro_usd"},
		{"bad mode", adminv1.BudgetCreate{Scope: "team", ScopeID: f.teamA.ID, LimitMicroUSD: 1, Mode: "strict"}, "mode"},
		{"bad period", adminv1.BudgetCreate{Scope: "team", ScopeID: f.teamA.ID, LimitMicroUSD: 1, Period: "year"}, "period"},
		{"window without bounds", adminv1.BudgetCreate{Scope: "team", ScopeID: f.teamA.ID, LimitMicroUSD: 1, Period: "window"}, "window_start"},
		{"window backwards", adminv1.BudgetCreate{Scope: "team", ScopeID: f.teamA.ID, LimitMicroUSD: 1, Period: "window",
			WindowStart: &start, WindowEnd: &start}, "window_end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			er := e.must(http.StatusBadRequest, bootstrap, "POST", "/admin/v1/budgets", c.body).apiErr(t)
			if er.Param != c.param {
				t.Errorf("param = %q; want %q (%s)", er.Param, c.param, er.Message)
			}
		})
	}
}

func seedUsage(t *testing.T, st store.Store) {
	t.Helper()
	recs := []store.UsageRecord{
		{RequestID: "r1", Time: start.Add(-2 * time.Hour), KeyID: "key_team_a", TeamID: "team_a", OrgID: "org_1", Alias: "gpt-4o", Provider: "openai", Region: "eu", PromptTokens: 10, CompletionTokens: 5, CostMicroUSD: 300},
		{RequestID: "r2", Time: start.Add(-time.Hour), KeyID: "key_team_a", TeamID: "team_a", OrgID: "org_1", Alias: "claude", Provider: "anthropic", Region: "us", PromptTokens: 20, CompletionTokens: 5, CostMicroUSD: 100},
		{RequestID: "r3", Time: start.Add(-time.Hour), KeyID: "key_team_b", TeamID: "team_b", OrgID: "org_1", Alias: "gpt-4o", Provider: "openai", Region: "eu", PromptTokens: 1, CompletionTokens: 1, CostMicroUSD: 50},
		{RequestID: "r4", Time: start.AddDate(0, -2, 0), KeyID: "key_team_b", TeamID: "team_b", OrgID: "org_1", Alias: "gpt-4o", Provider: "openai", Region: "eu", PromptTokens: 1, CompletionTokens: 1, CostMicroUSD: 9999},
	}
	if _, err := st.InsertUsage(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func TestUsageReport(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	seedUsage(t, e.st)
	cases := []struct {
		name, query string
		want        map[string]int64 // group -> cost
	}{
		{"default is this month by team", "", map[string]int64{"team_a": 400, "team_b": 50}},
		{"by model", "?group_by=model", map[string]int64{"gpt-4o": 350, "claude": 100}},
		{"by provider over a date range", "?group_by=provider&from=2030-01-01&to=2030-12-31", map[string]int64{"openai": 10349, "anthropic": 100}},
		{"one team by region", "?group_by=region&team=team_a", map[string]int64{"eu": 300, "us": 100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rep adminv1.UsageReport
			e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/usage"+c.query, nil).decode(t, &rep)
			got := map[string]int64{}
			for _, g := range rep.Data {
				got[g.Group] = g.CostMicroUSD
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("groups = %v; want %v", got, c.want)
			}
		})
	}
	for _, q := range []struct{ query, param string }{
		{"?group_by=user", "group_by"}, {"?from=yesterday", "from"}, {"?to=2030-13-01", "to"},
		{"?from=2030-06-02&to=2030-06-01", "from"},
	} {
		if er := e.must(http.StatusBadRequest, bootstrap, "GET", "/admin/v1/usage"+q.query, nil).apiErr(t); er.Param != q.param {
			t.Errorf("%s: param = %q; want %q", q.query, er.Param, q.param)
		}
	}
}

// seal numbers and links records without the audit package's hashing.
func seal(head store.ChainHead, recs []store.AuditRecord) error {
	prev := head.Hash
	for i := range recs {
		recs[i].Seq = head.Seq + int64(i) + 1
		recs[i].PrevHash, recs[i].Hash = prev, fmt.Sprintf("h%d", recs[i].Seq)
		prev = recs[i].Hash
	}
	return nil
}

func TestAuditExport(t *testing.T) {
	e := newEnv(t, nil)
	var recs []store.AuditRecord
	for i := range 5 {
		recs = append(recs, store.AuditRecord{ID: fmt.Sprint("a", i), Time: start.Add(time.Duration(i) * time.Hour),
			ActorKind: store.ActorKey, TeamID: []string{"team_a", "team_b"}[i%2], Action: "chat.completion"})
	}
	if _, err := e.st.AppendAudit(context.Background(), recs, seal); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{1, 2, 3, 4, 5}},
		{"?team=team_a", []int64{1, 3, 5}},
		{"?from=" + start.Add(time.Hour).Format(time.RFC3339) + "&to=" + start.Add(3*time.Hour).Format(time.RFC3339), []int64{2, 3}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/audit"+c.query, nil)
			if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got []int64
			for line := range strings.SplitSeq(strings.TrimSpace(string(r.body)), "\n") {
				if line == "" {
					continue
				}
				var rec store.AuditRecord
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				if rec.Hash == "" {
					t.Errorf("record %d exported without its hash", rec.Seq)
				}
				got = append(got, rec.Seq)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("seqs = %v; want %v", got, c.want)
			}
		})
	}
	e.must(http.StatusBadRequest, bootstrap, "GET", "/admin/v1/audit?from=nope", nil)
}

type report struct {
	Issues []string `json:"issues"`
}

func (r report) OK() bool { return len(r.Issues) == 0 }

func TestAuditVerify(t *testing.T) {
	e := newEnv(t, nil)
	er := e.must(http.StatusNotImplemented, bootstrap, "GET", "/admin/v1/audit/verify", nil).apiErr(t)
	if !strings.Contains(er.Message, "not configured") {
		t.Errorf("501 message = %q", er.Message)
	}
	cases := []struct {
		name   string
		rep    report
		wantOK bool
	}{
		{"intact", report{}, true},
		{"broken", report{Issues: []string{"seq 3 modified"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(o *admin.Options) {
				o.AuditVerify = func(context.Context) (any, error) { return c.rep, nil }
			})
			var out adminv1.AuditVerify
			e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/audit/verify", nil).decode(t, &out)
			var back report
			if err := json.Unmarshal(out.Report, &back); err != nil {
				t.Fatal(err)
			}
			if out.OK != c.wantOK || len(back.Issues) != len(c.rep.Issues) {
				t.Errorf("verify = ok %v report %s; want ok %v", out.OK, out.Report, c.wantOK)
			}
		})
	}
	failing := newEnv(t, func(o *admin.Options) {
		o.AuditVerify = func(context.Context) (any, error) { return nil, errors.New("db exploded at /var/secret") }
	})
	er = failing.must(http.StatusInternalServerError, bootstrap, "GET", "/admin/v1/audit/verify", nil).apiErr(t)
	if strings.Contains(er.Message, "/var/secret") {
		t.Errorf("internal error text leaked: %q", er.Message)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, nil)
	e.must(http.StatusNotImplemented, bootstrap, "GET", "/admin/v1/status", nil).apiErr(t)
	e = newEnv(t, func(o *admin.Options) {
		o.Status = func() any { return []map[string]any{{"name": "gpt-eu", "healthy": true}} }
	})
	r := e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/status", nil)
	if !strings.Contains(string(r.body), `"gpt-eu"`) {
		t.Errorf("status body = %s", r.body)
	}
}
