package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/store"
)

func TestTeamsCommands(t *testing.T) {
	s := startAdmin(t, nil)
	out := s.ok("teams", "create", "--org", "org_1", "--name", "Beta", "--id", "team_b", "--regions", "eu-*")
	if got := cell(t, out, "REGIONS", "team_b"); got != "eu-*" {
		t.Errorf("REGIONS = %q in:\n%s", got, out)
	}
	list := s.ok("teams", "list", "--org", "org_1")
	for id, name := range map[string]string{"team_a": "Alpha", "team_b": "Beta"} {
		if got := cell(t, list, "NAME", id); got != name {
			t.Errorf("%s NAME = %q in:\n%s", id, got, list)
		}
	}
	if got := cell(t, list, "MODELS", "team_b"); got != "all" {
		t.Errorf("team_b MODELS = %q; want all", got)
	}
	var teams []store.Team
	if err := json.Unmarshal([]byte(s.ok("teams", "list", "--json")), &teams); err != nil || len(teams) != 2 {
		t.Fatalf("teams list --json = %+v, %v", teams, err)
	}
	code, _, errOut := s.run("teams", "create", "--org", "org_zzz", "--name", "x")
	if code != 1 || !strings.Contains(errOut, `org "org_zzz" does not exist`) {
		t.Errorf("exit %d stderr %q", code, errOut)
	}

	out = s.ok("teams", "create", "--org", "org_1", "--name", "Gamma", "--id", "team_c", "--rpm", "60")
	if got := cell(t, out, "LIMITS", "team_c"); got != "60 rpm / 0 tpm" {
		t.Errorf("LIMITS after create = %q in:\n%s", got, out)
	}
	out = s.ok("teams", "update", "team_c", "--tpm", "9000")
	if got := cell(t, out, "LIMITS", "team_c"); got != "60 rpm / 9000 tpm" {
		t.Errorf("LIMITS after update = %q; want rpm kept, tpm set, in:\n%s", got, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"teams", "update", "team_c", "--rpm", "-3"}, "rpm must be 0 (unlimited) or more"},
		{[]string{"teams", "update", "team_c"}, "say what to change"},
		{[]string{"teams", "update", "--rpm", "5"}, "one team id"},
	} {
		code, _, errOut := s.run(tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d stderr %q; want it to say %q", tc.args, code, errOut, tc.want)
		}
	}
}
