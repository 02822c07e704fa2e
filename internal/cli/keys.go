package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/admin/client"
	"github.com/switchyard/switchyard/internal/store"
)

func init() {
	register("keys", "manage virtual keys: create, list, rotate, revoke", func(ctx context.Context, env *Env, args []string) error {
		return dispatch(ctx, env, "keys", map[string]verb{
			"create": {"create a key and print its secret once", keysCreate},
			"list":   {"list keys", keysList},
			"rotate": {"KEY: issue a new secret; the old one works for --grace", keysRotate},
			"revoke": {"KEY: stop a key at once", keysRevoke},
		}, args)
	})
}

func keysCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("keys create", env)
	af := addAdminFlags(fs)
	var in adminv1.KeyCreate
	fs.StringVar(&in.Name, "name", "", "key `name` (required)")
	fs.StringVar(&in.TeamID, "team", "", "team `id` the key belongs to")
	fs.StringVar(&in.OrgID, "org", "", "org `id` (default: the team's)")
	fs.StringVar(&in.UserID, "user", "", "user `id` who owns the key")
	models := fs.String("models", "", "comma-separated model `aliases` the key may use (default all)")
	regions := fs.String("regions", "", "comma-separated region `globs` requests may go to (default any)")
	providers := fs.String("providers", "", "comma-separated `providers` requests may go to (default any)")
	fs.IntVar(&in.RPM, "rpm", 0, "requests per minute `limit` (0 unlimited)")
	fs.IntVar(&in.TPM, "tpm", 0, "tokens per minute `limit` (0 unlimited)")
	fs.BoolVar(&in.RequireZDR, "zdr", false, "only route to zero-data-retention deployments")
	fs.BoolVar(&in.AllowRouteOverride, "allow-route-override", false, "let requests choose the routing strategy")
	expires := fs.String("expires", "", "expiry: RFC 3339 `time` or a duration from now (720h)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := exactly(pos); err != nil {
		return err
	}
	if in.Name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	in.AllowedModels, in.AllowedRegions, in.AllowedProviders = splitList(*models), splitList(*regions), splitList(*providers)
	if *expires != "" {
		at, err := parseExpiry(*expires, time.Now())
		if err != nil {
			return err
		}
		in.ExpiresAt = &at
	}
	c, err := af.client()
	if err != nil {
		return err
	}
	out, err := c.CreateKey(ctx, in)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, out)
	}
	return printSecret(env.Stdout, out)
}

func parseExpiry(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("%w: --expires %q: use an RFC 3339 time or a positive duration such as 720h", errUsage, v)
}

// printSecret shows a new secret with the one-time warning, then the key.
func printSecret(w io.Writer, out adminv1.KeySecret) error {
	fmt.Fprintf(w, "Secret: %s\n", out.Secret)
	fmt.Fprintln(w, "Store it now: it is shown this once and cannot be retrieved again.")
	if out.Previous != nil && out.Previous.GraceUntil != nil {
		fmt.Fprintf(w, "The old secret of %s keeps working until %s.\n", out.Previous.ID, stamp(*out.Previous.GraceUntil))
	}
	fmt.Fprintln(w)
	return keyTable(w, []store.Key{out.Key}, time.Now())
}

func keysList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("keys list", env)
	af := addAdminFlags(fs)
	var f client.KeyFilter
	fs.StringVar(&f.TeamID, "team", "", "only keys of team `id`")
	fs.StringVar(&f.OrgID, "org", "", "only keys of org `id`")
	fs.StringVar(&f.UserID, "user", "", "only keys of user `id`")
	fs.BoolVar(&f.IncludeRevoked, "all", false, "include revoked keys")
	_, c, err := af.connect(fs, args)
	if err != nil {
		return err
	}
	keys, err := c.ListKeys(ctx, f)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, keys)
	}
	return keyTable(env.Stdout, keys, time.Now())
}

// keyState summarises a key's life for tables.
func keyState(k store.Key, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.GraceUntil != nil && !now.Before(*k.GraceUntil):
		return "rotated"
	case k.GraceUntil != nil:
		return "grace until " + stamp(*k.GraceUntil)
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// limits shows a key's or team's rate limits, "-" when it has none.
func limits(rpm, tpm int) string {
	if rpm <= 0 && tpm <= 0 {
		return "-"
	}
	return strconv.Itoa(rpm) + " rpm / " + strconv.Itoa(tpm) + " tpm"
}

func keyTable(w io.Writer, keys []store.Key, now time.Time) error {
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, []string{k.ID, orDash(k.Name), k.Prefix + "…", orDash(k.TeamID), keyState(k, now), limits(k.RPM, k.TPM), stamp(k.CreatedAt)})
	}
	return table(w, []string{"ID", "NAME", "PREFIX", "TEAM", "STATE", "LIMITS", "CREATED"}, rows)
}

func keysRotate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("keys rotate", env)
	af := addAdminFlags(fs)
	grace := fs.String("grace", "", "how long the old secret keeps working, e.g. 1h or 0s (default 24h)")
	pos, c, err := af.connect(fs, args, "KEY")
	if err != nil {
		return err
	}
	out, err := c.RotateKey(ctx, pos[0], adminv1.KeyRotate{Grace: *grace})
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, out)
	}
	return printSecret(env.Stdout, out)
}

func keysRevoke(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("keys revoke", env)
	af := addAdminFlags(fs)
	pos, c, err := af.connect(fs, args, "KEY")
	if err != nil {
		return err
	}
	k, err := c.RevokeKey(ctx, pos[0])
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, k)
	}
	return keyTable(env.Stdout, []store.Key{k}, time.Now())
}
