package route

import (
	"context"
	"errors"
	"math"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

// Deployment is the router's runtime view of one deployment: what the
// config says about it, and (unexported) what live traffic taught.
// New takes ownership of the Deployments it is given; their exported
// fields must not change afterwards.
type Deployment struct {
	// Name is the operator's unique name for the deployment.
	Name string
	// Provider is the registered adapter name ("openai", "azure", ...).
	Provider string
	// Model is the provider-native model id.
	Model string
	// Region is where the deployment runs; residency rules match it.
	Region string
	// ModelVersion is the exact version served; pinned requests match it.
	ModelVersion string
	// Backend is the adapter that calls the deployment; or nil in tests.
	Backend provider.Provider
	// Priority is the failover tier; lower tiers are used first.
	Priority int
	// Weight is the share of traffic under weighted routing, and within a
	// failover tier. Zero means 1.
	Weight int
	// Price is the list price, used by the cost strategy unless
	// Options.CostFunc says otherwise. Zero prices count as free.
	Price Price
	// Reserved marks provisioned throughput: the cost strategy uses it
	// first, and spills to pay-as-you-go when it is saturated or answers 429.
	Reserved bool
	// Quota is the provider's rate limit for the deployment.
	Quota Quota
	// MaxInFlight caps concurrent requests before the deployment counts as
	// saturated; 0 means no cap.
	MaxInFlight int
	// Caps says which requests the deployment can serve.
	Caps Caps
	// ZDR marks zero data retention at the provider.
	ZDR bool

	st *state // set by New; nil for a Deployment no Router owns
}

// Price is USD per million tokens.
type Price struct {
	InputPerMTok       float64 `yaml:"input"`
	OutputPerMTok      float64 `yaml:"output"`
	CachedInputPerMTok float64 `yaml:"cached_input"`
}

// Quota is the provider's rate limit; 0 means unknown.
type Quota struct {
	RPM int `yaml:"rpm"`
	TPM int `yaml:"tpm"`
}

// Caps are what a deployment can serve. A false field means unsupported;
// MaxContext 0 means unknown (not checked).
type Caps struct {
	Tools      bool `yaml:"tools"`
	Vision     bool `yaml:"vision"`
	JSONSchema bool `yaml:"json_schema"`
	Embeddings bool `yaml:"embeddings"`
	MaxContext int  `yaml:"max_context"`
}

// Tuning of the live state; not configurable because they describe how
// the router learns, not what the operator wants.
const (
	// ewmaTau is the time constant of the latency averages: a sample's
	// weight halves in about 7s.
	ewmaTau = 10 * time.Second
	// ewmaMinAlpha keeps bursts of samples (many within ewmaTau) moving
	// the average: each sample counts for at least this share.
	ewmaMinAlpha = 0.2
	// quotaHeadroom is the share of a quota at which a deployment counts
	// as saturated, so that traffic moves before the provider answers 429.
	quotaHeadroomPct = 95
	// rateLimitTTL is how long a provider's remaining-quota numbers are
	// trusted; providers refill within a minute.
	rateLimitTTL = 20 * time.Second
	// defaultCooldown is how long a 429 without Retry-After keeps the
	// deployment saturated.
	defaultCooldown = time.Second
)

// state is a deployment's live view. Every field is atomic: requests for
// different deployments never touch the same memory, and requests for one
// deployment do not take a lock.
type state struct {
	clock Clock
	brk   breaker

	inflight  atomic.Int64 // attempts running inside Do
	streaming atomic.Int64 // streams past their first byte, until ObserveStream

	ttft, total ewma

	minute atomic.Int64 // minute (unix/60) the counters below belong to
	reqs   atomic.Int64
	toks   atomic.Int64

	remReq, remTok atomic.Int64 // provider's remaining quota; -1 unknown
	remAt          atomic.Int64 // unix nanos they were reported; 0 never

	cooldownUntil atomic.Int64 // unix nanos; saturated until then after a 429

	lastErr atomic.Pointer[errorRecord]
}

type errorRecord struct {
	msg string
	at  time.Time
}

func newState(d *Deployment, clock Clock, cfg BreakerConfig, notify func(BreakerEvent)) *state {
	s := &state{clock: clock}
	s.brk.name = d.Name
	s.brk.notify.Store(&notify)
	s.brk.cfg.Store(&cfg)
	s.remReq.Store(-1)
	s.remTok.Store(-1)
	return s
}

// rollMinute resets the per-minute counters when a new minute begins.
// Counts racing with the reset may be lost; they steer, not bill.
func (s *state) rollMinute(now int64) {
	m := now / int64(time.Minute)
	old := s.minute.Load()
	if old != m && s.minute.CompareAndSwap(old, m) {
		s.reqs.Store(0)
		s.toks.Store(0)
	}
}

// saturated reports whether the deployment should be avoided for a request
// needing about est tokens: throttled, at its in-flight cap, near its
// quota this minute, or out of the quota the provider reported remaining.
func (d *Deployment) saturated(now int64, est int) bool {
	s := d.st
	if now < s.cooldownUntil.Load() {
		return true
	}
	if d.MaxInFlight > 0 && s.inflight.Load()+s.streaming.Load() >= int64(d.MaxInFlight) {
		return true
	}
	s.rollMinute(now)
	if q := int64(d.Quota.RPM); q > 0 && s.reqs.Load()*100 >= q*quotaHeadroomPct {
		return true
	}
	if q := int64(d.Quota.TPM); q > 0 && (s.toks.Load()+int64(est))*100 >= q*quotaHeadroomPct {
		return true
	}
	if at := s.remAt.Load(); at != 0 && now-at < int64(rateLimitTTL) {
		if r := s.remReq.Load(); r == 0 {
			return true
		}
		if r := s.remTok.Load(); r >= 0 && r < int64(est) {
			return true
		}
	}
	return false
}

// ObserveStream reports how a stream that Do handed to the gateway ended:
// its time to first token, total time, and error (nil for a complete
// answer). A context.Canceled error (the client went away) says nothing
// about the deployment and is ignored. tokens is informational: token
// counts towards quota come from ObserveUsage only, so that a stream is
// not counted twice.
func (d *Deployment) ObserveStream(ttft, total time.Duration, tokens int, err error) {
	s := d.st
	if s == nil {
		return
	}
	for {
		n := s.streaming.Load()
		if n <= 0 || s.streaming.CompareAndSwap(n, n-1) {
			break
		}
	}
	now := s.clock.Now().UnixNano()
	switch {
	case err == nil:
		s.ttft.observe(now, ttft)
		s.total.observe(now, total)
		s.brk.success(now, false)
	case errors.Is(err, context.Canceled):
	default:
		d.noteError(now, err)
		s.brk.failure(now, false)
	}
}

// ObserveUsage reports the tokens an answer used and the provider's
// remaining-quota numbers (-1 = not reported). A RateLimit whose fields are
// both 0 is taken as not reported: it is the zero value an adapter leaves
// when it reads no headers, and a provider with nothing left answers 429.
func (d *Deployment) ObserveUsage(tokens int, rl llm.RateLimit) {
	s := d.st
	if s == nil {
		return
	}
	now := s.clock.Now().UnixNano()
	s.rollMinute(now)
	if tokens > 0 {
		s.toks.Add(int64(tokens))
	}
	if rl.RemainingRequests == 0 && rl.RemainingTokens == 0 {
		return
	}
	if rl.RemainingRequests < 0 && rl.RemainingTokens < 0 {
		return
	}
	s.remReq.Store(int64(rl.RemainingRequests))
	s.remTok.Store(int64(rl.RemainingTokens))
	s.remAt.Store(now)
}

// noteError keeps a description of err for Status. Errors that are not
// *llm.Error may carry URLs with credentials in their query, so only
// their cause is kept.
func (d *Deployment) noteError(now int64, err error) {
	var msg string
	var le *llm.Error
	var ue *url.Error
	switch {
	case errors.As(err, &le):
		msg = le.Error()
	case errors.As(err, &ue):
		msg = ue.Op + ": " + ue.Err.Error()
	default:
		msg = err.Error()
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	d.st.lastErr.Store(&errorRecord{msg: msg, at: time.Unix(0, now)})
}

// ewma is a time-decaying average of durations, in nanoseconds.
type ewma struct {
	bits atomic.Uint64 // float64 average
	at   atomic.Int64  // unix nanos of the last sample
	n    atomic.Int64  // samples seen
}

func (e *ewma) observe(now int64, v time.Duration) {
	x := float64(v)
	for {
		old := e.bits.Load()
		prevAt := e.at.Load()
		next := x
		if e.n.Load() > 0 {
			avg := math.Float64frombits(old)
			alpha := max(ewmaMinAlpha, 1-math.Exp(-float64(now-prevAt)/float64(ewmaTau)))
			next = avg + min(alpha, 1)*(x-avg)
		}
		if e.bits.CompareAndSwap(old, math.Float64bits(next)) {
			break
		}
	}
	e.at.Store(now)
	e.n.Add(1)
}

// value returns the average and when it was last fed; ok is false before
// the first sample.
func (e *ewma) value() (avg float64, at int64, ok bool) {
	if e.n.Load() == 0 {
		return 0, 0, false
	}
	return math.Float64frombits(e.bits.Load()), e.at.Load(), true
}
