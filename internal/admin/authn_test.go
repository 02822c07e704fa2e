package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

func TestAuthenticationErrors(t *testing.T) {
	e := newEnv(t, nil)
	noSSO := newEnv(t, func(o *admin.Options) { o.OIDC = nil })
	noBootstrap := newEnv(t, func(o *admin.Options) { o.BootstrapToken = "" })
	cases := []struct {
		name   string
		env    *env
		header string
		code   string
		hint   string
	}{
		{"no header", e, "", "missing_credentials", "Authorization: Bearer"},
		{"basic auth", e, "Basic YWRtaW46YWRtaW4=", "missing_credentials", "Bearer <token>"},
		{"empty bearer", e, "Bearer ", "missing_credentials", "Bearer <token>"},
		{"wrong token", e, "Bearer nope", "invalid_token", "SWITCHYARD_ADMIN_TOKEN"},
		{"bootstrap prefix", e, "Bearer " + bootstrap[:len(bootstrap)-1], "invalid_token", "SWITCHYARD_ADMIN_TOKEN"},
		{"JWT without SSO", noSSO, "Bearer a.b.c", "invalid_token", "bootstrap token"},
		{"empty bootstrap never matches", noBootstrap, "Bearer ", "missing_credentials", "Bearer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", c.env.srv.URL+"/admin/v1/orgs", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			res, err := c.env.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var eb adminv1.ErrorBody
			if err := json.NewDecoder(res.Body).Decode(&eb); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusUnauthorized || eb.Error.Type != "authentication_error" || eb.Error.Code != c.code {
				t.Fatalf("= %d %+v; want 401 authentication_error %s", res.StatusCode, eb.Error, c.code)
			}
			if !strings.Contains(eb.Error.Message, c.hint) {
				t.Errorf("message %q should mention %q", eb.Error.Message, c.hint)
			}
			if res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if er := e.must(http.StatusNotFound, bootstrap, "GET", "/admin/v1/nothing", nil).apiErr(t); !strings.Contains(er.Message, "/admin/v1/nothing") {
		t.Errorf("unknown endpoint message = %q", er.Message)
	}
}

func TestAdminActionsAreAudited(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	var created adminv1.KeySecret
	e.must(http.StatusCreated, bootstrap, "POST", "/admin/v1/keys", adminv1.KeyCreate{Name: "ci", TeamID: f.teamA.ID}).decode(t, &created)
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/keys", nil)
	e.must(http.StatusForbidden, e.tokenFor(adminv1.RoleTeamAdmin, "team_a"), "POST", "/admin/v1/keys/"+f.keyB.ID+"/revoke", nil)
	e.must(http.StatusBadRequest, bootstrap, "POST", "/admin/v1/keys/"+f.keyA.ID+"/rotate", `{"grace":"x"}`)
	e.must(http.StatusForbidden, e.tokenFor(adminv1.RoleReadOnly), "POST", "/admin/v1/orgs", adminv1.OrgCreate{Name: "x"})
	e.must(http.StatusOK, e.tokenFor(adminv1.RoleAuditor), "GET", "/admin/v1/audit", nil)

	type row struct{ actorKind, actor, action, resource, team, outcome string }
	want := []row{
		{store.ActorAdmin, "bootstrap", "key.create", "key/" + created.Key.ID, f.teamA.ID, "ok"},
		{store.ActorUser, "ada@example.com", "key.revoke", "key/" + f.keyB.ID, f.teamB.ID, "forbidden"},
		{store.ActorAdmin, "bootstrap", "key.rotate", "key/" + f.keyA.ID, f.teamA.ID, "invalid_field"},
		{store.ActorUser, "ada@example.com", "org.create", "", "", "forbidden"},
		{store.ActorUser, "ada@example.com", "audit.export", "audit", "", "ok"},
	}
	recs := e.audit.all()
	if len(recs) != len(want) {
		t.Fatalf("%d audit records; want %d (reads are not audited): %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		got := row{r.ActorKind, r.ActorID, r.Action, r.Resource, r.TeamID, r.Outcome}
		if got != w {
			t.Errorf("record %d = %+v; want %+v", i, got, w)
		}
		if !r.Time.Equal(start) || !json.Valid(r.Details) {
			t.Errorf("record %d time %v details %s", i, r.Time, r.Details)
		}
		if strings.Contains(string(r.Details), created.Secret) {
			t.Errorf("record %d carries the secret", i)
		}
	}
}
