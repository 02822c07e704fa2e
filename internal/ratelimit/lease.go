package ratelimit

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// defaultLease is RedisOptions.Lease's default.
const defaultLease = time.Second

// A lease is allowance a replica took from a subject's shared bucket
// ahead of its requests, so that the requests it covers are decided here
// without a Redis round trip. The shared bucket was charged for it when it
// was taken: a lease can make the replicas together admit less than the
// limit for a moment (allowance held by a replica that has no more
// requests), never more.
type lease struct {
	mu sync.Mutex
	// req and tok are the allowance held.
	req, tok float64
	// asking is whether a round trip is asking for a new lease.
	asking bool
	// limits are those the allowance was taken under; a change of limits
	// sends the allowance back.
	limits Limits
	// expires is when unused allowance stops being spent here and goes
	// back to the shared bucket with the next round trip.
	expires time.Time
	// sharedReq and sharedTok are what the shared bucket held after the
	// lease was taken, for the x-ratelimit-remaining-* headers.
	sharedReq, sharedTok float64
}

// leases holds this replica's lease per subject.
type leases struct {
	span time.Duration // 0: leasing is off
	m    sync.Map      // subject -> *lease

	leased, shared atomic.Int64 // decisions by where they were made
	nextSweep      atomic.Int64 // unix µs of the next sweep for idle leases
}

// idleLease is how long a lease stays after it expired unused. A minute
// refills the bucket of a subject nobody used meanwhile, so what the
// lease still held no longer matters; where other replicas kept using
// it, what it held is lost once, at most one lease admitted less.
const idleLease = time.Minute

// sweep drops leases idle for idleLease, at most once per idleLease, so
// that a replica does not keep an entry for every key it ever served.
func (ls *leases) sweep(now time.Time) {
	next := ls.nextSweep.Load()
	if now.UnixMicro() < next || !ls.nextSweep.CompareAndSwap(next, now.Add(idleLease).UnixMicro()) {
		return
	}
	ls.m.Range(func(k, v any) bool {
		le := v.(*lease)
		le.mu.Lock()
		idle := !le.asking && now.Sub(le.expires) > idleLease
		le.mu.Unlock()
		if idle {
			ls.m.Delete(k)
		}
		return true
	})
}

// len counts the leases held, for tests.
func (ls *leases) len() int {
	n := 0
	ls.m.Range(func(any, any) bool { n++; return true })
	return n
}

// Decisions counts a limiter's decisions by where they were made.
type Decisions struct {
	// Leased were decided on this replica's leases, Shared by a round
	// trip to Redis.
	Leased, Shared int64
}

// DecisionCounter is implemented by limiters that lease (NewRedis).
type DecisionCounter interface {
	Decisions() Decisions
}

// size is how much of a limit one lease asks for: span's worth of the
// per-minute refill, so that a replica never holds more than that.
func (ls *leases) size(limit int) float64 {
	if limit <= 0 || ls.span <= 0 {
		return 0
	}
	return math.Floor(float64(limit) * float64(ls.span.Microseconds()) / window)
}

func (ls *leases) get(subject string) *lease {
	if v, ok := ls.m.Load(subject); ok {
		return v.(*lease)
	}
	v, _ := ls.m.LoadOrStore(subject, &lease{})
	return v.(*lease)
}

// take admits a request of tokens tokens from the leases of every check,
// or from none; ok is false when some check's lease cannot cover it and
// Redis must decide.
func (ls *leases) take(checks []Check, tokens int, now time.Time) (r Result, ok bool) {
	if ls.span <= 0 || len(checks) > 4 {
		return Result{}, false
	}
	var buf [4]*lease
	held := buf[:0]
	defer func() {
		for _, le := range held {
			le.mu.Unlock()
		}
	}()
	need := float64(tokens)
	// Locks are taken in the order of checks; every caller lists a key
	// before its team, so two requests cannot wait on each other.
	for _, c := range checks {
		v, found := ls.m.Load(c.Subject)
		if !found || slices.Contains(held, v.(*lease)) {
			return Result{}, false
		}
		le := v.(*lease)
		le.mu.Lock()
		held = append(held, le)
		if !le.covers(c.Limits, need, now) {
			return Result{}, false
		}
	}
	for i, le := range held {
		le.charge(1, need)
		req, tok := le.dims(checks[i].Limits)
		merge(&r, req, tok)
	}
	r.Allowed = true
	return r, true
}

// covers reports whether the lease can admit a request of need tokens.
func (le *lease) covers(l Limits, need float64, now time.Time) bool {
	if le.limits != l || !now.Before(le.expires) {
		return false
	}
	return (l.RPM <= 0 || le.req >= 1) && (l.TPM <= 0 || le.tok >= need)
}

func (le *lease) charge(req, tok float64) {
	if le.limits.RPM > 0 {
		le.req -= req
	}
	if le.limits.TPM > 0 {
		le.tok -= tok
	}
}

// dims reports the subject's standing as the headers show it: what the
// shared bucket held after the lease plus what is left of the lease.
func (le *lease) dims(l Limits) (req, tok dim) {
	at := func(limit int, remaining float64) dim {
		if limit <= 0 {
			return dim{}
		}
		d := dim{limit: limit, remaining: remaining}
		d.resetUS = (float64(limit) - remaining) * window / float64(limit)
		return d
	}
	return at(l.RPM, le.sharedReq+le.req), at(l.TPM, le.sharedTok+le.tok)
}

// begin starts a round trip for the subject: it empties the lease,
// returning what it held to be given back to the shared bucket, and asks
// for a new lease unless another round trip already is. One ask at a
// time keeps a burst of requests that all missed the lease from each
// taking one: a replica holds at most one lease per subject.
func (le *lease) begin() (req, tok float64, ask bool) {
	le.mu.Lock()
	defer le.mu.Unlock()
	req, tok = le.req, le.tok
	le.req, le.tok = 0, 0
	ask = !le.asking
	le.asking = true
	return req, tok, ask
}

// abort puts back what begin took when the round trip failed.
func (le *lease) abort(req, tok float64, ask bool) {
	le.mu.Lock()
	le.req += req
	le.tok += tok
	if ask {
		le.asking = false
	}
	le.mu.Unlock()
}

// grant ends the round trip that asked: it adds the allowance just taken
// from the shared bucket, which held sharedReq and sharedTok after it.
func (le *lease) grant(l Limits, req, tok, sharedReq, sharedTok float64, expires time.Time) {
	le.mu.Lock()
	le.req += req
	le.tok += tok
	le.limits, le.expires = l, expires
	le.sharedReq, le.sharedTok = sharedReq, sharedTok
	le.asking = false
	le.mu.Unlock()
}

// addTokens charges a response's correction of n tokens (negative:
// a refund) to a live lease as far as it can pay, and returns the rest,
// which the shared bucket must take. A lease never holds a debt: every
// replica must see an overrun at once, or they could admit it twice.
func (ls *leases) addTokens(subject string, n int, now time.Time) (rest int) {
	if ls.span <= 0 {
		return n
	}
	v, ok := ls.m.Load(subject)
	if !ok {
		return n
	}
	le := v.(*lease)
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.limits.TPM <= 0 || !now.Before(le.expires) {
		return n
	}
	pay := min(float64(n), le.tok)
	le.tok -= pay
	return n - int(pay)
}
