package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

const memShards = 64

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// memoryLimiter keeps one token-bucket pair per subject in a sharded map:
// requests for different subjects rarely share a lock.
type memoryLimiter struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memShards]memShard
}

type memShard struct {
	mu        sync.Mutex
	m         map[string]*level // guarded by mu
	nextSweep int               // guarded by mu
}

// NewMemory returns a Limiter for a single gateway node.
func NewMemory(o MemoryOptions) Limiter {
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &memoryLimiter{now: o.Now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = map[string]*level{}
		l.shards[i].nextSweep = 1024
	}
	return l
}

func (l *memoryLimiter) shardOf(subject string) int {
	return int(maphash.String(l.seed, subject) % memShards)
}

func (l *memoryLimiter) Allow(ctx context.Context, subject string, limits Limits, tokens int) (Result, error) {
	return l.AllowAll(ctx, []Check{{Subject: subject, Limits: limits}}, tokens)
}

func (l *memoryLimiter) AllowAll(_ context.Context, checks []Check, tokens int) (Result, error) {
	if r, err := tooLarge(checks, tokens); err != nil {
		return r, err
	}
	nowUS := l.now().UnixMicro()
	// Lock the shards involved in index order, each once.
	var locked [memShards]bool
	for _, c := range checks {
		locked[l.shardOf(c.Subject)] = true
	}
	for i := range locked {
		if locked[i] {
			l.shards[i].mu.Lock()
		}
	}
	defer func() {
		for i := range locked {
			if locked[i] {
				l.shards[i].mu.Unlock()
			}
		}
	}()
	var buf [4]*level
	levels := buf[:0]
	res := Result{Allowed: true}
	need := float64(tokens)
	for _, c := range checks {
		lv := l.levelLocked(c, nowUS)
		levels = append(levels, lv)
		req, tok := judge(lv.req, c.Limits.RPM, 1), judge(lv.tok, c.Limits.TPM, need)
		if !req.sufficient || !tok.sufficient {
			res.Allowed = false
		}
	}
	for i, c := range checks {
		lv := levels[i]
		req, tok := judge(lv.req, c.Limits.RPM, 1), judge(lv.tok, c.Limits.TPM, need)
		if res.Allowed {
			lv.req, lv.tok = lv.req-1, lv.tok-need
			req, tok = req.after(1), tok.after(need)
		} else {
			req, tok = req.after(0), tok.after(0)
		}
		merge(&res, req, tok)
	}
	if res.Allowed {
		res.RetryAfter = 0
	}
	return res, nil
}

// levelLocked returns c's state refilled to nowUS, creating a full one.
// The caller holds c's shard lock.
func (l *memoryLimiter) levelLocked(c Check, nowUS int64) *level {
	sh := &l.shards[l.shardOf(c.Subject)]
	lv := sh.m[c.Subject]
	if lv == nil {
		if len(sh.m) >= sh.nextSweep {
			sweep(sh, nowUS)
		}
		lv = &level{req: float64(c.Limits.RPM), tok: float64(c.Limits.TPM), ts: nowUS}
		sh.m[c.Subject] = lv
	}
	elapsed := float64(max(nowUS-lv.ts, 0))
	lv.req = refill(lv.req, c.Limits.RPM, elapsed)
	lv.tok = refill(lv.tok, c.Limits.TPM, elapsed)
	lv.ts = max(lv.ts, nowUS)
	lv.rpm, lv.tpm = c.Limits.RPM, c.Limits.TPM
	return lv
}

// sweep forgets subjects idle for more than two windows: a full bucket
// is the same as no bucket. A bucket deep in debt is kept.
func sweep(sh *memShard, nowUS int64) {
	for k, lv := range sh.m {
		if nowUS-lv.ts > 2*window && lv.tok >= 0 {
			delete(sh.m, k)
		}
	}
	sh.nextSweep = max(2*len(sh.m), 1024)
}

func (l *memoryLimiter) AddTokens(_ context.Context, subject string, n int) error {
	sh := &l.shards[l.shardOf(subject)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	lv := sh.m[subject]
	if lv == nil || lv.tpm <= 0 {
		return nil
	}
	nowUS := l.now().UnixMicro()
	elapsed := float64(max(nowUS-lv.ts, 0))
	lv.tok = refill(lv.tok, lv.tpm, elapsed) - float64(n)
	lv.req = refill(lv.req, lv.rpm, elapsed)
	lv.ts = max(lv.ts, nowUS)
	return nil
}

var _ Limiter = (*memoryLimiter)(nil)
