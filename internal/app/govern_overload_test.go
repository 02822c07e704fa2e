package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

// slowStore makes every usage and audit write take delay, so the writers
// sustain about batch_size records per delay.
type slowStore struct {
	store.Store
	delay time.Duration
}

func (s slowStore) InsertUsage(ctx context.Context, recs []store.UsageRecord) (int, error) {
	time.Sleep(s.delay)
	return s.Store.InsertUsage(ctx, recs)
}

func (s slowStore) AppendAudit(ctx context.Context, recs []store.AuditRecord, seal store.SealFunc) ([]store.AuditRecord, error) {
	time.Sleep(s.delay)
	return s.Store.AppendAudit(ctx, recs, seal)
}

// TestWritersUnderOverload drives real gateway traffic at several times
// what the usage and audit writers can store (4 records per 20ms, about
// 200/s): the queues overflow into their spill files, no request waits
// for the store, and after Close every served request has exactly one
// usage record and one audit record.
func TestWritersUnderOverload(t *testing.T) {
	restore := app.SetGovernStore(func(s store.Store) store.Store { return slowStore{Store: s, delay: 20 * time.Millisecond} })
	defer restore()
	dsn := storetest.SQLiteDSN(t)
	ids := seedStore(t, dsn, []seedKey{{secret: plainKey}})
	e := startGov(t, nil, govSetup{dsn: dsn, usage: "{queue_size: 16, batch_size: 4, flush_interval: 5ms}"})
	restore() // only this gateway's store is slow

	const n, workers = 400, 8
	served := make(chan string, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				status, hdr, body := e.do(http.MethodPost, "/v1/chat/completions", plainKey, govChat)
				if status != 200 {
					t.Errorf("status %d: %s", status, body)
					continue
				}
				served <- hdr.Get("X-Request-Id")
			}
		}()
	}
	wg.Wait()
	close(served)
	stats := app.GovernanceOf(e.gw).Stats()
	if stats.Usage.Spilled == 0 || stats.Audit.Spilled == 0 {
		t.Errorf("the writers never spilled, so this was no overload: %+v", stats)
	}
	e.close()

	st := openStore(t, dsn)
	ctx := context.Background()
	groups, err := st.SumUsage(ctx, store.UsageQuery{GroupBy: store.GroupByKey, KeyID: ids[plainKey], From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Requests != n || groups[0].CostMicroUSD != n*callCost {
		t.Errorf("usage after close: %+v; want %d requests", groups, n)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	perRequest := map[string]int{}
	for _, r := range recs {
		if r.Action == "chat.completion" {
			perRequest[r.ID]++
		}
	}
	for id := range served {
		if c := perRequest["call_"+id]; c != 1 {
			t.Errorf("request %s has %d audit records", id, c)
		}
	}
	if len(perRequest) != n {
		t.Errorf("%d audit records for %d requests", len(perRequest), n)
	}
}

// TestClientRequestIDCannotMergeRecords: usage and audit records are keyed
// by the request id, and both stores drop a record whose id they already
// hold (so that replays never double-count). A client that sends the same
// X-Request-Id on every call must still get one usage and one audit
// record per call, or it could erase its own trail.
func TestClientRequestIDCannotMergeRecords(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	ids := seedStore(t, dsn, []seedKey{{secret: plainKey}})
	e := startGov(t, nil, govSetup{dsn: dsn})
	const n = 3
	answered := map[string]bool{}
	for range n {
		status, hdr, body := e.do(http.MethodPost, "/v1/chat/completions", plainKey, govChat, "X-Request-Id", "same-every-time")
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		answered[hdr.Get("X-Request-Id")] = true
	}
	if len(answered) != n || answered["same-every-time"] {
		t.Errorf("response ids %v; want %d ids of the gateway's own", answered, n)
	}
	e.close()

	st := openStore(t, dsn)
	ctx := context.Background()
	groups, err := st.SumUsage(ctx, store.UsageQuery{GroupBy: store.GroupByKey, KeyID: ids[plainKey], From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Requests != n {
		t.Errorf("usage: %+v; want %d requests", groups, n)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, r := range recs {
		if r.Action == "chat.completion" {
			calls++
		}
	}
	if calls != n {
		t.Errorf("%d chat.completion audit records for %d calls", calls, n)
	}
	if !strings.Contains(e.logs.String(), `"client_request_id":"same-every-time"`) {
		t.Error("the client's id is on no log line")
	}
}

// TestAuditDigestIsOfTheBodySent: each front door's audit record carries
// the SHA-256 of the exact bytes the client sent, spacing and all, so
// that whoever holds a request can find and check its record.
func TestAuditDigestIsOfTheBodySent(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	seedStore(t, dsn, []seedKey{{secret: plainKey}})
	e := startGov(t, nil, govSetup{dsn: dsn})
	bodies := map[string]string{
		"/v1/chat/completions": `{ "model":"gpt-4o",  "messages":[{"role":"user","content":"digest me"}] }`,
		"/v1/messages":         `{"model":"gpt-4o","max_tokens":20,  "messages":[{"role":"user","content":"digest me too"}]}`,
	}
	want := map[string]bool{}
	for path, body := range bodies {
		if status, _, got := e.do(http.MethodPost, path, plainKey, body, "anthropic-version", "2023-06-01"); status != 200 {
			t.Fatalf("%s: status %d: %s", path, status, got)
		}
		sum := sha256.Sum256([]byte(body))
		want[hex.EncodeToString(sum[:])] = true
	}
	e.close()
	recs, err := openStore(t, dsn).AuditRecords(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range recs {
		if r.Action == "chat.completion" {
			got[r.RequestDigest] = true
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("digests %v; want %v (SHA-256 of each body as sent)", got, want)
	}
}
