package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// PurgeResult says what Purge removed.
type PurgeResult struct {
	// Deleted counts removed records.
	Deleted int64
	// AnchorSeq is the checkpoint the retained chain now starts from; 0
	// when no signed checkpoint was old enough and nothing was removed.
	AnchorSeq int64
}

// Purge deletes records older than the newest checkpoint signed at or
// before before (and older checkpoints), keeping that checkpoint's record
// so Verify can start from it. Only checkpoints that verify with pub
// count, so a forged checkpoint cannot trigger deletion.
func Purge(ctx context.Context, st store.AuditStore, pub ed25519.PublicKey, before time.Time) (PurgeResult, error) {
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		return PurgeResult{}, err
	}
	var anchor *store.AuditCheckpoint
	for i := range cps {
		cp := &cps[i]
		if cp.Time.After(before) || !ed25519.Verify(pub, CheckpointMessage(cp.Seq, cp.Hash), cp.Signature) {
			continue
		}
		if anchor == nil || cp.Seq > anchor.Seq {
			anchor = cp
		}
	}
	if anchor == nil {
		return PurgeResult{}, nil
	}
	n, err := st.PurgeAudit(ctx, anchor.Seq)
	if err != nil {
		return PurgeResult{}, fmt.Errorf("audit: purge before seq %d: %w", anchor.Seq, err)
	}
	return PurgeResult{Deleted: n, AnchorSeq: anchor.Seq}, nil
}

// ExportFilter selects records for Export. Zero fields match everything.
type ExportFilter struct {
	// From and To bound record Time to [From, To).
	From, To time.Time
	TeamID   string
}

// Export writes matching records to w as JSON Lines (one
// store.AuditRecord per line, Seq order), including Seq, PrevHash and
// Hash so an auditor can re-check the chain offline with RecordHash.
func Export(ctx context.Context, st store.AuditStore, w io.Writer, f ExportFilter) error {
	enc := json.NewEncoder(w)
	for from := int64(0); ; {
		page, err := st.AuditRecords(ctx, store.AuditFilter{FromSeq: from, From: f.From, To: f.To, TeamID: f.TeamID, Limit: verifyPage})
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("audit: export: %w", err)
			}
		}
		if len(page) < verifyPage {
			return nil
		}
		from = page[len(page)-1].Seq + 1
	}
}
