package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

func init() {
	register("teams", "manage teams: create, update, list", func(ctx context.Context, env *Env, args []string) error {
		return dispatch(ctx, env, "teams", map[string]verb{
			"create": {"create a team in an org", teamsCreate},
			"update": {"change a team's name or rate limits", teamsUpdate},
			"list":   {"list teams", teamsList},
		}, args)
	})
}

func teamsCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("teams create", env)
	af := addAdminFlags(fs)
	var in adminv1.TeamCreate
	fs.StringVar(&in.OrgID, "org", "", "org `id` (required)")
	fs.StringVar(&in.Name, "name", "", "team `name` (required)")
	fs.StringVar(&in.ID, "id", "", "team `id` (default generated)")
	models := fs.String("models", "", "comma-separated model `aliases` the team may use (default all)")
	regions := fs.String("regions", "", "comma-separated region `globs` (default any)")
	providers := fs.String("providers", "", "comma-separated `providers` (default any)")
	fs.IntVar(&in.RPM, "rpm", 0, "requests per minute `limit` shared by the team's keys (0 unlimited)")
	fs.IntVar(&in.TPM, "tpm", 0, "tokens per minute `limit` shared by the team's keys (0 unlimited)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := exactly(pos); err != nil {
		return err
	}
	if in.OrgID == "" || in.Name == "" {
		return fmt.Errorf("%w: --org and --name are required", errUsage)
	}
	in.AllowedModels, in.AllowedRegions, in.AllowedProviders = splitList(*models), splitList(*regions), splitList(*providers)
	c, err := af.client()
	if err != nil {
		return err
	}
	t, err := c.CreateTeam(ctx, in)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, t)
	}
	return teamTable(env.Stdout, []store.Team{t})
}

func teamsUpdate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("teams update ID", env)
	af := addAdminFlags(fs)
	name := fs.String("name", "", "new team `name`")
	rpm := fs.Int("rpm", -1, "requests per minute `limit` shared by the team's keys (0 unlimited)")
	tpm := fs.Int("tpm", -1, "tokens per minute `limit` shared by the team's keys (0 unlimited)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: teams update takes one team id", errUsage)
	}
	var in adminv1.TeamUpdate
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			in.Name = name
		case "rpm":
			in.RPM = rpm
		case "tpm":
			in.TPM = tpm
		}
	})
	if in == (adminv1.TeamUpdate{}) {
		return fmt.Errorf("%w: say what to change: --name, --rpm or --tpm", errUsage)
	}
	c, err := af.client()
	if err != nil {
		return err
	}
	t, err := c.UpdateTeam(ctx, pos[0], in)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, t)
	}
	return teamTable(env.Stdout, []store.Team{t})
}

func teamsList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("teams list", env)
	af := addAdminFlags(fs)
	org := fs.String("org", "", "only teams of org `id`")
	_, c, err := af.connect(fs, args)
	if err != nil {
		return err
	}
	teams, err := c.ListTeams(ctx, *org)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, teams)
	}
	return teamTable(env.Stdout, teams)
}

func joinOrAll(list []string) string {
	if len(list) == 0 {
		return "all"
	}
	return strings.Join(list, ",")
}

func teamTable(w io.Writer, teams []store.Team) error {
	rows := make([][]string, 0, len(teams))
	for _, t := range teams {
		rows = append(rows, []string{t.ID, t.Name, t.OrgID, joinOrAll(t.AllowedModels), joinOrAll(t.AllowedRegions),
			joinOrAll(t.AllowedProviders), limits(t.RPM, t.TPM), stamp(t.CreatedAt)})
	}
	return table(w, []string{"ID", "NAME", "ORG", "MODELS", "REGIONS", "PROVIDERS", "LIMITS", "CREATED"}, rows)
}
