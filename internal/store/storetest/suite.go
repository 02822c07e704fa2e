package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// Factory returns a fresh, empty Store for one test; it arranges Close.
type Factory func(t *testing.T) store.Store

// Run runs the conformance suite against the engine behind newStore.
func Run(t *testing.T, newStore Factory) {
	t.Run("Keys", func(t *testing.T) { testKeys(t, newStore(t)) })
	t.Run("KeyRotation", func(t *testing.T) { testRotation(t, newStore(t)) })
	t.Run("Directory", func(t *testing.T) { testDirectory(t, newStore(t)) })
	t.Run("Budgets", func(t *testing.T) { testBudgets(t, newStore(t)) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, newStore(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStore(t)) })
	t.Run("BatchSizes", func(t *testing.T) { testBatchSizes(t, newStore(t)) })
	t.Run("Approvals", func(t *testing.T) { testApprovals(t, newStore(t)) })
	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// result carries a (value, error) pair so one line can both call and check.
type result[T any] struct {
	v   T
	err error
}

func ok[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v; want %v", err, target)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := store.Now().Add(time.Hour)
	k := ok(s.CreateKey(ctx, store.Key{
		Name: "ci", Prefix: "sk-sy-AbCdEf", Hash: "h1", OrgID: "o1", TeamID: "t1", UserID: "u1",
		AllowedModels: []string{"gpt-4o", "claude"}, AllowedRegions: []string{"eu-*"}, AllowedProviders: []string{"azure"},
		RequireZDR: true, AllowRouteOverride: true, Metadata: map[string]string{"env": "prod"}, RPM: 60, TPM: 1000,
		ExpiresAt: &exp,
	})).get(t)
	if k.ID == "" || k.CreatedAt.IsZero() || k.UpdatedAt.IsZero() {
		t.Fatalf("CreateKey did not fill ID/CreatedAt/UpdatedAt: %+v", k)
	}
	if got := ok(s.Key(ctx, k.ID)).get(t); !reflect.DeepEqual(got, k) {
		t.Fatalf("Key round trip:\n got %+v\nwant %+v", got, k)
	}
	if got := ok(s.KeyByHash(ctx, "h1")).get(t); got.ID != k.ID {
		t.Fatalf("KeyByHash = %s; want %s", got.ID, k.ID)
	}
	other := ok(s.CreateKey(ctx, store.Key{Name: "other", Prefix: "sk-sy-x", Hash: "h2", OrgID: "o1", TeamID: "t2"})).get(t)

	errCases := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate hash", second(s.CreateKey(ctx, store.Key{Hash: "h1"})), store.ErrConflict},
		{"duplicate id", second(s.CreateKey(ctx, store.Key{ID: k.ID, Hash: "h9"})), store.ErrConflict},
		{"unknown id", second(s.Key(ctx, "nope")), store.ErrNotFound},
		{"unknown hash", second(s.KeyByHash(ctx, "nope")), store.ErrNotFound},
		{"revoke unknown", second(s.RevokeKey(ctx, "nope", time.Time{})), store.ErrNotFound},
		{"update unknown", second(s.UpdateKey(ctx, store.Key{ID: "nope"})), store.ErrNotFound},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, c.err, c.want) })
	}

	since := store.Now()
	k.RPM, k.AllowedModels, k.Metadata = 120, []string{"*"}, nil
	upd := ok(s.UpdateKey(ctx, k)).get(t)
	if upd.RPM != 120 || !reflect.DeepEqual(upd.AllowedModels, []string{"*"}) || upd.Metadata != nil {
		t.Fatalf("UpdateKey did not apply: %+v", upd)
	}
	revAt := store.Now()
	ok(s.RevokeKey(ctx, other.ID, revAt)).get(t)
	again := ok(s.RevokeKey(ctx, other.ID, revAt.Add(time.Hour))).get(t)
	if again.RevokedAt == nil || !again.RevokedAt.Equal(revAt) {
		t.Fatalf("second RevokeKey moved RevokedAt to %v; want the first time %v", again.RevokedAt, revAt)
	}

	lists := []struct {
		name string
		f    store.KeyFilter
		want []string
	}{
		{"active only", store.KeyFilter{}, []string{k.ID}},
		{"with revoked", store.KeyFilter{IncludeRevoked: true}, []string{other.ID, k.ID}},
		{"by team", store.KeyFilter{TeamID: "t2", IncludeRevoked: true}, []string{other.ID}},
		{"by user", store.KeyFilter{UserID: "u1"}, []string{k.ID}},
		{"limit", store.KeyFilter{IncludeRevoked: true, Limit: 1}, []string{other.ID}},
		{"no match", store.KeyFilter{OrgID: "zz"}, nil},
	}
	for _, c := range lists {
		t.Run("List/"+c.name, func(t *testing.T) {
			var ids []string
			for _, k := range ok(s.ListKeys(ctx, c.f)).get(t) {
				ids = append(ids, k.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Fatalf("ListKeys(%+v) = %v; want %v", c.f, ids, c.want)
			}
		})
	}

	changed := ok(s.KeysChangedSince(ctx, since)).get(t)
	if len(changed) != 2 {
		t.Fatalf("KeysChangedSince returned %d keys; want the updated and the revoked one", len(changed))
	}
	for _, c := range changed {
		if c.ID == other.ID && c.RevokedAt == nil {
			t.Fatalf("change feed lost the revocation: %+v", c)
		}
	}
	if n := len(ok(s.KeysChangedSince(ctx, time.Time{})).get(t)); n != 2 {
		t.Fatalf("KeysChangedSince(zero) = %d keys; want all 2", n)
	}
}

