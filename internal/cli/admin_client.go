package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/internal/admin/client"
)

// Environment variables the admin commands read their defaults from.
const (
	envAdminURL   = "SWITCHYARD_URL"
	envAdminToken = "SWITCHYARD_ADMIN_TOKEN"
	defaultURL    = "http://127.0.0.1:8080"
)

// adminFlags are the flags every admin command shares.
type adminFlags struct {
	url   string
	token string
	json  bool
}

func addAdminFlags(fs *flag.FlagSet) *adminFlags {
	a := &adminFlags{}
	url := os.Getenv(envAdminURL)
	if url == "" {
		url = defaultURL
	}
	fs.StringVar(&a.url, "url", url, "gateway `URL` (default from "+envAdminURL+")")
	fs.StringVar(&a.token, "token", os.Getenv(envAdminToken), "admin `token`: the bootstrap token or an SSO token (default from "+envAdminToken+")")
	fs.BoolVar(&a.json, "json", false, "print JSON instead of a table")
	return a
}

func (a *adminFlags) client() (*client.Client, error) {
	if a.token == "" {
		return nil, fmt.Errorf("no admin token: pass --token or set %s", envAdminToken)
	}
	return client.New(a.url, a.token), nil
}

// verb is one action of a noun command ("keys create").
type verb struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// dispatch runs the verb named by args[0].
func dispatch(ctx context.Context, env *Env, noun string, verbs map[string]verb, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printVerbs(env.Stderr, noun, verbs)
		if len(args) == 0 {
			return fmt.Errorf("%w: switchyard %s needs a subcommand", errUsage, noun)
		}
		return flag.ErrHelp
	}
	v, ok := verbs[args[0]]
	if !ok {
		printVerbs(env.Stderr, noun, verbs)
		return fmt.Errorf("%w: unknown subcommand %q", errUsage, args[0])
	}
	return v.run(ctx, env, args[1:])
}

func printVerbs(w io.Writer, noun string, verbs map[string]verb) {
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "Usage: switchyard %s <subcommand> [flags]\n\nSubcommands:\n", noun)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, verbs[n].summary)
	}
}

// parseArgs parses flags that may come before or after positional
// arguments ("keys rotate KEY --grace 1h") and returns the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// exactly checks the number of positional arguments.
// connect parses the command line, checks its positional arguments
// against names, and returns them with a client of the admin API.
func (a *adminFlags) connect(fs *flag.FlagSet, args []string, names ...string) ([]string, *client.Client, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if err := exactly(pos, names...); err != nil {
		return nil, nil, err
	}
	c, err := a.client()
	if err != nil {
		return nil, nil, err
	}
	return pos, c, nil
}

func exactly(pos []string, names ...string) error {
	if len(pos) != len(names) {
		return fmt.Errorf("%w: want %s, got %d argument(s)", errUsage, strings.Join(names, " "), len(pos))
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints aligned columns with a header row.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// stamp formats a time for tables; "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// splitList reads a comma-separated flag; empty means none.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseWhen reads a time flag: RFC 3339, a date, or a duration ago
// ("24h" means 24 hours before now).
func parseWhen(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%w: --%s %q: use RFC 3339 (2025-01-31T00:00:00Z), a date (2025-01-31) or a duration ago (24h)", errUsage, name, v)
}

// usd formats micro-USD as dollars.
func usd(micro int64) string {
	sign := ""
	if micro < 0 {
		sign, micro = "-", -micro
	}
	return fmt.Sprintf("%s$%d.%06d", sign, micro/1_000_000, micro%1_000_000)
}
