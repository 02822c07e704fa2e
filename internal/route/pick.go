package route

import (
	"time"
)

// Classes rank the candidates of one request. A strategy chooses among the
// candidates of the best class present, so that health and saturation
// always come before the strategy's own preference.
const (
	classReady     uint8 = iota // admissible, not yet tried by this request, not saturated
	classSaturated              // admissible and untried, but throttled or near quota
	classRetry                  // admissible, but already failed this request
	classNone                   // breaker open, or busy with this request's other attempt
)

// Latency strategy tuning.
const (
	// exploreEvery sends one request in this many to a random candidate,
	// so that the averages of the others stay current.
	exploreEvery = 32
	// staleAfter makes a deployment without a latency sample for this long
	// count as unexplored: the next request tries it, which is how a
	// region that recovered (or became fast) is noticed.
	staleAfter = 30 * time.Second
	// unknownRPM is the quota assumed, for least-busy, for a deployment
	// whose RPM is not configured.
	unknownRPM = 1000
)

// candidates is a request's view of its eligible deployments.
type candidates struct {
	r     *Router
	q     *Requirements
	ds    []*Deployment
	tried []bool
	busy  []bool // running an attempt of this request (hedging)
}

// pick chooses the next deployment to attempt, or -1 when none is
// admissible. cls is the chosen deployment's class.
func (c *candidates) pick(strategy string, now int64) (idx int, cls uint8) {
	var buf [32]uint8
	classes := buf[:0]
	if len(c.ds) > len(buf) {
		classes = make([]uint8, 0, len(c.ds))
	}
	best := classNone
	est := c.q.estTotal()
	for i, d := range c.ds {
		k := classNone
		switch {
		case c.busy[i] || !d.st.brk.available(now):
		case c.tried[i]:
			k = classRetry
		case d.saturated(now, est):
			k = classSaturated
		default:
			k = classReady
		}
		classes = append(classes, k)
		best = min(best, k)
	}
	if best == classNone {
		return -1, classNone
	}
	in := func(i int) bool { return classes[i] == best }
	switch strategy {
	case StrategyWeighted:
		return c.weighted(in), best
	case StrategyLatency:
		return c.fastest(in, now), best
	case StrategyCost:
		return c.cheapest(in), best
	case StrategyLeastBusy:
		return c.leastBusy(in), best
	default:
		return c.failover(in), best
	}
}

func weight(d *Deployment) int {
	if d.Weight <= 0 {
		return 1
	}
	return d.Weight
}

// weighted draws one of the candidates in by weight.
func (c *candidates) weighted(in func(int) bool) int {
	total := 0
	for i, d := range c.ds {
		if in(i) {
			total += weight(d)
		}
	}
	n := c.r.rnd.IntN(total)
	for i, d := range c.ds {
		if !in(i) {
			continue
		}
		if n -= weight(d); n < 0 {
			return i
		}
	}
	return -1 // unreachable: total > 0
}

// failover keeps to the lowest priority tier, by weight within it.
func (c *candidates) failover(in func(int) bool) int {
	tier, found := 0, false
	for i, d := range c.ds {
		if in(i) && (!found || d.Priority < tier) {
			tier, found = d.Priority, true
		}
	}
	return c.weighted(func(i int) bool { return in(i) && c.ds[i].Priority == tier })
}

// fastest picks the least expected latency, trying unexplored or stale
// deployments first and exploring at random now and then.
func (c *candidates) fastest(in func(int) bool, now int64) int {
	if c.r.rnd.IntN(exploreEvery) == 0 {
		return c.weighted(in)
	}
	best, bestScore := -1, 0.0
	for i, d := range c.ds {
		if !in(i) {
			continue
		}
		score := c.expectedLatency(d, now)
		if best < 0 || score < bestScore ||
			(score == bestScore && d.st.inflight.Load() < c.ds[best].st.inflight.Load()) {
			best, bestScore = i, score
		}
	}
	return best
}

// expectedLatency is the time to first token for streams and the total
// time otherwise, falling back to the other average; 0 for a deployment
// without a recent sample, so that it is tried.
func (c *candidates) expectedLatency(d *Deployment, now int64) float64 {
	primary, fallback := &d.st.total, &d.st.ttft
	if c.q.Stream {
		primary, fallback = fallback, primary
	}
	v, at, ok := primary.value()
	if !ok {
		v, at, ok = fallback.value()
	}
	if !ok || now-at > int64(staleAfter) {
		return 0
	}
	return v
}

// cheapest prefers reserved capacity (already paid for), then the lowest
// cost for this request; ties go to the less busy deployment.
func (c *candidates) cheapest(in func(int) bool) int {
	reserved := false
	for i, d := range c.ds {
		if in(i) && d.Reserved {
			reserved = true
			break
		}
	}
	inTier := func(i int) bool { return in(i) && (!reserved || c.ds[i].Reserved) }
	best, bestCost := -1, 0.0
	estIn, estOut := c.q.EstimatedInputTokens, c.q.estOutput()
	for i, d := range c.ds {
		if !inTier(i) {
			continue
		}
		cost := c.r.cost(d, estIn, estOut)
		if best < 0 || cost < bestCost || (cost == bestCost && load(d) < load(c.ds[best])) {
			best, bestCost = i, cost
		}
	}
	return best
}

// leastBusy picks the fewest requests in flight relative to quota; ties
// are broken at random so that idle deployments share the traffic.
func (c *candidates) leastBusy(in func(int) bool) int {
	best, ties, bestLoad := -1, 0, 0.0
	for i, d := range c.ds {
		if !in(i) {
			continue
		}
		l := load(d)
		switch {
		case best < 0 || l < bestLoad:
			best, ties, bestLoad = i, 1, l
		case l == bestLoad:
			ties++
			if c.r.rnd.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return best
}

// load is requests in flight per unit of quota.
func load(d *Deployment) float64 {
	rpm := d.Quota.RPM
	if rpm <= 0 {
		rpm = unknownRPM
	}
	return float64(d.st.inflight.Load()+d.st.streaming.Load()) / float64(rpm)
}
