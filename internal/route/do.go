package route

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// Outcome says where a request went.
type Outcome struct {
	// Deployment answered, or was the last one tried; nil if none was.
	Deployment *Deployment
	// Attempts counts every attempt started, failovers and hedges
	// included: each one may be billed.
	Attempts int
	// Hedged is true when a second attempt ran alongside the first.
	Hedged bool
}

// AttemptFunc sends the request to d. It must honour ctx, return nil once
// the answer is the client's (for a stream: once its first chunk arrived),
// and return an *llm.Error for anything the provider said. See Do.
type AttemptFunc func(ctx context.Context, d *Deployment) error

// errLostRace cancels the slower attempt of a hedged pair.
var errLostRace = errors.New("route: another attempt answered first")

// Do routes one request for alias: it chooses a deployment, calls attempt,
// and on a retryable failure retries (failing over first to deployments
// not yet tried, then backing off with jitter, honouring Retry-After)
// until an attempt succeeds, the pool's attempts or deadline run out, or
// ctx is done.
//
// Retryable failures are *llm.Error values with Retryable() true, errors
// that are not *llm.Error (connection failures) and an attempt's own
// deadline. An *llm.Error that is not retryable is the request's own fault
// and is returned at once. When ctx ends, Do returns ctx's error.
//
// Errors, all *llm.Error unless ctx ended:
//   - unknown alias: 404 model_not_found;
//   - pinned version absent: 404 model_version_not_found;
//   - no deployment in the caller's allowed regions/providers/ZDR: 403
//     residency_violation (nothing is sent anywhere);
//   - no deployment with a needed capability: 400 unsupported_capability
//     or context_length_exceeded;
//   - deployments exist but none answered: the last upstream error (e.g. a
//     429 with its Retry-After), or 503 no_healthy_deployment when none
//     could be tried. When the caller's restrictions excluded part of the
//     pool, it is always 503 no_healthy_deployment and the message says
//     the allowed deployments have none healthy: the client must not
//     mistake the error of an allowed deployment for the whole model's.
//
// For non-streamed requests Do records each attempt's latency and outcome.
// For streams it records the outcome up to the first chunk; the gateway
// reports the rest with ObserveStream.
func (r *Router) Do(ctx context.Context, alias string, req Requirements, attempt AttemptFunc) (Outcome, error) {
	p := r.pools[alias]
	if p == nil && req.PinnedVersion != "" {
		// "claude-x@20240620" may be configured as an alias in its own right.
		if p = r.pools[alias+"@"+req.PinnedVersion]; p != nil {
			alias, req.PinnedVersion = alias+"@"+req.PinnedVersion, ""
		}
	}
	if p == nil {
		e := llm.Errorf(http.StatusNotFound, "model %q does not exist or is not served here; GET /v1/models lists the models you can use", alias)
		e.Param = "model"
		return Outcome{}, e.WithCode("model_not_found")
	}
	strategy := p.cfg.Strategy
	if req.Strategy != "" {
		if !knownStrategy(req.Strategy) {
			return Outcome{}, llm.BadRequest("x-switchyard-strategy", "unknown routing strategy %q; use one of %v", req.Strategy, Strategies).WithCode("unknown_strategy")
		}
		strategy = req.Strategy
	}
	ds, narrowed, err := p.eligible(alias, &req)
	if err != nil {
		return Outcome{}, err
	}
	rn := &run{
		r: r, p: p, alias: alias, strategy: strategy, narrowed: narrowed, attempt: attempt,
		c: candidates{r: r, q: &req, ds: ds, tried: make([]bool, len(ds)), busy: make([]bool, len(ds))},
	}
	return rn.do(ctx)
}

// run is one call of Do.
type run struct {
	r        *Router
	p        *pool
	alias    string
	strategy string
	narrowed narrowing
	attempt  AttemptFunc
	c        candidates

	out     Outcome
	lastErr error
	failed  int // retryable failures so far
}

type result struct {
	idx int
	err error
}

