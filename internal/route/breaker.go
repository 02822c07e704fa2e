package route

import (
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a deployment's circuit breaker.
type BreakerState int32

// Breaker states.
const (
	// BreakerClosed lets all traffic through.
	BreakerClosed BreakerState = iota
	// BreakerOpen refuses traffic until its interval has passed.
	BreakerOpen
	// BreakerHalfOpen admits exactly one trial request, whose outcome
	// closes or reopens the breaker.
	BreakerHalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerEvent reports a breaker changing state.
type BreakerEvent struct {
	Deployment string
	From, To   BreakerState
	At         time.Time
	// OpenFor is how long the breaker stays open, when To is BreakerOpen.
	OpenFor time.Duration
}

// breaker is a deployment's circuit breaker. Reads on the request path are
// atomic loads; mu serialises state changes only, and is per deployment.
//
// Only the outcome of the half-open trial moves the breaker out of
// half-open, and only requests admitted while closed count towards
// opening it: a late answer to a request sent before the breaker opened
// cannot flip it. Each opening lasts at least OpenFor, so a flapping
// deployment cannot make the breaker cycle faster than that.
type breaker struct {
	name   string
	cfg    atomic.Pointer[BreakerConfig]
	notify atomic.Pointer[func(BreakerEvent)] // or holds nil

	mu      sync.Mutex   // guards transitions
	state   atomic.Int32 // BreakerState
	since   atomic.Int64 // unix nanos the state was entered
	openFor atomic.Int64 // nanos the current opening lasts
	trips   atomic.Int32 // openings since the last healthy spell
	trial   atomic.Bool  // half-open trial admitted and not yet resolved

	consecutive atomic.Int32 // failures in a row while closed
	winStart    atomic.Int64 // unix nanos the ratio window began
	winOK       atomic.Int32
	winFail     atomic.Int32
}

func (b *breaker) State() BreakerState { return BreakerState(b.state.Load()) }

// available reports whether acquire may admit a request at now, without
// admitting one.
func (b *breaker) available(now int64) bool {
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return true
	case BreakerHalfOpen:
		return !b.trial.Load()
	default:
		return now >= b.since.Load()+b.openFor.Load()
	}
}

// reopensAt is when an open breaker admits its trial; zero otherwise.
func (b *breaker) reopensAt() int64 {
	if BreakerState(b.state.Load()) != BreakerOpen {
		return 0
	}
	return b.since.Load() + b.openFor.Load()
}

// acquire admits a request at now. trial is true when the request is the
// half-open trial; its outcome must be reported with trial set.
func (b *breaker) acquire(now int64) (trial, ok bool) {
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return false, true
	case BreakerOpen:
		if now < b.since.Load()+b.openFor.Load() {
			return false, false
		}
		b.mu.Lock()
		if BreakerState(b.state.Load()) == BreakerOpen && now >= b.since.Load()+b.openFor.Load() {
			b.trial.Store(false)
			b.setLocked(BreakerHalfOpen, now, 0)
		}
		b.mu.Unlock()
	}
	if BreakerState(b.state.Load()) == BreakerHalfOpen && b.trial.CompareAndSwap(false, true) {
		return true, true
	}
	// The state may have closed meanwhile (another trial succeeded).
	return false, BreakerState(b.state.Load()) == BreakerClosed
}

// success records a request the deployment answered.
func (b *breaker) success(now int64, trial bool) {
	if trial {
		b.mu.Lock()
		if BreakerState(b.state.Load()) == BreakerHalfOpen {
			b.consecutive.Store(0)
			b.resetWindow(now)
			b.setLocked(BreakerClosed, now, 0)
		}
		b.trial.Store(false)
		b.mu.Unlock()
		return
	}
	if BreakerState(b.state.Load()) != BreakerClosed {
		return
	}
	b.consecutive.Store(0)
	b.window(now)
	b.winOK.Add(1)
	// A healthy spell as long as the base interval forgives past trips,
	// so the next opening starts again at OpenFor.
	if b.trips.Load() > 0 && now-b.since.Load() >= int64(b.cfg.Load().OpenFor) {
		b.trips.Store(0)
	}
}

// failure records a request the deployment failed.
func (b *breaker) failure(now int64, trial bool) {
	cfg := b.cfg.Load()
	if trial {
		b.mu.Lock()
		if BreakerState(b.state.Load()) == BreakerHalfOpen {
			b.openLocked(now, cfg)
		}
		b.trial.Store(false)
		b.mu.Unlock()
		return
	}
	if BreakerState(b.state.Load()) != BreakerClosed {
		return
	}
	c := b.consecutive.Add(1)
	b.window(now)
	fails := b.winFail.Add(1)
	total := fails + b.winOK.Load()
	tripped := int(c) >= cfg.FailureThreshold ||
		(int(total) >= cfg.MinRequests && float64(fails) >= cfg.FailureRatio*float64(total))
	if !tripped {
		return
	}
	b.mu.Lock()
	if BreakerState(b.state.Load()) == BreakerClosed {
		b.openLocked(now, cfg)
	}
	b.mu.Unlock()
}

// release gives back an admission whose outcome says nothing about the
// deployment (the caller went away, a hedge lost, a 429).
func (b *breaker) release(trial bool) {
	if trial {
		b.trial.Store(false)
	}
}

func (b *breaker) openLocked(now int64, cfg *BreakerConfig) {
	trips := b.trips.Add(1)
	d := cfg.OpenFor
	for i := int32(1); i < trips && d < cfg.MaxOpenFor; i++ {
		d *= 2
	}
	d = min(d, cfg.MaxOpenFor)
	b.consecutive.Store(0)
	b.setLocked(BreakerOpen, now, d)
}

func (b *breaker) setLocked(to BreakerState, now int64, openFor time.Duration) {
	from := BreakerState(b.state.Load())
	b.openFor.Store(int64(openFor))
	b.since.Store(now)
	b.state.Store(int32(to))
	if f := b.notify.Load(); f != nil && *f != nil {
		(*f)(BreakerEvent{Deployment: b.name, From: from, To: to, At: time.Unix(0, now), OpenFor: openFor})
	}
}

// window starts a new ratio window when the current one is over. Counts
// racing with the reset may be lost; the ratio is a heuristic.
func (b *breaker) window(now int64) {
	start := b.winStart.Load()
	if now-start < int64(b.cfg.Load().Window) {
		return
	}
	if b.winStart.CompareAndSwap(start, now) {
		b.winOK.Store(0)
		b.winFail.Store(0)
	}
}

func (b *breaker) resetWindow(now int64) {
	b.winStart.Store(now)
	b.winOK.Store(0)
	b.winFail.Store(0)
}
