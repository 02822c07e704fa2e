package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

func TestOIDCTokens(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	valid := func() map[string]any { return e.claims([]string{"gw-team-admins"}, []string{"team_a"}) }
	cases := []struct {
		name   string
		token  func() string
		status int
		code   string
	}{
		{"valid", func() string { return e.iss.sign(t, valid(), nil) }, http.StatusOK, ""},
		{"expired", func() string {
			c := valid()
			c["exp"] = e.clock.Now().Add(-time.Minute).Unix()
			return e.iss.sign(t, c, nil)
		}, http.StatusUnauthorized, "token_expired"},
		{"wrong audience", func() string {
			c := valid()
			c["aud"] = "some-other-app"
			return e.iss.sign(t, c, nil)
		}, http.StatusUnauthorized, "invalid_token"},
		{"wrong issuer", func() string {
			c := valid()
			c["iss"] = "https://evil.example.com"
			return e.iss.sign(t, c, nil)
		}, http.StatusUnauthorized, "invalid_token"},
		{"signed by another key", func() string { return e.iss.sign(t, valid(), rsaKeys()[1]) }, http.StatusUnauthorized, "invalid_token"},
		{"tampered payload", func() string {
			parts := strings.Split(e.iss.sign(t, valid(), nil), ".")
			other := strings.Split(e.iss.sign(t, e.claims([]string{"gw-admins"}, nil), nil), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}, http.StatusUnauthorized, "invalid_token"},
		{"no mapped role", func() string {
			return e.iss.sign(t, e.claims([]string{"marketing"}, []string{"team_a"}), nil)
		}, http.StatusForbidden, "forbidden"},
		{"no role claim", func() string {
			c := valid()
			delete(c, "roles")
			return e.iss.sign(t, c, nil)
		}, http.StatusForbidden, "forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.token(), "GET", "/admin/v1/keys/key_team_a", nil)
			if r.status != c.status {
				t.Fatalf("status = %d %s; want %d", r.status, r.body, c.status)
			}
			if c.code == "" {
				return
			}
			er := r.apiErr(t)
			if er.Code != c.code {
				t.Errorf("code = %q; want %q (%s)", er.Code, c.code, er.Message)
			}
			if c.status == http.StatusUnauthorized && !strings.Contains(er.Message, "sign in again") {
				t.Errorf("401 message %q should tell the person to sign in again", er.Message)
			}
		})
	}
}

// TestOIDCMapsRoleAndTeams checks a valid token's mapped role and teams
// through what it may do and through the audit record it leaves.
func TestOIDCMapsRoleAndTeams(t *testing.T) {
	e := newEnv(t, nil)
	e.seed()
	tok := e.iss.sign(t, e.claims([]string{"gw-team-admins"}, []string{"team_b"}), nil)
	e.must(http.StatusForbidden, tok, "GET", "/admin/v1/keys/key_team_a", nil)
	e.must(http.StatusOK, tok, "POST", "/admin/v1/keys/key_team_b/revoke", nil)
	recs := e.audit.all()
	last := recs[len(recs)-1]
	var d struct {
		Via   string   `json:"via"`
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(last.Details, &d); err != nil {
		t.Fatal(err)
	}
	if last.ActorKind != store.ActorUser || last.ActorID != "ada@example.com" || last.TeamID != "team_b" ||
		d.Via != "oidc" || len(d.Roles) != 1 || d.Roles[0] != adminv1.RoleTeamAdmin {
		t.Errorf("audit record = %+v details %s", last, last.Details)
	}
}

func TestOIDCClaimShapes(t *testing.T) {
	cases := []struct {
		name   string
		cfg    func(*admin.OIDCConfig)
		claims func(map[string]any)
		status int
	}{
		{"role as a string", nil, func(c map[string]any) { c["roles"] = "gw-admins" }, http.StatusOK},
		{"nested claim path", func(o *admin.OIDCConfig) { o.RoleClaim = "realm_access.roles" },
			func(c map[string]any) { c["realm_access"] = map[string]any{"roles": []string{"gw-viewers"}} }, http.StatusOK},
		{"custom team claim", func(o *admin.OIDCConfig) { o.TeamClaim = "groups" },
			func(c map[string]any) { c["roles"] = "gw-team-admins"; c["groups"] = []string{"team_a"} }, http.StatusOK},
		{"identity mapping without a role map", func(o *admin.OIDCConfig) { o.RoleMap = nil },
			func(c map[string]any) { c["roles"] = []string{"read_only"} }, http.StatusOK},
		{"role map to a non-role", func(o *admin.OIDCConfig) { o.RoleMap = map[string]string{"gw-admins": "root"} },
			func(c map[string]any) { c["roles"] = "gw-admins" }, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(o *admin.Options) {
				if c.cfg != nil {
					c.cfg(o.OIDC)
				}
			})
			e.seed()
			claims := e.claims(nil, nil)
			c.claims(claims)
			e.must(c.status, e.iss.sign(t, claims, nil), "GET", "/admin/v1/keys/key_team_a", nil)
		})
	}
}

// TestOIDCLazyDiscovery: the gateway serves (bootstrap token works) while
// the IdP is down, SSO answers 503 and retries after RetryInterval.
func TestOIDCLazyDiscovery(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) { o.OIDC.RetryInterval = time.Minute })
	e.seed()
	e.iss.down.Store(true)
	tok := e.tokenFor(adminv1.RoleAdmin)
	r := e.must(http.StatusServiceUnavailable, tok, "GET", "/admin/v1/keys", nil)
	if er := r.apiErr(t); er.Code != "idp_unreachable" || r.header.Get("Retry-After") != "60" {
		t.Errorf("code %q Retry-After %q; want idp_unreachable and 60", er.Code, r.header.Get("Retry-After"))
	}
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/keys", nil)

	e.iss.down.Store(false)
	// Still inside the retry interval: no new attempt yet.
	e.must(http.StatusServiceUnavailable, tok, "GET", "/admin/v1/keys", nil)
	e.clock.Advance(time.Minute)
	e.must(http.StatusOK, e.tokenFor(adminv1.RoleAdmin), "GET", "/admin/v1/keys", nil)
	// Once discovered, the IdP going down again does not matter.
	e.iss.down.Store(true)
	e.must(http.StatusOK, e.tokenFor(adminv1.RoleAdmin), "GET", "/admin/v1/keys", nil)
}

func TestOIDCConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  admin.OIDCConfig
		want []string
	}{
		{"ok", admin.OIDCConfig{Issuer: "https://idp", Audience: "x", RoleMap: map[string]string{"g": "auditor"}}, nil},
		{"missing", admin.OIDCConfig{}, []string{"issuer", "audience"}},
		{"bad role", admin.OIDCConfig{Issuer: "https://idp", Audience: "x", RoleMap: map[string]string{"g": "root"}}, []string{`role_map["g"]`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if (err == nil) != (len(c.want) == 0) {
				t.Fatalf("Validate() = %v; want problems %v", err, c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}