func (rn *run) do(ctx context.Context) (Outcome, error) {
	cfg := &rn.p.cfg
	clock := rn.r.clock
	deadline := clock.Now().Add(cfg.Retry.Deadline)
	dctx, cancel := context.WithTimeout(ctx, cfg.Retry.Deadline)
	defer cancel()
	hedge := cfg.Hedge.Enabled && !rn.c.q.Stream && len(rn.c.ds) > 1

	for guard := 0; rn.out.Attempts < cfg.Retry.MaxAttempts && guard < cfg.Retry.MaxAttempts+2*len(rn.c.ds); guard++ {
		now := clock.Now()
		i, cls := rn.c.pick(rn.strategy, now.UnixNano())
		if i < 0 {
			break
		}
		d := rn.c.ds[i]
		if cls == classRetry {
			wait := rn.backoff(d, now)
			if now.Add(wait).After(deadline) {
				break
			}
			select {
			case <-clock.After(wait):
			case <-dctx.Done():
				return rn.stop(ctx)
			}
		}
		trial, ok := d.st.brk.acquire(clock.Now().UnixNano())
		if !ok {
			continue // its half-open trial went to another request
		}
		var err error
		if hedge && !rn.out.Hedged {
			err = rn.hedged(dctx, i, trial)
		} else {
			rn.out.Deployment = d
			rn.out.Attempts++
			err = rn.try(dctx, i, trial)
		}
		switch {
		case err == nil:
			return rn.out, nil
		case ctx.Err() != nil:
			return rn.out, ctx.Err()
		case !retryable(err):
			return rn.out, err
		case dctx.Err() != nil:
			return rn.out, rn.failure()
		}
	}
	return rn.out, rn.failure()
}

// stop ends the run when its context ended during a wait.
func (rn *run) stop(ctx context.Context) (Outcome, error) {
	if ctx.Err() != nil {
		return rn.out, ctx.Err()
	}
	return rn.out, rn.failure()
}

// try runs one attempt on candidate i and records what it says about the
// deployment; ctx is the attempt's own context.
func (rn *run) try(ctx context.Context, i int, trial bool) error {
	d := rn.c.ds[i]
	s := d.st
	clock := rn.r.clock
	start := clock.Now()
	s.rollMinute(start.UnixNano())
	s.reqs.Add(1)
	err := rn.call(ctx, d)
	end := clock.Now()
	now := end.UnixNano()
	var le *llm.Error
	isLLM := errors.As(err, &le)
	switch {
	case err == nil:
		s.brk.success(now, trial)
		if rn.c.q.Stream {
			s.streaming.Add(1) // until ObserveStream
		} else {
			s.total.observe(now, end.Sub(start))
		}
	case ctx.Err() != nil:
		// The caller left, the deadline passed or a hedge won: whatever
		// the attempt returned, nothing was learnt about the deployment.
		s.brk.release(trial)
	case isLLM && le.Status == http.StatusTooManyRequests:
		// Throttling is not ill health: steer away for a while instead.
		wait := le.RetryAfter
		if wait <= 0 {
			wait = defaultCooldown
		}
		s.cooldownUntil.Store(end.Add(wait).UnixNano())
		d.noteError(now, err)
		s.brk.release(trial)
	case isLLM && !le.Retryable():
		// The deployment answered; the request was at fault. Credentials
		// the provider rejects are the deployment's fault, though.
		if le.Upstream && (le.Status == http.StatusUnauthorized || le.Status == http.StatusForbidden) {
			d.noteError(now, err)
			s.brk.failure(now, trial)
		} else {
			s.brk.success(now, trial)
		}
	default:
		d.noteError(now, err)
		s.brk.failure(now, trial)
	}
	if err != nil && retryable(err) {
		rn.c.tried[i] = true
		rn.failed++
		rn.lastErr = err
	}
	return err
}

// call runs the attempt, counting it in flight even if it panics.
func (rn *run) call(ctx context.Context, d *Deployment) error {
	d.st.inflight.Add(1)
	defer d.st.inflight.Add(-1)
	return rn.attempt(ctx, d)
}

// retryable reports whether another attempt may succeed where this one
// failed.
func retryable(err error) bool {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Retryable()
	}
	return true
}

// backoff is the wait before retrying d, which already failed this
// request: exponential with jitter, and at least what d's Retry-After asked.
func (rn *run) backoff(d *Deployment, now time.Time) time.Duration {
	rc := rn.p.cfg.Retry
	b := rc.BaseBackoff
	for n := 1; n < rn.failed && b < rc.MaxBackoff; n++ {
		b *= 2
	}
	b = min(b, rc.MaxBackoff)
	// Jitter over [b/2, b] spreads retries of many clients apart.
	b = b/2 + time.Duration(rn.r.rnd.Int64N(int64(b/2)+1))
	if until := d.st.cooldownUntil.Load(); until > now.UnixNano() {
		b = max(b, time.Duration(until-now.UnixNano()))
	}
	return b
}