func second[T any](_ T, err error) error { return err }

func testRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := ok(s.CreateKey(ctx, store.Key{Name: "svc", Prefix: "sk-sy-old", Hash: "old", TeamID: "t1"})).get(t)
	grace := store.Now().Add(time.Hour)
	succ := ok(s.RotateKey(ctx, old.ID, store.Key{Name: "svc", Prefix: "sk-sy-new", Hash: "new", TeamID: "t1"}, grace)).get(t)
	gotOld := ok(s.Key(ctx, old.ID)).get(t)
	if gotOld.RotatedTo != succ.ID || gotOld.GraceUntil == nil || !gotOld.GraceUntil.Equal(grace) {
		t.Fatalf("old key after rotation: RotatedTo=%q GraceUntil=%v; want %q, %v", gotOld.RotatedTo, gotOld.GraceUntil, succ.ID, grace)
	}
	if got := ok(s.KeyByHash(ctx, "new")).get(t); got.ID != succ.ID {
		t.Fatalf("successor not stored: %+v", got)
	}
	revoked := ok(s.CreateKey(ctx, store.Key{Prefix: "p", Hash: "rev"})).get(t)
	ok(s.RevokeKey(ctx, revoked.ID, time.Time{})).get(t)
	cases := []struct {
		name string
		id   string
		hash string
		want error
	}{
		{"already rotated", old.ID, "n2", store.ErrConflict},
		{"revoked", revoked.ID, "n3", store.ErrConflict},
		{"unknown", "nope", "n4", store.ErrNotFound},
		{"successor hash taken", succ.ID, "old", store.ErrConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.RotateKey(ctx, c.id, store.Key{Prefix: "p", Hash: c.hash}, grace)
			wantErr(t, err, c.want)
		})
	}
	if got := ok(s.Key(ctx, succ.ID)).get(t); got.RotatedTo != "" {
		t.Fatalf("failed rotation left a half-written successor link: %+v", got)
	}
}

func testDirectory(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := ok(s.CreateOrg(ctx, store.Org{Name: "Acme"})).get(t)
	if got := ok(s.Org(ctx, org.ID)).get(t); !reflect.DeepEqual(got, org) {
		t.Fatalf("Org round trip: got %+v want %+v", got, org)
	}
	team := ok(s.CreateTeam(ctx, store.Team{OrgID: org.ID, Name: "ml", AllowedModels: []string{"gpt-4o"}, AllowedRegions: []string{"eu-*"}, RPM: 60})).get(t)
	if got := ok(s.Team(ctx, team.ID)).get(t); !reflect.DeepEqual(got, team) {
		t.Fatalf("Team round trip: got %+v want %+v", got, team)
	}
	team.AllowedProviders, team.RPM, team.TPM = []string{"azure"}, 0, 90_000
	if got := ok(s.UpdateTeam(ctx, team)).get(t); !reflect.DeepEqual(got, team) {
		t.Fatalf("UpdateTeam: got %+v want %+v", got, team)
	}
	u := ok(s.CreateUser(ctx, store.User{OrgID: org.ID, Email: "Ada@Example.com", Role: "admin"})).get(t)
	if got := ok(s.UserByEmail(ctx, org.ID, "ada@example.COM")).get(t); got.ID != u.ID {
		t.Fatalf("UserByEmail = %+v; want %s", got, u.ID)
	}
	if n := len(ok(s.ListOrgs(ctx)).get(t)); n != 1 {
		t.Fatalf("ListOrgs = %d; want 1", n)
	}
	if n := len(ok(s.ListTeams(ctx, org.ID)).get(t)); n != 1 {
		t.Fatalf("ListTeams = %d; want 1", n)
	}
	if n := len(ok(s.ListUsers(ctx, "other-org")).get(t)); n != 0 {
		t.Fatalf("ListUsers(other) = %d; want 0", n)
	}
	errCases := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate email", second(s.CreateUser(ctx, store.User{OrgID: org.ID, Email: "ada@example.com"})), store.ErrConflict},
		{"duplicate org", second(s.CreateOrg(ctx, store.Org{ID: org.ID})), store.ErrConflict},
		{"missing org", second(s.Org(ctx, "x")), store.ErrNotFound},
		{"missing team", second(s.Team(ctx, "x")), store.ErrNotFound},
		{"update missing team", second(s.UpdateTeam(ctx, store.Team{ID: "x"})), store.ErrNotFound},
		{"missing user", second(s.User(ctx, "x")), store.ErrNotFound},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, c.err, c.want) })
	}
}

