package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// Seal links records with a toy hash; the real one lives in package
// audit. The suite only checks that the store hands seal the right head,
// and benchmarks measure the store, not SHA-256.
func Seal(head store.ChainHead, recs []store.AuditRecord) error {
	prev := head.Hash
	for i := range recs {
		recs[i].Seq = head.Seq + int64(i) + 1
		recs[i].PrevHash = prev
		recs[i].Hash = fmt.Sprintf("h%d", recs[i].Seq)
		prev = recs[i].Hash
	}
	return nil
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	if h := ok(s.AuditHead(ctx)).get(t); h != (store.ChainHead{}) {
		t.Fatalf("empty chain head = %+v; want zero", h)
	}
	t0 := store.Now()
	mk := func(id, team string) store.AuditRecord {
		return store.AuditRecord{ID: id, Time: t0, ActorKind: store.ActorKey, ActorID: "k1", TeamID: team,
			Action: "chat.completion", Details: json.RawMessage(`{"b":1,"a":[2]}`)}
	}
	got := ok(s.AppendAudit(ctx, []store.AuditRecord{mk("a1", "t1"), mk("a2", "t2"), mk("a2", "t2")}, Seal)).get(t)
	if len(got) != 2 || got[1].Seq != 2 || got[1].PrevHash != "h1" {
		t.Fatalf("AppendAudit = %+v; want 2 sealed records (duplicate ID in batch dropped)", got)
	}
	got = ok(s.AppendAudit(ctx, []store.AuditRecord{mk("a2", "t2"), mk("a3", "t1")}, Seal)).get(t)
	if len(got) != 1 || got[0].ID != "a3" || got[0].Seq != 3 || got[0].PrevHash != "h2" {
		t.Fatalf("replayed append = %+v; want only a3 at seq 3", got)
	}
	if h := ok(s.AuditHead(ctx)).get(t); h != (store.ChainHead{Seq: 3, Hash: "h3"}) {
		t.Fatalf("head = %+v; want {3 h3}", h)
	}
	all := ok(s.AuditRecords(ctx, store.AuditFilter{})).get(t)
	if len(all) != 3 || string(all[0].Details) != `{"b":1,"a":[2]}` || !all[0].Time.Equal(t0) {
		t.Fatalf("AuditRecords did not round-trip verbatim: %+v", all)
	}
	filters := []struct {
		name string
		f    store.AuditFilter
		want int
	}{
		{"from seq", store.AuditFilter{FromSeq: 2}, 2},
		{"team", store.AuditFilter{TeamID: "t1"}, 2},
		{"limit", store.AuditFilter{Limit: 1}, 1},
		{"before", store.AuditFilter{To: t0}, 0},
	}
	for _, c := range filters {
		t.Run(c.name, func(t *testing.T) {
			if n := len(ok(s.AuditRecords(ctx, c.f)).get(t)); n != c.want {
				t.Fatalf("AuditRecords(%+v) = %d records; want %d", c.f, n, c.want)
			}
		})
	}

	cp := store.AuditCheckpoint{Seq: 2, Hash: "h2", Signature: []byte{1, 2, 3}, PublicKeyID: "k", Time: t0}
	if err := s.InsertCheckpoint(ctx, cp); err != nil {
		t.Fatalf("InsertCheckpoint: %v", err)
	}
	wantErr(t, s.InsertCheckpoint(ctx, cp), store.ErrConflict)
	if cps := ok(s.Checkpoints(ctx)).get(t); len(cps) != 1 || !reflect.DeepEqual(cps[0], cp) {
		t.Fatalf("Checkpoints = %+v; want [%+v]", cps, cp)
	}
	if n := ok(s.PurgeAudit(ctx, 2)).get(t); n != 1 {
		t.Fatalf("PurgeAudit removed %d; want 1", n)
	}
	if all := ok(s.AuditRecords(ctx, store.AuditFilter{})).get(t); len(all) != 2 || all[0].Seq != 2 {
		t.Fatalf("after purge: %+v", all)
	}

	// Concurrent appenders (think: replicas) must still form one gapless chain.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if _, err := s.AppendAudit(ctx, []store.AuditRecord{mk(fmt.Sprintf("c%d-%d", w, i), "t1")}, Seal); err != nil {
					t.Errorf("concurrent AppendAudit: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	recs := ok(s.AuditRecords(ctx, store.AuditFilter{FromSeq: 3})).get(t)
	for i, r := range recs {
		if r.Seq != int64(3+i) || r.PrevHash != fmt.Sprintf("h%d", r.Seq-1) {
			t.Fatalf("concurrent appends broke the chain at %d: %+v", i, r)
		}
	}
	if len(recs) != 21 {
		t.Fatalf("got %d records from seq 3; want 21", len(recs))
	}
}

func testApprovals(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := store.Now()
	mk := func(exp time.Duration) store.Approval {
		return ok(s.CreateApproval(ctx, store.Approval{KeyID: "k1", TeamID: "t1", Tool: "delete_repo",
			ArgumentsRedacted: `{"repo":"x"}`, Digest: "d", PolicyVersion: "v1", Reason: "destructive",
			ExpiresAt: now.Add(exp), Payload: json.RawMessage(`{"answer":42}`)})).get(t)
	}
	a := mk(time.Hour)
	if a.Status != store.ApprovalPending {
		t.Fatalf("new approval status = %q; want pending", a.Status)
	}
	if got := ok(s.Approval(ctx, a.ID)).get(t); !reflect.DeepEqual(got, a) {
		t.Fatalf("Approval round trip:\n got %+v\nwant %+v", got, a)
	}
	expired := mk(-time.Minute)
	approve := store.Decision{Status: store.ApprovalApproved, By: "ada", Comment: "ok", At: now}
	deny := store.Decision{Status: store.ApprovalDenied, By: "bob", At: now}
	steps := []struct {
		name   string
		id     string
		d      store.Decision
		want   error
		status string
	}{
		{"approve pending", a.ID, approve, nil, store.ApprovalApproved},
		{"same decision again is a no-op", a.ID, approve, nil, store.ApprovalApproved},
		{"different decision conflicts", a.ID, deny, store.ErrConflict, store.ApprovalApproved},
		{"expired cannot be decided", expired.ID, approve, store.ErrConflict, store.ApprovalPending},
		{"bad status", a.ID, store.Decision{Status: "maybe"}, store.ErrConflict, ""},
		{"unknown", "nope", approve, store.ErrNotFound, ""},
	}
	for _, c := range steps {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.DecideApproval(ctx, c.id, c.d)
			if c.want == nil && err != nil {
				t.Fatalf("DecideApproval: %v", err)
			}
			if c.want != nil {
				wantErr(t, err, c.want)
			}
			if c.status != "" && got.Status != c.status {
				t.Fatalf("status = %q; want %q", got.Status, c.status)
			}
		})
	}
	if got := ok(s.Approval(ctx, a.ID)).get(t); got.DecidedBy != "ada" || got.DecidedAt == nil {
		t.Fatalf("decision not recorded: %+v", got)
	}
	if n := ok(s.ExpireApprovals(ctx, now)).get(t); n != 1 {
		t.Fatalf("ExpireApprovals = %d; want 1", n)
	}
	if l := ok(s.ListApprovals(ctx, store.ApprovalFilter{Status: store.ApprovalExpired})).get(t); len(l) != 1 || l[0].ID != expired.ID {
		t.Fatalf("ListApprovals(expired) = %+v", l)
	}
}
