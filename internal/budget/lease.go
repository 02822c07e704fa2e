package budget

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A lease is budget this Manager holds in the store, under one
// reservation per budget period, ahead of its requests: a request the
// lease has room for is reserved and settled here, without a round trip,
// and what the requests spent is written every Options.Lease. The lease
// is a reservation like any other, so the store never lets the replicas
// together hold or spend more than a hard limit; what one replica holds
// and does not use is room the others cannot take until its next write.
type lease struct {
	mu sync.Mutex
	// held is what the store holds under the Manager's lease id.
	held int64
	// inflight is what this Manager's requests reserved from held and
	// have not settled.
	inflight int64
	// pending is what settled requests spent and the store has not been
	// told yet.
	pending int64
	// used is whether a request reserved since the last write: an unused
	// lease gives back its room.
	used bool
	// tight is set when a hard line refused to grow the lease: near the
	// limit, every request is reserved in the store on its own, exactly,
	// until the next write.
	tight bool
	// growing is whether a request is growing the lease with extra room.
	growing bool
	// written is when the store last heard of the lease, which refreshes
	// its expiry.
	written time.Time

	line Line
	meta lineMeta
}

// room is what the lease can still give to a request.
func (le *lease) room() int64 { return le.held - le.inflight - le.pending }

// leaseExtra is how many requests' worth of room a lease takes beyond the
// request that grows it, and 1/leaseShare of the limit caps that extra:
// a lease grows only when its room is below one request, so its unused
// room stays under one request plus that cap.
const (
	leaseExtra = 32
	leaseShare = 64
)

// leases are the Manager's leases, by budget period.
type leases struct {
	id    string // the reservation id every lease is held under
	every time.Duration
	ttl   time.Duration // how long the store keeps a lease it stops hearing of
	m     sync.Map      // lineKey -> *lease
	stop  chan struct{}
	done  chan struct{}

	stopOnce sync.Once

	leased, shared atomic.Int64 // reservations by where they were made
}

// Decisions counts a Manager's reservations by where they were made.
type Decisions struct {
	// Leased were reserved from this Manager's leases without a round
	// trip, Shared by one to the store (growing a lease, or on their own).
	Leased, Shared int64
}

// Decisions reports where the Manager's reservations were made; zero
// without leases.
func (m *Manager) Decisions() Decisions {
	if m.leases == nil {
		return Decisions{}
	}
	return Decisions{Leased: m.leases.leased.Load(), Shared: m.leases.shared.Load()}
}

// get returns the lease of l's period, creating it. A lease lives as long
// as its period, and a lease ttl beyond: no request can still be taking
// from it when it is dropped.
func (ls *leases) get(l Line, meta lineMeta) *lease {
	k := lineKey{l.BudgetID, l.PeriodStart.Unix()}
	if v, ok := ls.m.Load(k); ok {
		return v.(*lease)
	}
	v, _ := ls.m.LoadOrStore(k, &lease{line: l, meta: meta})
	return v.(*lease)
}

// takeLeased reserves r's amount from the leases of its lines, or from
// none. It reports false when one lacks room, and tight when one is near
// its limit: then r must be reserved in the store on its own.
func (m *Manager) takeLeased(r *Reservation) (ok, tight bool) {
	r.leases = r.leaseBuf[:0]
	for i, l := range r.lines {
		r.leases = append(r.leases, m.leases.get(l, r.meta[i]))
	}
	// Lines are sorted by budget id: every caller locks in one order.
	for i, le := range r.leases {
		le.mu.Lock()
		// The budget may have been edited since the lease began: its
		// writes check soft limits against the line as it is now.
		le.line, le.meta = r.lines[i], r.meta[i]
		if le.tight || le.room() < r.amount {
			for _, held := range r.leases[:i+1] {
				tight = tight || held.tight
				held.mu.Unlock()
			}
			return false, tight
		}
	}
	for _, le := range r.leases {
		le.inflight += r.amount
		le.used = true
		le.mu.Unlock()
	}
	return true, false
}

