package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

// randomID is how ids were made before they led with the time: uniformly
// random, so consecutive records land on unrelated pages of every unique
// index on them. Kept here to show what ordering buys.
func randomID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// idKinds are the id generators the write benchmarks compare.
var idKinds = []struct {
	name string
	id   func(prefix string) string
}{
	{"random-ids", randomID},
	{"time-ordered-ids", store.NewID},
}

// benchBatch is what the writers send at any load above 320 requests/s:
// they wake once 64 records wait (usage.kickRows).
const benchBatch = 64

// benchPrefill makes the unique indexes bigger than one batch's worth of
// pages, as they are on any gateway that has run for a while.
const benchPrefill = 50_000

func usageBatch(id func(string) string, n int) []store.UsageRecord {
	recs := make([]store.UsageRecord, n)
	now := time.Now()
	for i := range recs {
		recs[i] = store.UsageRecord{RequestID: id("req"), Time: now, KeyID: "key_bench", TeamID: "team_bench", OrgID: "org_bench",
			Alias: "gpt-4o", Deployment: "openai-us", Provider: "openai", Region: "us-east-1", ModelVersion: "2024-08-06",
			PromptTokens: 12, CompletionTokens: 40, CostMicroUSD: 430, Status: 200, LatencyMS: 3, Attempts: 1}
	}
	return recs
}

// benchWrites times writing batches of benchBatch records into a store
// that already holds benchPrefill, per engine and kind of id. ns/row is
// the gateway's cost per served request; on PostgreSQL the server's own
// CPU comes on top (bench/ measures both).
func benchWrites[T any](b *testing.B, batch func(id func(string) string, n int) []T, write func(context.Context, store.Store, []T) error) {
	for _, eng := range storetest.Engines() {
		for _, kind := range idKinds {
			b.Run(eng.Name+"/"+kind.name, func(b *testing.B) {
				benchWrite(b, storetest.Open(b, eng.NewDSN(b)), kind.id, batch, write)
			})
		}
	}
}

func benchWrite[T any](b *testing.B, st store.Store, id func(string) string, batch func(id func(string) string, n int) []T, write func(context.Context, store.Store, []T) error) {
	ctx := context.Background()
	for range benchPrefill / benchBatch {
		if err := write(ctx, st, batch(id, benchBatch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		recs := batch(id, benchBatch)
		b.StartTimer()
		if err := write(ctx, st, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/row")
}

// BenchmarkInsertUsage writes batches of usage records, as the usage
// writer does.
func BenchmarkInsertUsage(b *testing.B) {
	benchWrites(b, usageBatch, func(ctx context.Context, st store.Store, recs []store.UsageRecord) error {
		_, err := st.InsertUsage(ctx, recs)
		return err
	})
}

func auditBatch(id func(string) string, n int) []store.AuditRecord {
	recs := make([]store.AuditRecord, n)
	now := time.Now()
	for i := range recs {
		recs[i] = store.AuditRecord{ID: "call_" + id("req"), Time: now, ActorKind: store.ActorKey, ActorID: "key_bench",
			TeamID: "team_bench", OrgID: "org_bench", Action: "chat.completion", Resource: "gpt-4o", Outcome: "200 stop",
			Details:       []byte(`{"deployment":"openai-us","provider":"openai","region":"us-east-1","tokens":52,"cost_micro_usd":430}`),
			RequestDigest: "sha256:" + randomID("d")}
	}
	return recs
}

// BenchmarkAppendAudit appends batches of audit records, as the audit
// writer does.
func BenchmarkAppendAudit(b *testing.B) {
	benchWrites(b, auditBatch, func(ctx context.Context, st store.Store, recs []store.AuditRecord) error {
		_, err := st.AppendAudit(ctx, recs, storetest.Seal)
		return err
	})
}
