package govern

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/store"
)

// UsageQueue takes usage records without waiting for the store, e.g. a
// *usage.Batcher[store.UsageRecord] from usage.NewUsageWriter.
type UsageQueue interface {
	Enqueue(rec store.UsageRecord) error
}

// UsageRecorder is the accounting stage that writes one usage record per
// call (refused calls included, at zero tokens) through a bounded queue
// that spills to disk instead of blocking.
type UsageRecorder struct {
	q      UsageQueue
	prices *Prices
	tok    *Tokenizer
	log    *slog.Logger
}

// NewUsageRecorder returns the stage.
func NewUsageRecorder(q UsageQueue, p *Prices, tok *Tokenizer, log *slog.Logger) *UsageRecorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &UsageRecorder{q: q, prices: p, tok: tok, log: log}
}

// Name implements gateway.Stage.
func (*UsageRecorder) Name() string { return "usage" }

// After enqueues the call's usage record.
func (s *UsageRecorder) After(_ context.Context, c *gateway.Call) {
	if err := s.q.Enqueue(UsageRecord(c, s.prices, s.tok)); err != nil {
		s.log.Error("govern: usage record lost", "request", c.Info.ID, "err", err)
	}
}

// UsageRecord describes a finished call as the store keeps it.
func UsageRecord(c *gateway.Call, p *Prices, tok *Tokenizer) store.UsageRecord {
	u := UsageOf(c, tok)
	rec := store.UsageRecord{
		RequestID: requestID(c), Time: store.Truncate(c.Start), Alias: c.Alias,
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, CachedTokens: u.CachedTokens(),
		Estimated: u.Estimated, CostMicroUSD: p.Cost(c, tok), Status: c.Status(),
		LatencyMS: time.Since(c.Start).Milliseconds(), Attempts: c.Attempts,
	}
	if caller := c.Info.Caller; caller != nil {
		rec.KeyID, rec.TeamID, rec.OrgID = caller.KeyID, caller.TeamID, caller.OrgID
	}
	if d := c.Deployment; d != nil {
		rec.Deployment, rec.Provider, rec.Region, rec.ModelVersion = d.Name, d.Provider, d.Region, d.ModelVersion
	}
	return rec
}

// requestID is the call's request id, made up once when a caller of the
// gateway supplied none, so records stay unique.
func requestID(c *gateway.Call) string {
	if c.Info.ID == "" {
		c.Info.ID = store.NewID("req")
	}
	return c.Info.ID
}
