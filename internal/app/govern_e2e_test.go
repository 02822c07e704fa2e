package app_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/audit"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

func chatParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:     "gpt-4o",
		MaxTokens: openai.Int(50),
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")},
	}
}

// TestGovernanceThroughGateway drives rate limits, a hard budget, usage
// records and the audit chain through the OpenAI SDK on one gateway
// (SQLite, in-memory counters).
func TestGovernanceThroughGateway(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	ids := seedStore(t, dsn, []seedKey{{secret: rlKey, rpm: 3}, {secret: budgetKey}, {secret: plainKey}})
	// A key budget with room for three calls' reservations (each ~525
	// micro-USD held, 225 spent) but not a fourth.
	seedBudget(t, dsn, store.Budget{ID: "bud_key_daily", Scope: store.ScopeKey, ScopeID: ids[budgetKey], Period: store.PeriodDay, LimitMicroUSD: 1000, Mode: store.ModeHard})
	e := startGov(t, nil, govSetup{dsn: dsn})
	ctx := context.Background()

	t.Run("rate limit headers and 429", func(t *testing.T) {
		c := e.client(rlKey)
		for i := range 3 {
			var raw *http.Response
			if _, err := c.Chat.Completions.New(ctx, chatParams(), option.WithResponseInto(&raw)); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if raw.Header.Get("X-Ratelimit-Limit-Requests") != "3" || raw.Header.Get("X-Ratelimit-Remaining-Requests") != string(rune('2'-i)) || raw.Header.Get("X-Ratelimit-Reset-Requests") == "" {
				t.Errorf("call %d headers: %v", i, raw.Header)
			}
		}
		var raw *http.Response
		_, err := c.Chat.Completions.New(ctx, chatParams(), option.WithResponseInto(&raw))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" {
			t.Fatalf("fourth call: %v", err)
		}
		if raw.Header.Get("Retry-After") == "" || raw.Header.Get("X-Ratelimit-Remaining-Requests") != "0" {
			t.Errorf("429 headers %v", raw.Header)
		}
		if !strings.Contains(apiErr.Message, "try again in") {
			t.Errorf("message %q", apiErr.Message)
		}
	})

	t.Run("hard budget", func(t *testing.T) {
		c := e.client(budgetKey)
		for i := range 3 {
			if _, err := c.Chat.Completions.New(ctx, chatParams()); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		_, err := c.Chat.Completions.New(ctx, chatParams())
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "budget_exceeded" {
			t.Fatalf("fourth call: %v", err)
		}
		if !strings.Contains(apiErr.Message, "bud_key_daily") || !strings.Contains(apiErr.Message, "raise the budget") {
			t.Errorf("message %q does not name the budget and the way out", apiErr.Message)
		}
	})

	t.Run("stream without usage is estimated", func(t *testing.T) {
		e.fleet.Clouds["openai"].Engine.SetFaults(&sim.Faults{TruncateAfter: 2})
		defer e.fleet.Clouds["openai"].Engine.SetFaults(&sim.Faults{})
		c := e.client(plainKey)
		before := app.GovernanceOf(e.gw).Stats()
		s := c.Chat.Completions.NewStreaming(ctx, chatParams())
		for s.Next() {
		}
		s.Close()
		if s.Err() == nil {
			t.Fatal("a cut stream ended normally")
		}
		// The SDK stops at the error event; the gateway records the
		// stream when its handler closes it, a moment later.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			now := app.GovernanceOf(e.gw).Stats()
			if now.Usage.Enqueued > before.Usage.Enqueued && now.Audit.Enqueued > before.Audit.Enqueued {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	gov := app.GovernanceOf(e.gw)
	if err := gov.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dsn)
	t.Run("usage rows", func(t *testing.T) {
		groups, err := st.SumUsage(ctx, store.UsageQuery{GroupBy: store.GroupByKey, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]store.UsageGroup{}
		for _, g := range groups {
			got[g.Group] = g
		}
		for _, want := range []struct {
			key                    string
			requests, prompt, comp int64
			cost                   int64
		}{
			{ids[rlKey], 4, 30, 60, 3 * callCost},     // the refused call used nothing
			{ids[budgetKey], 4, 30, 60, 3 * callCost}, // likewise
		} {
			g := got[want.key]
			if g.Requests != want.requests || g.PromptTokens != want.prompt || g.CompletionTokens != want.comp || g.CostMicroUSD != want.cost {
				t.Errorf("key %s: %+v, want %+v", want.key, g, want)
			}
		}
		spent, _ := st.Spend(ctx, store.ScopeKey, ids[budgetKey], time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if spent != 3*callCost {
			t.Errorf("budget key spent %d", spent)
		}
		db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite://"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var estimated, completion int
		if err := db.QueryRow(`SELECT estimated, completion_tokens FROM usage_records WHERE key_id = ?`, ids[plainKey]).Scan(&estimated, &completion); err != nil {
			t.Fatal(err)
		}
		if estimated != 1 || completion < 1 {
			t.Errorf("cut stream: estimated=%d completion_tokens=%d", estimated, completion)
		}
	})
	t.Run("audit chain", func(t *testing.T) {
		recs, err := st.AuditRecords(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		for _, r := range recs {
			if r.Action == "chat.completion" {
				calls++
				if r.RequestDigest == "" || r.ActorKind != store.ActorKey || !json.Valid(r.Details) {
					t.Errorf("record %+v", r)
				}
			}
		}
		if calls != 9 { // 4 rate-limited, 4 budgeted, 1 stream
			t.Errorf("%d call records, want 9", calls)
		}
		rep, err := audit.Verify(ctx, st, e.pubKey(t))
		if err != nil || !rep.OK() {
			t.Errorf("verify: %+v %v", rep, err)
		}
	})
	if !strings.Contains(e.logs.String(), "public_key_id") {
		t.Error("the audit key id is not logged at start")
	}
}

func seedBudget(t *testing.T, dsn string, b store.Budget) {
	t.Helper()
	st := openStore(t, dsn)
	if _, err := st.CreateBudget(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	st.Close()
}

func (e *govEnv) pubKey(t *testing.T) ed25519.PublicKey {
	if e.pub == nil {
		t.Fatal("no public key: the test set its own key file")
	}
	return e.pub
}
