package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/admin/client"
)

func init() {
	register("usage", "report usage and cost, grouped by org, team, key, model, provider or region", runUsage)
}

func runUsage(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("usage", env)
	af := addAdminFlags(fs)
	from := fs.String("from", "", "start: RFC 3339 `time`, date, or duration ago (default: start of this month)")
	to := fs.String("to", "", "end: RFC 3339 `time`, date, or duration ago (default: now)")
	var q client.UsageQuery
	fs.StringVar(&q.GroupBy, "group-by", "", "`dimension`: org, team, key, model, provider or region (default team)")
	fs.StringVar(&q.TeamID, "team", "", "only team `id`")
	fs.StringVar(&q.OrgID, "org", "", "only org `id`")
	fs.StringVar(&q.KeyID, "key", "", "only key `id`")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := exactly(pos); err != nil {
		return err
	}
	now := time.Now()
	if q.From, err = parseWhen("from", *from, now); err != nil {
		return err
	}
	if q.To, err = parseWhen("to", *to, now); err != nil {
		return err
	}
	c, err := af.client()
	if err != nil {
		return err
	}
	rep, err := c.Usage(ctx, q)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, rep)
	}
	fmt.Fprintf(env.Stdout, "Usage from %s to %s by %s\n\n", stamp(rep.From), stamp(rep.To), rep.GroupBy)
	var rows [][]string
	var total int64
	for _, g := range rep.Data {
		total += g.CostMicroUSD
		rows = append(rows, []string{orDash(g.Group), strconv.FormatInt(g.Requests, 10), strconv.FormatInt(g.PromptTokens, 10),
			strconv.FormatInt(g.CompletionTokens, 10), strconv.FormatInt(g.CachedTokens, 10), usd(g.CostMicroUSD)})
	}
	rows = append(rows, []string{"TOTAL", "", "", "", "", usd(total)})
	return table(env.Stdout, []string{upper(rep.GroupBy), "REQUESTS", "PROMPT", "COMPLETION", "CACHED", "COST"}, rows)
}

func upper(s string) string {
	if s == "" {
		return "GROUP"
	}
	return strings.ToUpper(s)
}