// growLeases reserves r's amount in the store under the lease id, with
// room for leaseExtra more such requests, and gives r its share. It
// reports false when a hard line has no room for all that: the line is
// near its limit, so its lease gives back its room and turns tight until
// the next write, and r must be reserved on its own.
func (m *Manager) growLeases(ctx context.Context, r *Reservation, now time.Time) (bool, error) {
	extra := leaseExtra * r.amount
	// One growth at a time takes extra room: a burst of requests that all
	// found a lease empty would otherwise each add 32 requests' worth.
	claimed := make([]bool, len(r.leases))
	for i, le := range r.leases {
		extra = min(extra, r.lines[i].Limit/leaseShare)
		le.mu.Lock()
		if le.growing {
			extra = 0
		} else {
			le.growing, claimed[i] = true, true
		}
		le.mu.Unlock()
	}
	defer func() {
		for i, le := range r.leases {
			if claimed[i] {
				le.mu.Lock()
				le.growing = false
				le.mu.Unlock()
			}
		}
	}()
	amount := r.amount + max(extra, 0)
	d, err := m.store.Reserve(ctx, ReserveRequest{ID: m.leases.id, Lines: r.lines, Amount: amount, Now: now, Expires: now.Add(m.leases.ttl)})
	if err != nil {
		return false, err
	}
	if d.Index >= 0 {
		// Room this lease holds beyond its requests in flight is room the
		// line needs now: write it back at once.
		m.writeLease(r.leases[d.Index], now, false, true)
		return false, nil
	}
	for _, le := range r.leases {
		le.mu.Lock()
		le.held += amount
		le.inflight += r.amount
		le.used = true
		le.written = now
		le.mu.Unlock()
	}
	return true, nil
}

// settleLeased moves r's reservation to the spend its leases will write.
func (m *Manager) settleLeased(r *Reservation, actual int64) {
	for _, le := range r.leases {
		le.mu.Lock()
		le.inflight -= r.amount
		le.pending += actual
		le.mu.Unlock()
	}
}

// releaseLeased gives r's reservation back to its leases.
func (m *Manager) releaseLeased(r *Reservation) {
	for _, le := range r.leases {
		le.mu.Lock()
		le.inflight -= r.amount
		le.mu.Unlock()
	}
}

// writeLeases runs every Options.Lease until Close.
func (m *Manager) writeLeases() {
	defer close(m.leases.done)
	t := time.NewTicker(m.leases.every)
	defer t.Stop()
	for {
		select {
		case <-m.leases.stop:
			m.flushLeases(true)
			return
		case <-t.C:
			m.flushLeases(false)
		}
	}
}

// flushLeases writes every lease (see writeLease); final gives back all
// room.
func (m *Manager) flushLeases(final bool) {
	now := m.now()
	m.leases.m.Range(func(k, v any) bool {
		le := v.(*lease)
		m.writeLease(le, now, !final, false)
		le.mu.Lock()
		over := le.held == 0 && le.inflight == 0 && le.pending == 0 &&
			!le.line.PeriodEnd.IsZero() && now.Sub(le.line.PeriodEnd) > m.leases.ttl
		le.mu.Unlock()
		if over {
			m.leases.m.Delete(k)
		}
		return true
	})
}

// writeLease writes le's spend to the store and shrinks it to what its
// requests in flight need, plus its room if keepRoom and it was used
// since the last write. tight is the lease's state after.
func (m *Manager) writeLease(le *lease, now time.Time, keepRoom, tight bool) {
	le.mu.Lock()
	keep := le.inflight
	if le.used && keepRoom {
		// A request that cost more than it reserved leaves the room
		// negative; the requests in flight still need all they reserved.
		keep += max(le.room(), 0)
	}
	spent := le.pending
	stale := le.held > 0 && now.Sub(le.written) >= m.leases.ttl/2
	if keep == le.held && spent == 0 && !stale {
		le.used, le.tight = false, tight
		le.mu.Unlock()
		return
	}
	prevHeld := le.held
	le.held, le.pending, le.used, le.tight, le.written = keep, 0, false, tight, now
	line, meta := le.line, le.meta
	le.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), seedTimeout)
	defer cancel()
	crossed, err := m.store.Settle(ctx, SettleRequest{
		ID: m.leases.id, Lines: []Line{line}, Actual: spent,
		Lease: true, Shrink: prevHeld - keep, Expires: now.Add(m.leases.ttl), Now: now,
	})
	if err != nil {
		// Try again at the next write; the store still holds prevHeld.
		m.log.Error("budget: writing a lease's spend", "budget", line.BudgetID, "spent_micro_usd", spent, "err", err)
		le.mu.Lock()
		le.held += prevHeld - keep
		le.pending += spent
		le.mu.Unlock()
		return
	}
	for _, c := range crossed {
		m.enqueue(line, meta, c.Spent)
	}
}
