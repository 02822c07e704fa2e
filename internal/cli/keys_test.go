package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/auth"
	"github.com/switchyard/switchyard/internal/store"
)

func TestKeysCommands(t *testing.T) {
	s := startAdmin(t, nil)
	out := s.ok("keys", "create", "--name", "ci", "--team", "team_a", "--models", "gpt-4o,claude", "--rpm", "60", "--tpm", "1000")
	first, _, _ := strings.Cut(out, "\n")
	secret := strings.TrimPrefix(first, "Secret: ")
	if !strings.HasPrefix(secret, auth.SecretPrefix) || !strings.Contains(out, "shown this once") {
		t.Fatalf("create output lacks the secret or the warning:\n%s", out)
	}
	k, err := s.st.KeyByHash(context.Background(), auth.HashSecret(secret))
	if err != nil {
		t.Fatalf("printed secret is not the stored key's: %v", err)
	}
	if len(k.AllowedModels) != 2 || k.RPM != 60 || k.TPM != 1000 || k.OrgID != "org_1" {
		t.Errorf("stored key = %+v", k)
	}

	list := s.ok("keys", "list")
	if got := cell(t, list, "TEAM", k.ID); got != "team_a" {
		t.Errorf("TEAM = %q in:\n%s", got, list)
	}
	if got := cell(t, list, "STATE", k.ID); got != "active" {
		t.Errorf("STATE = %q", got)
	}
	if got := cell(t, list, "LIMITS", k.ID); got != "60 rpm / 1000 tpm" {
		t.Errorf("LIMITS = %q", got)
	}
	if strings.Contains(list, secret) {
		t.Error("list prints the secret")
	}

	var keys []store.Key
	if err := json.Unmarshal([]byte(s.ok("keys", "list", "--json", "--team", "team_a")), &keys); err != nil || len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("keys list --json = %+v, %v", keys, err)
	}

	rotated := s.ok("keys", "rotate", k.ID, "--grace", "1h")
	if !strings.Contains(rotated, "Secret: "+auth.SecretPrefix) || !strings.Contains(rotated, "keeps working until") {
		t.Errorf("rotate output:\n%s", rotated)
	}
	old, _ := s.st.Key(context.Background(), k.ID)
	if old.GraceUntil == nil || old.RotatedTo == "" {
		t.Fatalf("old key after rotate = %+v", old)
	}
	if d := time.Until(*old.GraceUntil); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("grace ends in %s; want about 1h", d)
	}
	list = s.ok("keys", "list")
	if got := cell(t, list, "STATE", k.ID); !strings.HasPrefix(got, "grace until") {
		t.Errorf("old key STATE = %q; want grace until …", got)
	}

	var revoked store.Key
	if err := json.Unmarshal([]byte(s.ok("keys", "revoke", old.RotatedTo, "--json")), &revoked); err != nil || revoked.RevokedAt == nil {
		t.Fatalf("revoke --json = %+v, %v", revoked, err)
	}
	all := s.ok("keys", "list", "--all")
	if got := cell(t, all, "STATE", old.RotatedTo); got != "revoked" {
		t.Errorf("revoked key STATE = %q", got)
	}

	var created adminv1.KeySecret
	if err := json.Unmarshal([]byte(s.ok("keys", "create", "--name", "x", "--json")), &created); err != nil || created.Secret == "" {
		t.Fatalf("create --json = %+v, %v", created, err)
	}
}

func TestKeysAPIErrorsExitNonZero(t *testing.T) {
	s := startAdmin(t, nil)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown team", []string{"keys", "create", "--name", "x", "--team", "team_zzz"}, `team "team_zzz" does not exist`},
		{"unknown key", []string{"keys", "revoke", "key_zzz"}, "key key_zzz does not exist"},
		{"bad grace", []string{"keys", "rotate", "key_zzz", "--grace", "soon"}, "key key_zzz does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := s.run(c.args...)
			if code != 1 || !strings.Contains(errOut, c.want) || !strings.HasPrefix(errOut, "switchyard keys: ") {
				t.Errorf("exit %d stderr %q; want 1 and %q", code, errOut, c.want)
			}
		})
	}
}
