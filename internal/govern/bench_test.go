package govern

import (
	"testing"

	"github.com/switchyard/switchyard/internal/budget"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/ratelimit"
	"github.com/switchyard/switchyard/internal/store"
)

// BenchmarkStages measures what the governance stages add to one call
// through the gateway (memory counters, records handed to a queue): the
// difference between "bare" and "governed".
func BenchmarkStages(b *testing.B) {
	be := &backend{text: "hi", usage: llm.Usage{PromptTokens: 20, CompletionTokens: 5, TotalTokens: 25}}
	caller := &gateway.Caller{KeyID: "k1", TeamID: "t1", OrgID: "o1", RPM: 1 << 30, TPM: 1 << 30}
	src := budget.StaticSource{{ID: "b", Scope: budget.Scope{Kind: budget.ScopeTeam, ID: "t1"}, Period: budget.PeriodMonth, Limit: 1 << 60, Mode: budget.ModeHard}}
	mgr, _ := budget.NewManager(budget.Options{Source: src, Store: budget.NewMemoryStore()})
	defer mgr.Close()
	tok, prices, q := NewTokenizer(nil), testPrices(b), &discard{}
	setups := []struct {
		name   string
		stages []gateway.Stage
	}{
		{"bare", nil},
		{"governed", []gateway.Stage{
			NewRateLimit(ratelimit.NewMemory(ratelimit.MemoryOptions{}), nil, tok, nil),
			NewMeter(tok), NewBudget(mgr, prices, tok, nil),
			NewUsageRecorder(q, prices, tok, nil), NewAuditRecorder(q, prices, tok, AuditRecorderOptions{}),
		}},
	}
	for _, s := range setups {
		b.Run(s.name, func(b *testing.B) {
			gw := newGateway(b, be, s.stages...)
			ctx := as(caller, "req_bench")
			req := chatReq("What is the capital of France?", 100)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := gw.Chat(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEstimate is the price of counting a usage-less stream's tokens.
func BenchmarkEstimate(b *testing.B) {
	tok := NewTokenizer(nil)
	tok.Warm()
	text := "The quick brown fox jumps over the lazy dog. "
	for range 5 {
		text += text
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Count(text)
	}
}

type discard struct{}

func (discard) Enqueue(store.UsageRecord) error { return nil }
func (discard) Append(store.AuditRecord) error  { return nil }
