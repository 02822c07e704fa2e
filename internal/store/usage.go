package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

const usageColumns = `request_id, time, key_id, team_id, org_id, alias, deployment, provider, region, model_version,
	prompt_tokens, completion_tokens, cached_tokens, estimated, cost_micro_usd, status, latency_ms, attempts`

// InsertUsage implements UsageStore.
func (s *sqlStore) InsertUsage(ctx context.Context, recs []UsageRecord) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	args := make([]any, 0, len(recs)*s.usageRows.width)
	for i, r := range recs {
		if r.RequestID == "" {
			return 0, fmt.Errorf("usage record %d has no RequestID; every record needs one for idempotent writes", i)
		}
		args = append(args, r.RequestID, micros(r.Time), r.KeyID, r.TeamID, r.OrgID, r.Alias, r.Deployment,
			r.Provider, r.Region, r.ModelVersion, r.PromptTokens, r.CompletionTokens, r.CachedTokens,
			r.Estimated, r.CostMicroUSD, r.Status, r.LatencyMS, r.Attempts)
	}
	inserted, err := s.usageRows.insertAtomic(ctx, args)
	if err != nil {
		return 0, mapErr(err, "store: insert usage")
	}
	return int(inserted), nil
}

var usageGroupColumns = map[string]string{
	GroupByOrg:      "org_id",
	GroupByTeam:     "team_id",
	GroupByKey:      "key_id",
	GroupByModel:    "alias",
	GroupByProvider: "provider",
	GroupByRegion:   "region",
}

var scopeColumns = map[string]string{
	ScopeKey:  "key_id",
	ScopeTeam: "team_id",
	ScopeOrg:  "org_id",
}

// SumUsage implements UsageStore.
func (s *sqlStore) SumUsage(ctx context.Context, q UsageQuery) ([]UsageGroup, error) {
	col, ok := usageGroupColumns[q.GroupBy]
	if !ok {
		return nil, fmt.Errorf("store: sum usage: group by %q: use org, team, key, model, provider or region", q.GroupBy)
	}
	where, args := timeRange(q.From, q.To)
	for _, f := range []struct{ col, val string }{{"org_id", q.OrgID}, {"team_id", q.TeamID}, {"key_id", q.KeyID}} {
		if f.val != "" {
			where, args = append(where, f.col+" = ?"), append(args, f.val)
		}
	}
	query := `SELECT ` + col + `, COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),
		COALESCE(SUM(cached_tokens), 0), COALESCE(SUM(cost_micro_usd), 0) FROM usage_records`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " GROUP BY " + col + " ORDER BY 6 DESC, 1"
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, mapErr(err, "store: sum usage")
	}
	defer rows.Close()
	var out []UsageGroup
	for rows.Next() {
		var g UsageGroup
		if err := rows.Scan(&g.Group, &g.Requests, &g.PromptTokens, &g.CompletionTokens, &g.CachedTokens, &g.CostMicroUSD); err != nil {
			return nil, mapErr(err, "store: sum usage")
		}
		out = append(out, g)
	}
	return out, mapErr(rows.Err(), "store: sum usage")
}

// Spend implements UsageStore.
func (s *sqlStore) Spend(ctx context.Context, scope, scopeID string, from, to time.Time) (int64, error) {
	col, ok := scopeColumns[scope]
	if !ok {
		return 0, fmt.Errorf("store: spend: scope %q must be key, team or org", scope)
	}
	where, args := timeRange(from, to)
	where, args = append(where, col+" = ?"), append(args, scopeID)
	var total int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(cost_micro_usd), 0) FROM usage_records WHERE `+
		strings.Join(where, " AND ")), args...).Scan(&total)
	return total, mapErr(err, "store: spend")
}

func timeRange(from, to time.Time) ([]string, []any) {
	var where []string
	var args []any
	if !from.IsZero() {
		where, args = append(where, "time >= ?"), append(args, micros(from))
	}
	if !to.IsZero() {
		where, args = append(where, "time < ?"), append(args, micros(to))
	}
	return where, args
}
