package budget

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

const memShards = 64

// memoryStore keeps counters in process memory, one mutex per budget
// period and a sharded index, so unrelated budgets never contend.
type memoryStore struct {
	seed   maphash.Seed
	shards [memShards]memShard
}

type memShard struct {
	mu sync.RWMutex
	m  map[lineKey]*memState // guarded by mu
}

type memState struct {
	mu       sync.Mutex
	spent    int64             // guarded by mu
	reserved int64             // guarded by mu
	alerted  bool              // guarded by mu
	seeded   bool              // guarded by mu
	res      map[string]memRes // guarded by mu
	nextExp  time.Time         // earliest expiry in res; guarded by mu
}

type memRes struct {
	amount  int64
	expires time.Time
}

// NewMemoryStore returns a Store for a single gateway node.
func NewMemoryStore() Store {
	s := &memoryStore{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = map[lineKey]*memState{}
	}
	return s
}

func (s *memoryStore) state(l Line) *memState {
	k := lineKey{l.BudgetID, l.PeriodStart.Unix()}
	sh := &s.shards[maphash.String(s.seed, l.BudgetID)%memShards]
	sh.mu.RLock()
	st := sh.m[k]
	sh.mu.RUnlock()
	if st != nil {
		return st
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if st = sh.m[k]; st != nil {
		return st
	}
	// A new period of a budget retires its older ones; this runs once per
	// budget per period, so the scan is cheap.
	for ok := range sh.m {
		if ok.id == k.id && ok.start < k.start {
			delete(sh.m, ok)
		}
	}
	st = &memState{res: map[string]memRes{}}
	sh.m[k] = st
	return st
}

// purgeLocked drops reservations expired at now.
func (st *memState) purgeLocked(now time.Time) {
	if len(st.res) == 0 || now.Before(st.nextExp) {
		return
	}
	st.nextExp = time.Time{}
	for id, r := range st.res {
		if !now.Before(r.expires) {
			st.reserved -= r.amount
			delete(st.res, id)
			continue
		}
		if st.nextExp.IsZero() || r.expires.Before(st.nextExp) {
			st.nextExp = r.expires
		}
	}
}

// lockAll locks the states of lines, in the order given: the Manager
// sorts lines by budget id, one global order, so two requests cannot
// deadlock. buf avoids an allocation for the usual few lines.
func (s *memoryStore) lockAll(lines []Line, buf *[4]*memState) []*memState {
	sts := buf[:0]
	for _, l := range lines {
		st := s.state(l)
		st.mu.Lock()
		sts = append(sts, st)
	}
	return sts
}

func unlockAll(sts []*memState) {
	for _, st := range sts {
		st.mu.Unlock()
	}
}

func (s *memoryStore) Reserve(_ context.Context, r ReserveRequest) (Denial, error) {
	var buf [4]*memState
	sts := s.lockAll(r.Lines, &buf)
	defer unlockAll(sts)
	for i, st := range sts {
		st.purgeLocked(r.Now)
		if r.Lines[i].Mode == ModeHard && st.spent+st.reserved+r.Amount > r.Lines[i].Limit {
			return Denial{Index: i, Spent: st.spent, Reserved: st.reserved}, nil
		}
	}
	for _, st := range sts {
		st.holdLocked(r.ID, r.Amount, r.Expires)
	}
	return Denial{Index: -1}, nil
}

func (s *memoryStore) Settle(_ context.Context, r SettleRequest) ([]Crossed, error) {
	var buf [4]*memState
	sts := s.lockAll(r.Lines, &buf)
	defer unlockAll(sts)
	var crossed []Crossed
	for i, st := range sts {
		if r.Lease {
			st.shrinkLocked(r.ID, r.Shrink, r.Expires)
		} else {
			st.dropLocked(r.ID)
		}
		st.spent += r.Actual
		if r.Lines[i].Mode == ModeSoft && !st.alerted && st.spent >= r.Lines[i].Limit {
			st.alerted = true
			crossed = append(crossed, Crossed{Index: i, Spent: st.spent})
		}
	}
	return crossed, nil
}

// holdLocked adds amount to reservation id, which then expires at exp.
func (st *memState) holdLocked(id string, amount int64, exp time.Time) {
	st.reserved += amount
	st.res[id] = memRes{amount: st.res[id].amount + amount, expires: exp}
	if st.nextExp.IsZero() || exp.Before(st.nextExp) {
		st.nextExp = exp
	}
}

// shrinkLocked gives back by of reservation id, dropping it when nothing
// is left, and moves its expiry to exp.
func (st *memState) shrinkLocked(id string, by int64, exp time.Time) {
	res, ok := st.res[id]
	if !ok {
		return
	}
	if res.amount <= by {
		st.dropLocked(id)
		return
	}
	st.dropLocked(id)
	st.holdLocked(id, res.amount-by, exp)
}

func (st *memState) dropLocked(id string) {
	if res, ok := st.res[id]; ok {
		st.reserved -= res.amount
		delete(st.res, id)
	}
}

func (s *memoryStore) Release(_ context.Context, r SettleRequest) error {
	var buf [4]*memState
	sts := s.lockAll(r.Lines, &buf)
	defer unlockAll(sts)
	for _, st := range sts {
		st.dropLocked(r.ID)
	}
	return nil
}

func (s *memoryStore) Seed(_ context.Context, l Line, spent int64) error {
	st := s.state(l)
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.seeded {
		st.seeded = true
		st.spent += spent
	}
	return nil
}

func (s *memoryStore) Reconcile(_ context.Context, l Line, spent int64) error {
	st := s.state(l)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seeded = true
	st.spent = spent
	return nil
}

func (s *memoryStore) Usage(_ context.Context, l Line) (spent, reserved int64, err error) {
	st := s.state(l)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.spent, st.reserved, nil
}

var _ Store = (*memoryStore)(nil)
