package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/usage"
)

// Options tune a Chain. Zero values take the documented defaults.
type Options struct {
	// CheckpointEvery signs a checkpoint after this many appended
	// records. Default 1000.
	CheckpointEvery int `yaml:"checkpoint_every"`
	// CheckpointInterval signs a checkpoint this often when the chain has
	// grown since the last one. Default 1m.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// Queue configures the append queue; Queue.SpillPath is required.
	Queue usage.Options `yaml:"queue"`
	// Logger receives checkpoint failures; or nil for slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// Chain appends records to the audit chain off the request path and signs
// checkpoints.
type Chain struct {
	st     store.AuditStore
	signer ed25519.PrivateKey
	keyID  string
	opts   Options
	queue  *usage.Batcher[store.AuditRecord]

	cpMu        sync.Mutex // serialises checkpoint creation
	sinceCP     int        // records appended since the last checkpoint; guarded by cpMu
	lastCPSeq   int64      // guarded by cpMu
	stopTicker  chan struct{}
	tickerDone  chan struct{}
	closeOnce   sync.Once
	closeResult error
}

// NewChain starts a chain writing to st and signing with signer.
func NewChain(st store.AuditStore, signer ed25519.PrivateKey, opts Options) (*Chain, error) {
	if len(signer) != ed25519.PrivateKeySize {
		return nil, errors.New("audit: signer must be an Ed25519 private key (64 bytes)")
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 1000
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Queue.Name == "" {
		opts.Queue.Name = "audit"
	}
	if opts.Queue.Logger == nil {
		opts.Queue.Logger = opts.Logger
	}
	c := &Chain{
		st: st, signer: signer, keyID: PublicKeyID(signer.Public().(ed25519.PublicKey)), opts: opts,
		stopTicker: make(chan struct{}), tickerDone: make(chan struct{}),
	}
	q, err := usage.NewBatcher(c.write, opts.Queue)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	c.queue = q
	go c.tick()
	return c, nil
}

// Append queues rec; Seq, PrevHash and Hash are assigned when it is
// written. ID and Time are filled when empty. Details must be valid JSON.
func (c *Chain) Append(rec store.AuditRecord) error {
	if len(rec.Details) > 0 && !json.Valid(rec.Details) {
		return fmt.Errorf("audit: %s record: Details is not valid JSON", rec.Action)
	}
	if rec.ID == "" {
		rec.ID = store.NewID("aud")
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = store.Truncate(rec.Time)
	rec.Seq, rec.PrevHash, rec.Hash = 0, "", ""
	return c.queue.Enqueue(rec)
}

// Stats reports the append queue's counters.
func (c *Chain) Stats() usage.Stats { return c.queue.Stats() }

// Flush writes every queued record.
func (c *Chain) Flush(ctx context.Context) error { return c.queue.Flush(ctx) }

// Close writes every queued record, signs a final checkpoint and stops.
func (c *Chain) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		close(c.stopTicker)
		<-c.tickerDone
		err := c.queue.Close(ctx)
		if _, cerr := c.Checkpoint(ctx); cerr != nil && !errors.Is(cerr, errNothingToSign) {
			err = errors.Join(err, cerr)
		}
		c.closeResult = err
	})
	return c.closeResult
}

func (c *Chain) write(ctx context.Context, batch []store.AuditRecord) error {
	added, err := c.st.AppendAudit(ctx, batch, Seal)
	if err != nil {
		return err
	}
	c.cpMu.Lock()
	c.sinceCP += len(added)
	due := c.sinceCP >= c.opts.CheckpointEvery
	c.cpMu.Unlock()
	if due {
		if _, err := c.Checkpoint(ctx); err != nil && !errors.Is(err, errNothingToSign) {
			// The records are stored; the next checkpoint covers them.
			c.opts.Logger.Warn("audit: checkpoint failed", "err", err)
		}
	}
	return nil
}

func (c *Chain) tick() {
	defer close(c.tickerDone)
	t := time.NewTicker(c.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stopTicker:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := c.Checkpoint(ctx); err != nil && !errors.Is(err, errNothingToSign) {
				c.opts.Logger.Warn("audit: checkpoint failed", "err", err)
			}
			cancel()
		}
	}
}

var errNothingToSign = errors.New("audit: no new records since the last checkpoint")

// Checkpoint signs the current head now and stores the checkpoint. When
// another replica already signed this head, its checkpoint stands.
func (c *Chain) Checkpoint(ctx context.Context) (store.AuditCheckpoint, error) {
	c.cpMu.Lock()
	defer c.cpMu.Unlock()
	head, err := c.st.AuditHead(ctx)
	if err != nil {
		return store.AuditCheckpoint{}, err
	}
	if head.Seq == 0 || head.Seq == c.lastCPSeq {
		return store.AuditCheckpoint{}, errNothingToSign
	}
	cp := store.AuditCheckpoint{
		Seq: head.Seq, Hash: head.Hash, PublicKeyID: c.keyID, Time: store.Now(),
		Signature: ed25519.Sign(c.signer, CheckpointMessage(head.Seq, head.Hash)),
	}
	if err := c.st.InsertCheckpoint(ctx, cp); err != nil && !errors.Is(err, store.ErrConflict) {
		return store.AuditCheckpoint{}, err
	}
	c.lastCPSeq, c.sinceCP = head.Seq, 0
	return cp, nil
}