// hedged runs candidate i, and if it has not answered after the hedge
// delay, a second attempt on another deployment; the first success wins
// and the other attempt's context is cancelled.
func (rn *run) hedged(ctx context.Context, i int, trial bool) error {
	results := make(chan result, 2) // never blocks a loser finishing after Do returned
	cancels := make([]context.CancelCauseFunc, 0, 2)
	defer func() {
		for _, c := range cancels {
			c(errLostRace)
		}
	}()
	launch := func(i int, trial bool) {
		actx, cancel := context.WithCancelCause(ctx)
		cancels = append(cancels, cancel)
		rn.c.busy[i] = true
		rn.out.Deployment = rn.c.ds[i]
		rn.out.Attempts++
		// try writes rn.c.tried and rn.lastErr: run it on a copy so the
		// loser cannot race with the rest of Do.
		solo := &run{r: rn.r, p: rn.p, attempt: rn.attempt,
			c: candidates{r: rn.r, q: rn.c.q, ds: rn.c.ds, tried: make([]bool, len(rn.c.ds))}}
		go func() { results <- result{idx: i, err: solo.try(actx, i, trial)} }()
	}
	launch(i, trial)
	running := 1
	timer := rn.r.clock.After(rn.p.cfg.Hedge.Delay)
	var err error
	for running > 0 {
		select {
		case res := <-results:
			running--
			rn.c.busy[res.idx] = false
			if res.err == nil {
				rn.out.Deployment = rn.c.ds[res.idx]
				return nil
			}
			err = res.err
			if retryable(err) {
				rn.c.tried[res.idx] = true
				rn.failed++
				rn.lastErr = err
			}
			if !retryable(err) || ctx.Err() != nil {
				rn.out.Deployment = rn.c.ds[res.idx]
				return err
			}
			timer = nil // a failure fails over normally; no hedge now
		case <-timer:
			timer = nil
			if rn.out.Attempts >= rn.p.cfg.Retry.MaxAttempts {
				continue
			}
			now := rn.r.clock.Now().UnixNano()
			j, cls := rn.c.pick(rn.strategy, now)
			if j < 0 || cls == classRetry {
				continue
			}
			if t, ok := rn.c.ds[j].st.brk.acquire(now); ok {
				rn.out.Hedged = true
				launch(j, t)
				running++
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// failure is the error for a request no deployment answered.
func (rn *run) failure() error {
	what := fmt.Sprintf("model %q", rn.alias)
	if v := rn.c.q.PinnedVersion; v != "" {
		what = fmt.Sprintf("model %q version %q", rn.alias, v)
	}
	var le *llm.Error
	if !rn.narrowed.any() && rn.lastErr != nil {
		if errors.As(rn.lastErr, &le) {
			return le
		}
		return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeAPI, Code: "upstream_unreachable", Upstream: true,
			Message: what + " could not be reached; retry in a few seconds"}
	}
	retry := rn.retryAfter()
	if errors.As(rn.lastErr, &le) && le.RetryAfter > 0 {
		retry = le.RetryAfter
	}
	parts := []string{what + " has no healthy deployment"}
	parts = append(parts, rn.narrowed.describe(rn.alias)...)
	if rn.lastErr != nil {
		parts = append(parts, "the last attempt failed: "+llm.AsError(rn.lastErr).Message)
	}
	secs := int((retry + time.Second - 1) / time.Second)
	if secs == 1 {
		parts = append(parts, "retry in 1 second")
	} else {
		parts = append(parts, fmt.Sprintf("retry in %d seconds", secs))
	}
	return &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeOverloaded, Code: "no_healthy_deployment",
		Message: strings.Join(parts, "; "), RetryAfter: retry}
}

// retryAfter is when the first open breaker among the candidates admits
// its trial, at least a second from now.
func (rn *run) retryAfter() time.Duration {
	now := rn.r.clock.Now().UnixNano()
	best := int64(0)
	for _, d := range rn.c.ds {
		if at := d.st.brk.reopensAt(); at > now && (best == 0 || at < best) {
			best = at
		}
		if at := d.st.cooldownUntil.Load(); at > now && (best == 0 || at < best) {
			best = at
		}
	}
	return max(time.Second, time.Duration(best-now))
}
