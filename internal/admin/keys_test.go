package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/auth"
	"github.com/switchyard/switchyard/internal/store"
)

func TestKeySecretIsShownOnce(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	r := e.must(http.StatusCreated, bootstrap, "POST", "/admin/v1/keys", adminv1.KeyCreate{
		Name: "ci", TeamID: f.teamA.ID, AllowedModels: []string{"gpt-4o"}, RPM: 60,
	})
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store on a secret", got)
	}
	var created adminv1.KeySecret
	r.decode(t, &created)
	if !strings.HasPrefix(created.Secret, auth.SecretPrefix) {
		t.Fatalf("secret %q lacks %q", created.Secret, auth.SecretPrefix)
	}
	if created.Key.OrgID != f.org.ID {
		t.Errorf("org_id = %q; want the team's org %q", created.Key.OrgID, f.org.ID)
	}
	stored, err := e.st.KeyByHash(context.Background(), auth.HashSecret(created.Secret))
	if err != nil || stored.ID != created.Key.ID {
		t.Fatalf("the secret does not hash to the stored key: %v (%s vs %s)", err, stored.ID, created.Key.ID)
	}
	if strings.Contains(string(r.body), stored.Hash) || strings.Contains(string(r.body), `"hash"`) {
		t.Errorf("create answer carries the hash: %s", r.body)
	}
	for _, path := range []string{"/admin/v1/keys", "/admin/v1/keys/" + created.Key.ID, "/admin/v1/keys?team=" + f.teamA.ID} {
		body := string(e.must(http.StatusOK, bootstrap, "GET", path, nil).body)
		if !strings.Contains(body, created.Key.ID) {
			t.Errorf("GET %s does not list the key: %s", path, body)
		}
		if strings.Contains(body, created.Secret) || strings.Contains(body, stored.Hash) ||
			strings.Contains(body, `"secret"`) || strings.Contains(body, `"hash"`) {
			t.Errorf("GET %s leaks the secret or its hash: %s", path, body)
		}
	}
}

func TestKeyUpdate(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	name, rpm := "renamed", 10
	r := e.must(http.StatusOK, bootstrap, "PATCH", "/admin/v1/keys/"+f.keyA.ID, adminv1.KeyUpdate{Name: &name, RPM: &rpm})
	var k store.Key
	r.decode(t, &k)
	if k.Name != name || k.RPM != rpm || k.TeamID != f.teamA.ID {
		t.Fatalf("updated key = %+v", k)
	}
	stored, _ := e.st.Key(context.Background(), f.keyA.ID)
	if stored.Name != name || stored.RPM != rpm {
		t.Fatalf("store still has %+v", stored)
	}
	bad := -1
	er := e.must(http.StatusBadRequest, bootstrap, "PATCH", "/admin/v1/keys/"+f.keyA.ID, adminv1.KeyUpdate{TPM: &bad}).apiErr(t)
	if er.Param != "tpm" {
		t.Errorf("param = %q; want tpm", er.Param)
	}
}

func TestKeyRotationGrace(t *testing.T) {
	cases := []struct {
		name  string
		body  any
		grace time.Duration
	}{
		{"explicit grace", adminv1.KeyRotate{Grace: "1h"}, time.Hour},
		{"default grace", nil, 24 * time.Hour},
		{"immediate", adminv1.KeyRotate{Grace: "0s"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := e.seed()
			r := e.must(http.StatusOK, bootstrap, "POST", "/admin/v1/keys/"+f.keyA.ID+"/rotate", c.body)
			var out adminv1.KeySecret
			r.decode(t, &out)
			if out.Secret == "" || out.Key.ID == f.keyA.ID || out.Previous == nil {
				t.Fatalf("rotate answer = %s", r.body)
			}
			old, err := e.st.Key(context.Background(), f.keyA.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantUntil := start.Add(c.grace)
			if old.GraceUntil == nil || !old.GraceUntil.Equal(wantUntil) {
				t.Errorf("old key grace_until = %v; want %v", old.GraceUntil, wantUntil)
			}
			if old.RotatedTo != out.Key.ID || old.RevokedAt != nil {
				t.Errorf("old key = rotated_to %q revoked %v; want rotated_to %q and not revoked", old.RotatedTo, old.RevokedAt, out.Key.ID)
			}
			succ, err := e.st.KeyByHash(context.Background(), auth.HashSecret(out.Secret))
			if err != nil || succ.ID != out.Key.ID || succ.TeamID != f.keyA.TeamID || succ.Name != f.keyA.Name {
				t.Fatalf("successor = %+v, %v; want team and name carried over", succ, err)
			}
			er := e.must(http.StatusConflict, bootstrap, "POST", "/admin/v1/keys/"+f.keyA.ID+"/rotate", nil).apiErr(t)
			if !strings.Contains(er.Message, out.Key.ID) {
				t.Errorf("second rotation message %q should point at the successor", er.Message)
			}
		})
	}
}

func TestKeyRotationRejects(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	cases := []struct {
		name   string
		body   any
		status int
		param  string
	}{
		{"not a duration", `{"grace":"soon"}`, http.StatusBadRequest, "grace"},
		{"negative", `{"grace":"-1h"}`, http.StatusBadRequest, "grace"},
		{"too long", `{"grace":"10000h"}`, http.StatusBadRequest, "grace"},
		{"unknown field", `{"grace_period":"1h"}`, http.StatusBadRequest, "grace_period"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			er := e.must(c.status, bootstrap, "POST", "/admin/v1/keys/"+f.keyA.ID+"/rotate", c.body).apiErr(t)
			if er.Param != c.param {
				t.Errorf("param = %q; want %q (%s)", er.Param, c.param, er.Message)
			}
		})
	}
	e.must(http.StatusNotFound, bootstrap, "POST", "/admin/v1/keys/key_nope/rotate", nil)
}

