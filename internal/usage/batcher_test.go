package usage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type rec struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

// memSink counts how often each ID was written; it can be slow or down.
type memSink struct {
	mu    sync.Mutex
	seen  map[string]int
	delay time.Duration
	down  atomic.Bool
}

var errDown = errors.New("database is down")

func (m *memSink) write(_ context.Context, batch []rec) error {
	if m.delay > 0 {
		time.Sleep(m.delay) // the "slow store": fixed latency per batch
	}
	if m.down.Load() {
		return errDown
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]int{}
	}
	for _, r := range batch {
		m.seen[r.ID]++
	}
	return nil
}

func (m *memSink) check(t *testing.T, n int) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range n {
		if c := m.seen[fmt.Sprint(i)]; c != 1 {
			t.Fatalf("record %d written %d times; want exactly once", i, c)
		}
	}
	if len(m.seen) != n {
		t.Fatalf("sink holds %d distinct records; want %d", len(m.seen), n)
	}
}

func opts(t *testing.T) Options {
	return Options{Name: "test", SpillPath: filepath.Join(t.TempDir(), "spill.jsonl"), Logger: quiet,
		QueueSize: 200, BatchSize: 50, FlushInterval: 5 * time.Millisecond, ReplayInterval: 10 * time.Millisecond}
}

func checkStats(t *testing.T, st Stats, n int) {
	t.Helper()
	if st.Enqueued != int64(n) || st.Written+st.Replayed != int64(n) {
		t.Fatalf("stats %+v: want Enqueued=%d and Written+Replayed=%d", st, n, n)
	}
}

