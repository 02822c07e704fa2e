// Package redisbatch sends Redis commands that nobody is waiting on in
// shared pipelines.
//
// After a call has answered, the gateway still writes to its shared
// counters: the budget settlement and the rate-limit token correction.
// Sent one by one, each is a pooled-connection checkout, a write and a
// read system call on both sides, about a tenth of the gateway's CPU per
// request with Redis. Those writes have no reader waiting, so a short
// delay costs nothing: a [Batcher] holds them for a window and sends
// everything that arrived in one pipeline, one round trip.
//
// Commands opt in through their context ([Deferred]); every other command
// on the client goes straight through, untouched. The batching is this
// package's; the pipelines are go-redis's stable Pipeline API (its own
// autopipeliner is still marked experimental).
package redisbatch

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options tune a Batcher. Zero values take the documented defaults.
type Options struct {
	// Window is how long the first deferred command waits for others to
	// share its pipeline. Default 5ms.
	Window time.Duration
	// MaxBatch sends a pipeline at once when it holds this many commands.
	// Default 256.
	MaxBatch int
	// Timeout bounds one pipeline round trip. Default 5s.
	Timeout time.Duration
}

// Batcher is a go-redis hook that gathers deferred commands into
// pipelines. Create it with [New]; Close it after the last deferred
// command has been issued.
type Batcher struct {
	rdb   redis.UniversalClient
	opts  Options
	queue chan *pending

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	done   chan struct{}
}

// pending is one deferred command and the signal that it has its reply.
type pending struct {
	cmd  redis.Cmder
	sent chan struct{}
}

type deferredKey struct{}

// Deferred marks ctx so that commands issued with it go through the
// client's Batcher, if it has one.
func Deferred(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredKey{}, true)
}

func isDeferred(ctx context.Context) bool {
	d, _ := ctx.Value(deferredKey{}).(bool)
	return d
}

// New starts a Batcher and installs it as a hook on rdb. Commands whose
// context is not [Deferred] are not affected.
func New(rdb redis.UniversalClient, o Options) *Batcher {
	if o.Window <= 0 {
		o.Window = 5 * time.Millisecond
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	b := &Batcher{rdb: rdb, opts: o, queue: make(chan *pending, o.MaxBatch), done: make(chan struct{})}
	go b.loop()
	rdb.AddHook(b)
	return b
}

// Close sends what is queued and stops the Batcher. Deferred commands
// issued afterwards go straight to Redis, one by one.
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.queue)
	b.mu.Unlock()
	<-b.done
}

// DialHook implements redis.Hook.
func (b *Batcher) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessPipelineHook implements redis.Hook. Pipelines, the Batcher's own
// included, pass through.
func (b *Batcher) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// ProcessHook implements redis.Hook: a deferred command waits for the
// pipeline it joins, so its caller reads its reply as usual.
func (b *Batcher) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !isDeferred(ctx) {
			return next(ctx, cmd)
		}
		p := &pending{cmd: cmd, sent: make(chan struct{})}
		if !b.enqueue(ctx, p) {
			return next(ctx, cmd)
		}
		// Wait for the reply even if ctx ends: the pipeline writes into
		// cmd, and the caller reads cmd once this returns. The wait is
		// bounded by Options.Timeout.
		<-p.sent
		return cmd.Err()
	}
}

// enqueue hands p to the loop; false when the Batcher is closed or ctx
// ended first.
func (b *Batcher) enqueue(ctx context.Context, p *pending) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return false
	}
	select {
	case b.queue <- p:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *Batcher) loop() {
	defer close(b.done)
	batch := make([]*pending, 0, b.opts.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-b.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		timer.Reset(b.opts.Window)
	gather:
		for len(batch) < b.opts.MaxBatch {
			select {
			case p, ok := <-b.queue:
				if !ok {
					break gather
				}
				batch = append(batch, p)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		b.send(batch)
	}
}

// send writes batch in one pipeline and wakes its callers. go-redis gives
// every command its own reply or error, a transport failure included.
func (b *Batcher) send(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
	defer cancel()
	pipe := b.rdb.Pipeline()
	for _, p := range batch {
		_ = pipe.Process(ctx, p.cmd)
	}
	_, _ = pipe.Exec(ctx)
	for _, p := range batch {
		close(p.sent)
	}
}