func TestKeyRevoke(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	var k store.Key
	e.must(http.StatusOK, bootstrap, "POST", "/admin/v1/keys/"+f.keyA.ID+"/revoke", nil).decode(t, &k)
	if k.RevokedAt == nil || !k.RevokedAt.Equal(start) {
		t.Fatalf("revoked_at = %v; want %v", k.RevokedAt, start)
	}
	var l adminv1.List[store.Key]
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/keys", nil).decode(t, &l)
	if len(l.Data) != 1 || l.Data[0].ID != f.keyB.ID {
		t.Errorf("list without revoked = %+v; want only %s", l.Data, f.keyB.ID)
	}
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/keys?include_revoked=true", nil).decode(t, &l)
	if len(l.Data) != 2 {
		t.Errorf("list with revoked has %d keys; want 2", len(l.Data))
	}
	er := e.must(http.StatusConflict, bootstrap, "POST", "/admin/v1/keys/"+f.keyA.ID+"/rotate", nil).apiErr(t)
	if !strings.Contains(er.Message, "revoked") {
		t.Errorf("rotating a revoked key: message %q should say it is revoked", er.Message)
	}
}

func TestKeyCreateRejects(t *testing.T) {
	e := newEnv(t, nil)
	f := e.seed()
	past := start.Add(-time.Hour)
	cases := []struct {
		name  string
		body  any
		param string
	}{
		{"no name", adminv1.KeyCreate{TeamID: f.teamA.ID}, "name"},
		{"unknown team", adminv1.KeyCreate{Name: "x", TeamID: "team_zzz"}, "team_id"},
		{"org mismatch", adminv1.KeyCreate{Name: "x", TeamID: f.teamA.ID, OrgID: "org_other"}, "org_id"},
		{"unknown org", adminv1.KeyCreate{Name: "x", OrgID: "org_zzz"}, "org_id"},
		{"unknown user", adminv1.KeyCreate{Name: "x", UserID: "usr_zzz"}, "user_id"},
		{"negative rpm", adminv1.KeyCreate{Name: "x", RPM: -5}, "rpm"},
		{"expired", adminv1.KeyCreate{Name: "x", ExpiresAt: &past}, "expires_at"},
		{"wrong type", `{"name":"x","rpm":"fast"}`, "rpm"},
		{"unknown field", `{"name":"x","modelz":[]}`, "modelz"},
		{"not JSON", `{"name":`, ""},
		{"empty body", ``, ""},
		{"two objects", `{"name":"x"}{"name":"y"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			er := e.must(http.StatusBadRequest, bootstrap, "POST", "/admin/v1/keys", c.body).apiErr(t)
			if er.Param != c.param || er.Type != "invalid_request_error" {
				t.Errorf("param/type = %q/%q; want %q/invalid_request_error (%s)", er.Param, er.Type, c.param, er.Message)
			}
		})
	}
	keys, _ := e.st.ListKeys(context.Background(), store.KeyFilter{IncludeRevoked: true})
	if len(keys) != 2 {
		t.Errorf("rejected creates stored keys: have %d, want the 2 seeded", len(keys))
	}
}
