package usage

import (
	"context"

	"github.com/switchyard/switchyard/internal/store"
)

// NewUsageWriter returns a Batcher that stores usage records with
// st.InsertUsage (insert-or-ignore by RequestID, so replays are safe).
func NewUsageWriter(st store.UsageStore, opts Options) (*Batcher[store.UsageRecord], error) {
	if opts.Name == "" {
		opts.Name = "usage"
	}
	return NewBatcher(func(ctx context.Context, batch []store.UsageRecord) error {
		_, err := st.InsertUsage(ctx, batch)
		return err
	}, opts)
}
