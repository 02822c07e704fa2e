package budget

import (
	"context"
	"time"
)

// Line is one budget period a reservation is charged to.
type Line struct {
	BudgetID    string
	PeriodStart time.Time
	// PeriodEnd bounds how long the counters are worth keeping.
	PeriodEnd time.Time
	// Limit is in micro-USD.
	Limit int64
	Mode  Mode
}

// ReserveRequest asks a Store to reserve Amount on every line, or none.
type ReserveRequest struct {
	// ID names the reservation; unique per Manager. Reserving again under
	// an ID the store still holds adds to it (a replica's lease grows).
	ID     string
	Lines  []Line
	Amount int64
	// Now is the caller's clock, used to expire old reservations.
	Now time.Time
	// Expires is when the reservation stops counting if never settled.
	Expires time.Time
}

// Denial says which line refused a reservation. Index is -1 when the
// reservation was granted.
type Denial struct {
	Index           int
	Spent, Reserved int64
}

// SettleRequest replaces reservation ID with Actual on every line.
type SettleRequest struct {
	ID     string
	Lines  []Line
	Actual int64
	// Lease marks a replica's lease (see Manager): Settle then gives back
	// only Shrink of the reservation, dropping it when nothing is left,
	// and keeps the rest held until Expires. The lease writes what it
	// spent and keeps what its requests in flight still need; as a
	// difference, Shrink commutes with a Reserve that grows the same ID
	// meanwhile.
	Lease   bool
	Shrink  int64
	Expires time.Time
	// Now is the caller's clock.
	Now time.Time
}

// Crossed reports a soft line whose spend reached its limit for the first
// time in its period.
type Crossed struct {
	Index int
	Spent int64
}

// Store keeps budget counters. Implementations are atomic across lines:
// a reservation lands on every line or on none.
type Store interface {
	// Reserve adds the reservation to every line if every hard line has
	// room (spent + reserved + amount <= limit); it purges expired
	// reservations first.
	Reserve(ctx context.Context, r ReserveRequest) (Denial, error)
	// Settle drops the reservation (if still held; only Shrink of a
	// lease) and adds Actual to spent. It reports soft lines crossed for
	// the first time.
	Settle(ctx context.Context, r SettleRequest) ([]Crossed, error)
	// Release drops the reservation without spending anything.
	Release(ctx context.Context, r SettleRequest) error
	// Seed adds durable spend to a period the first time it is called for
	// it; later calls are no-ops, so concurrent seeders do not double count.
	Seed(ctx context.Context, l Line, spent int64) error
	// Reconcile sets a period's spend to a durable total.
	Reconcile(ctx context.Context, l Line, spent int64) error
	// Usage returns a period's spend and in-flight reservations.
	Usage(ctx context.Context, l Line) (spent, reserved int64, err error)
}