// TestOverloadLosesNothing drives a slow sink at about 4x the rate it can
// sustain: the queue overflows into the spill file, and after Close every
// record has been written exactly once.
func TestOverloadLosesNothing(t *testing.T) {
	const n = 8000
	// Sustainable: 50 records per 2ms batch = 25k/s; the producer below
	// offers ~100k/s (one 1ms pause every 100 records).
	sink := &memSink{delay: 2 * time.Millisecond}
	b, err := NewBatcher(sink.write, opts(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := b.Enqueue(rec{ID: fmt.Sprint(i), N: i}); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	sink.check(t, n)
	st := b.Stats()
	checkStats(t, st, n)
	if st.Spilled == 0 || st.Replayed == 0 {
		t.Fatalf("overload never reached the spill file: %+v", st)
	}
}

// TestOverloadIntoRealStore repeats the overload against SQLite and
// PostgreSQL through NewUsageWriter, with latency added per batch.
func TestOverloadIntoRealStore(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			const n = 3000
			st := storetest.Open(t, e.NewDSN(t))
			o := opts(t)
			w, err := NewUsageWriter(slowUsage{UsageStore: st, delay: 3 * time.Millisecond}, o)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range n {
				if err := w.Enqueue(store.UsageRecord{RequestID: fmt.Sprintf("req-%d", i), Time: t0, KeyID: "k", CostMicroUSD: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkStats(t, w.Stats(), n)
			groups, err := st.SumUsage(context.Background(), store.UsageQuery{GroupBy: store.GroupByKey})
			if err != nil {
				t.Fatal(err)
			}
			if len(groups) != 1 || groups[0].Requests != n || groups[0].CostMicroUSD != n {
				t.Fatalf("store holds %+v; want %d requests", groups, n)
			}
			if w.Stats().Spilled == 0 {
				t.Fatalf("overload never spilled: %+v", w.Stats())
			}
		})
	}
}

type slowUsage struct {
	store.UsageStore
	delay time.Duration
}

func (s slowUsage) InsertUsage(ctx context.Context, recs []store.UsageRecord) (int, error) {
	time.Sleep(s.delay)
	return s.UsageStore.InsertUsage(ctx, recs)
}

func TestOutageSpillsThenRecovers(t *testing.T) {
	const n = 500
	sink := &memSink{}
	sink.down.Store(true)
	o := opts(t)
	o.Attempts = 1
	b, err := NewBatcher(sink.write, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := b.Enqueue(rec{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(context.Background()); !errors.Is(err, errDown) {
		t.Fatalf("Flush during outage = %v; want the store error", err)
	}
	if st := b.Stats(); st.Spilled != n || st.Failed == 0 {
		t.Fatalf("during outage: %+v; want every record spilled and failures counted", st)
	}
	sink.down.Store(false)
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close after recovery: %v", err)
	}
	sink.check(t, n)
	checkStats(t, b.Stats(), n)
}

func TestSpillSurvivesRestart(t *testing.T) {
	const n = 120
	o := opts(t)
	o.Attempts = 1
	broken := &memSink{}
	broken.down.Store(true)
	b, err := NewBatcher(broken.write, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := b.Enqueue(rec{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	err = b.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), o.SpillPath) || !strings.Contains(err.Error(), fmt.Sprint(n)) {
		t.Fatalf("Close with a dead store = %v; want an error naming the spill file and %d records", err, n)
	}
	if err := b.Enqueue(rec{ID: "late"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Enqueue after Close = %v; want ErrClosed", err)
	}
	// Next process start on the same path replays what was left.
	good := &memSink{}
	b2, err := NewBatcher(good.write, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	good.check(t, n)
	if b2.Stats().Replayed != n {
		t.Fatalf("restart replayed %d; want %d", b2.Stats().Replayed, n)
	}
}

func TestTornSpillLineIsQuarantined(t *testing.T) {
	o := opts(t)
	body := `{"id":"0"}` + "\n" + `{"id":"1"}` + "\n" + `{"id":"2` // crash mid-write
	if err := os.WriteFile(o.SpillPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	b, err := NewBatcher(sink.write, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, 2)
	got, err := os.ReadFile(o.SpillPath + ".corrupt")
	if err != nil || string(got) != `{"id":"2`+"\n" {
		t.Fatalf("corrupt file = %q, %v; want the torn line kept for inspection", got, err)
	}
}

func TestOptionsValidation(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"no spill path", Options{}, false},
		{"defaults", Options{SpillPath: filepath.Join(t.TempDir(), "s")}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := NewBatcher((&memSink{}).write, c.o)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v; want ok=%v", err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "SpillPath is required") {
				t.Fatalf("error %q does not say what to set", err)
			}
			if b != nil {
				b.Close(context.Background())
			}
		})
	}
}

// batchSink reports the size of each batch it is given.
type batchSink chan int

func (s batchSink) write(_ context.Context, batch []rec) error {
	s <- len(batch)
	return nil
}

// TestWhenTheWriterWrites checks what wakes the writer: kickRows queued
// records (not the whole BatchSize, so that one write stays a short burst
// of CPU), a Flush, and its tick only once Phase has passed.
func TestWhenTheWriterWrites(t *testing.T) {
	const never = time.Hour
	cases := []struct {
		name     string
		o        Options
		enqueue  int
		flush    bool
		want     int           // size of the first batch written
		quietFor time.Duration // nothing may be written this long before flush
	}{
		{"kickRows records wake it", Options{BatchSize: 500, FlushInterval: never}, kickRows, false, kickRows, 0},
		{"a smaller BatchSize wakes it sooner", Options{BatchSize: 10, FlushInterval: never}, 10, false, 10, 0},
		{"its tick waits for the phase", Options{FlushInterval: time.Millisecond, Phase: never}, 1, true, 1, 50 * time.Millisecond},
		{"it ticks after a short phase", Options{FlushInterval: time.Millisecond, Phase: time.Millisecond}, 1, false, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sink := make(batchSink, 100)
			c.o.Name, c.o.SpillPath, c.o.Logger = "test", filepath.Join(t.TempDir(), "spill.jsonl"), quiet
			b, err := NewBatcher(sink.write, c.o)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close(context.Background())
			for i := range c.enqueue {
				if err := b.Enqueue(rec{ID: fmt.Sprint(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if c.quietFor > 0 {
				select {
				case n := <-sink:
					t.Fatalf("a batch of %d was written before the phase ended", n)
				case <-time.After(c.quietFor):
				}
			}
			if c.flush {
				if err := b.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case n := <-sink:
				if n != c.want {
					t.Fatalf("first batch has %d records; want %d", n, c.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("nothing was written")
			}
		})
	}
}

func BenchmarkEnqueue(b *testing.B) {
	sink := &memSink{}
	o := Options{SpillPath: filepath.Join(b.TempDir(), "s"), Logger: quiet}
	bt, err := NewBatcher(sink.write, o)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = bt.Enqueue(rec{ID: "x"})
		}
	})
	b.StopTimer()
	bt.Close(context.Background())
}
