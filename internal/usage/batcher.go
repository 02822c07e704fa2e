package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Enqueue after Close has begun.
var ErrClosed = errors.New("usage: batcher closed")

// Sink writes one batch, ideally in one transaction. It must be
// idempotent per record (a unique ID with insert-or-ignore): after a
// crash, spilled records may be replayed a second time. It must not keep
// batch once it returns: the writer reuses the slice for the next batch.
type Sink[T any] func(ctx context.Context, batch []T) error

// Options tune a Batcher. Zero values take the documented defaults.
type Options struct {
	// Name labels log lines, e.g. "usage" or "audit". Default "batcher".
	Name string `yaml:"name"`
	// QueueSize bounds the in-memory queue. Default 10000.
	QueueSize int `yaml:"queue_size"`
	// BatchSize is the most records one Sink call gets. Default 500.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval writes a partial batch after this long. Default 200ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Phase delays the writer's first tick. Writers that share a store
	// are given different phases, so that their flushes take turns on
	// the CPU instead of landing together. Default 0.
	Phase time.Duration `yaml:"-"`
	// SpillPath is the append-only JSON Lines file records go to when the
	// queue is full or the store keeps failing. Required: without it a
	// full queue would have to drop records.
	SpillPath string `yaml:"spill_path"`
	// ReplayInterval is how often the spill file is fed back to the Sink
	// while the queue has room. Default 1s.
	ReplayInterval time.Duration `yaml:"replay_interval"`
	// WriteTimeout bounds one Sink call. Default 10s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// Attempts is how many times a batch is tried before it is spilled.
	// Default 3.
	Attempts int `yaml:"attempts"`
	// Logger receives spill and failure notices; or nil for slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

func (o Options) withDefaults() (Options, error) {
	if o.SpillPath == "" {
		return o, errors.New("usage: Options.SpillPath is required so a full queue spills to disk instead of dropping records")
	}
	if o.Name == "" {
		o.Name = "batcher"
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 10_000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	o.FlushInterval = o.Interval()
	if o.ReplayInterval <= 0 {
		o.ReplayInterval = time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Stats are monotonic counters. After a successful Close,
// Enqueued == Written + Replayed.
type Stats struct {
	// Enqueued counts records accepted by Enqueue (queued or spilled).
	Enqueued int64
	// Written counts records the Sink stored straight from the queue.
	Written int64
	// Spilled counts records sent to the spill file (queue full or a
	// batch that kept failing).
	Spilled int64
	// Replayed counts records the Sink stored from the spill file.
	Replayed int64
	// Failed counts records in failed Sink calls (each retry counts) plus
	// records that could not even be spilled.
	Failed int64
}

// Batcher moves records from the request path to a Sink in batches,
// never blocking Enqueue on the Sink.
type Batcher[T any] struct {
	sink  Sink[T]
	opts  Options
	queue chan T
	spill *spillFile[T]
	// kick wakes the writer once the queue holds kickAt records. The
	// writer otherwise sleeps until its tick: receiving each record as it
	// came would wake it (and often an idle thread) twice per request.
	// kickAt is at most kickRows, so that one write stays short.
	kick   chan struct{}
	kickAt int

	closeMu sync.RWMutex // Enqueue holds R while sending; Close holds W
	closed  bool         // guarded by closeMu

	flushReq chan chan struct{}
	stop     chan struct{}
	done     sync.WaitGroup
	replayMu sync.Mutex // one replay at a time

	enqueued, written, spilled, replayed, failed atomic.Int64
	spilling                                     atomic.Bool
}

// DefaultFlushInterval is how long a record waits at most before the
// writer takes it to the store, when Options.FlushInterval is unset.
const DefaultFlushInterval = 200 * time.Millisecond

// Interval is how often the writer flushes: FlushInterval, or
// DefaultFlushInterval when that is unset.
func (o Options) Interval() time.Duration {
	if o.FlushInterval > 0 {
		return o.FlushInterval
	}
	return DefaultFlushInterval
}

// kickRows is how many queued records wake the writer before its tick.
// A write is a burst of CPU (on SQLite about 12 µs a row plus 200 µs a
// transaction), and requests served during a burst of several
// milliseconds wait for it: at 500 requests/s, more than half of the
// slowest 1.5% of requests fell within 20 ms after a 100-row flush (see
// docs/benchmarks.md). Flushing at 64 rows keeps a burst near a
// millisecond at any load, at the cost of more transactions only above 64
// records per interval.
const kickRows = 64

// NewBatcher starts a batcher writing to sink. Records left in the spill
// file by an earlier process are replayed in the background.
func NewBatcher[T any](sink Sink[T], opts Options) (*Batcher[T], error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Batcher[T]{
		sink:     sink,
		opts:     opts,
		queue:    make(chan T, opts.QueueSize),
		spill:    &spillFile[T]{path: opts.SpillPath},
		kick:     make(chan struct{}, 1),
		kickAt:   max(1, min(kickRows, opts.BatchSize, opts.QueueSize/2)),
		flushReq: make(chan chan struct{}),
		stop:     make(chan struct{}),
	}
	b.done.Add(2)
	go b.writeLoop()
	go b.replayLoop()
	return b, nil
}

// Enqueue hands rec to the batcher without waiting for the store. When
// the queue is full rec is appended to the spill file instead. It fails
// only after Close or when even the spill file cannot be written.
func (b *Batcher[T]) Enqueue(rec T) error {
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	b.enqueued.Add(1)
	select {
	case b.queue <- rec:
		if len(b.queue) >= b.kickAt {
			select {
			case b.kick <- struct{}{}:
			default: // a kick is already pending
			}
		}
		return nil
	default:
	}
	if !b.spilling.Swap(true) {
		b.opts.Logger.Warn(b.opts.Name+": queue full, spilling records to disk", "path", b.opts.SpillPath, "queue_size", b.opts.QueueSize)
	}
	if err := b.spill.append([]T{rec}); err != nil {
		b.enqueued.Add(-1)
		b.failed.Add(1)
		b.opts.Logger.Error(b.opts.Name+": cannot spill record; it is lost", "path", b.opts.SpillPath, "err", err)
		return fmt.Errorf("%s: queue full and spill failed: %w", b.opts.Name, err)
	}
	b.spilled.Add(1)
	return nil
}

// Stats returns a snapshot of the counters.
func (b *Batcher[T]) Stats() Stats {
	return Stats{
		Enqueued: b.enqueued.Load(), Written: b.written.Load(), Spilled: b.spilled.Load(),
		Replayed: b.replayed.Load(), Failed: b.failed.Load(),
	}
}

// Flush writes everything queued so far, then replays the spill file.
func (b *Batcher[T]) Flush(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case b.flushReq <- reply:
	case <-b.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.replay(ctx)
}

// Close stops accepting records, writes the queue and replays the spill
// file. If the store still fails, the records stay in the spill file
// (replayed by the next NewBatcher on the same path) and the error says so.
func (b *Batcher[T]) Close(ctx context.Context) error {
	b.closeMu.Lock()
	if b.closed {
		b.closeMu.Unlock()
		return nil
	}
	b.closed = true
	b.closeMu.Unlock()
	close(b.stop)
	b.done.Wait()
	defer b.spill.close()
	if err := b.replay(ctx); err != nil {
		return fmt.Errorf("%s: close: %d record(s) remain in %s for the next start: %w", b.opts.Name, b.spill.pending(), b.opts.SpillPath, err)
	}
	return nil
}

func (b *Batcher[T]) writeLoop() {
	defer b.done.Done()
	tick := time.NewTimer(b.opts.Phase + b.opts.FlushInterval)
	defer tick.Stop()
	// One slice serves every batch: a fresh one per write cost BatchSize
	// records' worth of garbage each time, mostly unused since writes
	// come at kickAt records.
	batch := make([]T, 0, b.opts.BatchSize)
	write := func() {
		b.writeBatch(batch)
		clear(batch) // drop the records' strings for the collector
		batch = batch[:0]
	}
	// drain writes everything queued, in batches of at most BatchSize.
	drain := func() {
		for {
			select {
			case rec := <-b.queue:
				if batch = append(batch, rec); len(batch) == b.opts.BatchSize {
					write()
				}
			default:
				if len(batch) > 0 {
					write()
				}
				return
			}
		}
	}
	for {
		select {
		case <-b.kick:
			drain()
		case <-tick.C:
			drain()
			tick.Reset(b.opts.FlushInterval)
		case reply := <-b.flushReq:
			drain()
			close(reply)
		case <-b.stop:
			// Enqueue can no longer send (closed is set under the lock),
			// so one drain empties the queue for good.
			drain()
			return
		}
	}
}

// writeBatch tries the sink a few times and spills the batch if it keeps
// failing, so a store outage costs disk space, not records.
func (b *Batcher[T]) writeBatch(batch []T) {
	var err error
	for attempt := range b.opts.Attempts {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.WriteTimeout)
		err = b.sink(ctx, batch)
		cancel()
		if err == nil {
			b.written.Add(int64(len(batch)))
			return
		}
		b.failed.Add(int64(len(batch)))
	}
	b.opts.Logger.Warn(b.opts.Name+": batch write failed; spilling it for replay", "records", len(batch), "err", err)
	if serr := b.spill.append(batch); serr != nil {
		b.enqueued.Add(-int64(len(batch)))
		b.opts.Logger.Error(b.opts.Name+": cannot spill failed batch; records lost", "records", len(batch), "err", serr)
		return
	}
	b.spilled.Add(int64(len(batch)))
}

func (b *Batcher[T]) replayLoop() {
	defer b.done.Done()
	tick := time.NewTicker(b.opts.ReplayInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
			// Catch up only while the live queue has headroom; replaying
			// into a saturated store would just spill again.
			if len(b.queue) < cap(b.queue)/2 {
				ctx, cancel := context.WithTimeout(context.Background(), b.opts.WriteTimeout)
				if err := b.replay(ctx); err != nil {
					b.opts.Logger.Warn(b.opts.Name+": spill replay failed; will retry", "err", err)
				}
				cancel()
			}
		}
	}
}

// replay feeds the spill file to the sink in batches.
func (b *Batcher[T]) replay(ctx context.Context) error {
	b.replayMu.Lock()
	defer b.replayMu.Unlock()
	for {
		n, err := b.spill.replay(ctx, b.opts.BatchSize, func(ctx context.Context, batch []T) error {
			wctx, cancel := context.WithTimeout(ctx, b.opts.WriteTimeout)
			defer cancel()
			if err := b.sink(wctx, batch); err != nil {
				b.failed.Add(int64(len(batch)))
				return err
			}
			b.replayed.Add(int64(len(batch)))
			return nil
		})
		if err != nil {
			return err
		}
		if n == 0 {
			if b.spilling.Swap(false) {
				b.opts.Logger.Info(b.opts.Name+": spill file caught up", "path", b.opts.SpillPath)
			}
			return nil
		}
	}
}
