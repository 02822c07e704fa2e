package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// benchBatch is about what the usage writer gathers in one 200 ms flush at
// 2,000 requests/s.
const benchBatch = 400

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

// BenchmarkInsertUsage writes batches of usage records into SQLite, as
// the usage writer does. ns/row is the writer's cost per served request.
func BenchmarkInsertUsage(b *testing.B) {
	for _, kind := range idKinds {
		b.Run(kind.name, func(b *testing.B) {
			st := storetest.Open(b, storetest.SQLiteDSN(b))
			ctx := context.Background()
			for range benchPrefill / benchBatch {
				if _, err := st.InsertUsage(ctx, usageBatch(kind.id, benchBatch)); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				recs := usageBatch(kind.id, benchBatch)
				b.StartTimer()
				if _, err := st.InsertUsage(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/row")
		})
	}
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

// fakeSeal chains records with stand-in hashes: the benchmark measures the
// store, not SHA-256.
func fakeSeal(head store.ChainHead, recs []store.AuditRecord) error {
	prev := head.Hash
	for i := range recs {
		recs[i].Seq = head.Seq + int64(i) + 1
		recs[i].PrevHash = prev
		recs[i].Hash = fmt.Sprintf("h%d", recs[i].Seq)
		prev = recs[i].Hash
	}
	return nil
}

// BenchmarkAppendAudit appends batches of audit records into SQLite, as
// the audit writer does.
func BenchmarkAppendAudit(b *testing.B) {
	for _, kind := range idKinds {
		b.Run(kind.name, func(b *testing.B) {
			st := storetest.Open(b, storetest.SQLiteDSN(b))
			ctx := context.Background()
			for range benchPrefill / benchBatch {
				if _, err := st.AppendAudit(ctx, auditBatch(kind.id, benchBatch), fakeSeal); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				recs := auditBatch(kind.id, benchBatch)
				b.StartTimer()
				if _, err := st.AppendAudit(ctx, recs, fakeSeal); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/row")
		})
	}
}