func testBudgets(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := store.Now()
	end := start.Add(24 * time.Hour)
	valid := []store.Budget{
		{Scope: store.ScopeTeam, ScopeID: "t1", Period: store.PeriodMonth, LimitMicroUSD: 5_000_000, Mode: store.ModeHard},
		{Scope: store.ScopeKey, ScopeID: "k1", Period: store.PeriodWindow, WindowStart: &start, WindowEnd: &end, LimitMicroUSD: 1, Mode: store.ModeSoft, AlertWebhook: "https://hooks.example/x"},
	}
	for _, b := range valid {
		got := ok(s.CreateBudget(ctx, b)).get(t)
		if back := ok(s.Budget(ctx, got.ID)).get(t); !reflect.DeepEqual(back, got) {
			t.Fatalf("Budget round trip: got %+v want %+v", back, got)
		}
	}
	invalid := []struct {
		name string
		b    store.Budget
	}{
		{"bad scope", store.Budget{Scope: "user", Period: store.PeriodDay, Mode: store.ModeSoft}},
		{"bad period", store.Budget{Scope: store.ScopeOrg, Period: "week", Mode: store.ModeSoft}},
		{"window without bounds", store.Budget{Scope: store.ScopeOrg, Period: store.PeriodWindow, Mode: store.ModeSoft}},
		{"bad mode", store.Budget{Scope: store.ScopeOrg, Period: store.PeriodDay, Mode: "strict"}},
		{"negative", store.Budget{Scope: store.ScopeOrg, Period: store.PeriodDay, Mode: store.ModeSoft, LimitMicroUSD: -1}},
	}
	for _, c := range invalid {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.CreateBudget(ctx, c.b); err == nil {
				t.Fatalf("CreateBudget(%+v) succeeded; want a validation error", c.b)
			}
		})
	}
	got := ok(s.ListBudgets(ctx, store.BudgetFilter{Scope: store.ScopeTeam})).get(t)
	if len(got) != 1 || got[0].ScopeID != "t1" {
		t.Fatalf("ListBudgets(team) = %+v", got)
	}
	if err := s.DeleteBudget(ctx, got[0].ID); err != nil {
		t.Fatalf("DeleteBudget: %v", err)
	}
	wantErr(t, s.DeleteBudget(ctx, got[0].ID), store.ErrNotFound)
}

func testUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := func(id string, at time.Duration, key, team, alias, prov, region string, cost int64) store.UsageRecord {
		return store.UsageRecord{RequestID: id, Time: t0.Add(at), KeyID: key, TeamID: team, OrgID: "o1", Alias: alias,
			Provider: prov, Region: region, PromptTokens: 10, CompletionTokens: 5, CachedTokens: 1, CostMicroUSD: cost, Status: 200, Attempts: 1}
	}
	recs := []store.UsageRecord{
		rec("r1", 0, "k1", "t1", "gpt-4o", "azure", "westeurope", 100),
		rec("r2", time.Minute, "k1", "t1", "claude", "bedrock", "eu-west-1", 300),
		rec("r3", time.Hour, "k2", "t2", "gpt-4o", "openai", "us", 50),
		rec("r4", 48*time.Hour, "k2", "t2", "gpt-4o", "openai", "us", 7),
	}
	if n := ok(s.InsertUsage(ctx, recs)).get(t); n != 4 {
		t.Fatalf("InsertUsage = %d; want 4", n)
	}
	if n := ok(s.InsertUsage(ctx, recs[:2])).get(t); n != 0 {
		t.Fatalf("re-inserting the same RequestIDs added %d rows; want 0", n)
	}
	if _, err := s.InsertUsage(ctx, []store.UsageRecord{{}}); err == nil {
		t.Fatal("InsertUsage accepted a record without RequestID")
	}
	day := store.UsageQuery{From: t0, To: t0.Add(24 * time.Hour)}
	cases := []struct {
		name string
		q    store.UsageQuery
		want []store.UsageGroup
	}{
		{"by key", with(day, store.GroupByKey), []store.UsageGroup{grp("k1", 2, 400), grp("k2", 1, 50)}},
		{"by model", with(day, store.GroupByModel), []store.UsageGroup{grp("claude", 1, 300), grp("gpt-4o", 2, 150)}},
		{"by provider", with(day, store.GroupByProvider), []store.UsageGroup{grp("bedrock", 1, 300), grp("azure", 1, 100), grp("openai", 1, 50)}},
		{"by region", with(day, store.GroupByRegion), []store.UsageGroup{grp("eu-west-1", 1, 300), grp("westeurope", 1, 100), grp("us", 1, 50)}},
		{"by org all time", store.UsageQuery{GroupBy: store.GroupByOrg}, []store.UsageGroup{grp("o1", 4, 457)}},
		{"by team filtered", store.UsageQuery{GroupBy: store.GroupByTeam, TeamID: "t2"}, []store.UsageGroup{grp("t2", 2, 57)}},
		{"half-open range", store.UsageQuery{GroupBy: store.GroupByKey, From: t0, To: t0.Add(time.Minute)}, []store.UsageGroup{grp("k1", 1, 100)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ok(s.SumUsage(ctx, c.q)).get(t); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("SumUsage(%+v):\n got %+v\nwant %+v", c.q, got, c.want)
			}
		})
	}
	if _, err := s.SumUsage(ctx, store.UsageQuery{GroupBy: "colour"}); err == nil {
		t.Fatal("SumUsage accepted an unknown GroupBy")
	}
	spends := []struct {
		scope, id string
		want      int64
	}{{store.ScopeKey, "k1", 400}, {store.ScopeTeam, "t2", 50}, {store.ScopeOrg, "o1", 450}, {store.ScopeKey, "none", 0}}
	for _, c := range spends {
		if got := ok(s.Spend(ctx, c.scope, c.id, day.From, day.To)).get(t); got != c.want {
			t.Errorf("Spend(%s %s) = %d; want %d", c.scope, c.id, got, c.want)
		}
	}
}

// testBatchSizes writes batches of many sizes (SQLite cuts them into
// statements of a few fixed sizes, PostgreSQL sends each as one statement
// of arrays) and checks every row landed once.
func testBatchSizes(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	written, seq := 0, int64(0)
	for _, n := range []int{1, 4, 5, 6, 19, 20, 26, 99, 100, 127, 263} {
		batch := make([]store.UsageRecord, 0, n+1)
		audit := make([]store.AuditRecord, 0, n)
		for i := range n {
			id := fmt.Sprintf("b%d-%d", n, i)
			batch = append(batch, store.UsageRecord{RequestID: id, Time: t0, KeyID: "kb", OrgID: "ob", CostMicroUSD: int64(i + 1), Status: 200})
			audit = append(audit, store.AuditRecord{ID: id, Time: t0, ActorKind: store.ActorKey, ActorID: "kb", Action: "chat.completion", Details: json.RawMessage(`{}`)})
		}
		if written > 0 {
			batch = append(batch, store.UsageRecord{RequestID: "b1-0", Time: t0, KeyID: "kb", OrgID: "ob", Status: 200}) // already stored
		}
		if n > 1 {
			batch = append(batch, batch[n/2]) // twice in one batch, as a replayed spill can hold it
		}
		if got := ok(s.InsertUsage(ctx, batch)).get(t); got != n {
			t.Fatalf("InsertUsage of %d new rows (+%d known) = %d", n, len(batch)-n, got)
		}
		written += n
		sealed := ok(s.AppendAudit(ctx, audit, Seal)).get(t)
		if len(sealed) != n || sealed[n-1].Seq != seq+int64(n) {
			t.Fatalf("AppendAudit of %d records sealed %d, last seq %d; want %d", n, len(sealed), sealed[len(sealed)-1].Seq, seq+int64(n))
		}
		seq += int64(n)
	}
	groups := ok(s.SumUsage(ctx, store.UsageQuery{GroupBy: store.GroupByKey})).get(t)
	if len(groups) != 1 || groups[0].Requests != int64(written) {
		t.Fatalf("usage groups %+v; want %d requests for kb", groups, written)
	}
	if all := ok(s.AuditRecords(ctx, store.AuditFilter{})).get(t); len(all) != int(seq) || all[len(all)-1].Seq != seq {
		t.Fatalf("%d audit records; want %d in order", len(all), seq)
	}
}

// grp builds the expected group for n records of 10 prompt, 5 completion
// and 1 cached token each.
func grp(name string, n, cost int64) store.UsageGroup {
	return store.UsageGroup{Group: name, Requests: n, PromptTokens: 10 * n, CompletionTokens: 5 * n, CachedTokens: n, CostMicroUSD: cost}
}

func with(q store.UsageQuery, group string) store.UsageQuery { q.GroupBy = group; return q }
