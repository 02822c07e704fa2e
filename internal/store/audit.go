package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// auditLockID is the PostgreSQL advisory lock that serialises chain
// appends across replicas; SQLite gets the same from BEGIN IMMEDIATE.
const auditLockID = 0x5359_4155 // "SYAU"

const auditColumns = `seq, id, time, actor_kind, actor_id, team_id, org_id, action, resource, outcome, details,
	request_digest, prev_hash, hash`

func scanAudit(sc scanner) (AuditRecord, error) {
	var r AuditRecord
	var t int64
	var details string
	if err := sc.Scan(&r.Seq, &r.ID, &t, &r.ActorKind, &r.ActorID, &r.TeamID, &r.OrgID, &r.Action, &r.Resource,
		&r.Outcome, &details, &r.RequestDigest, &r.PrevHash, &r.Hash); err != nil {
		return AuditRecord{}, err
	}
	r.Time, r.Details = fromMicros(t), rawOrNil(details)
	return r, nil
}

// AppendAudit implements AuditStore.
//
// Records are almost never stored already (only a replayed spill, or a
// write whose commit was never confirmed, brings some back), so the
// records go in without asking first; a unique violation on an id sends
// the batch round again, this time without the records already stored.
// Asking every time cost a round trip per batch, and on PostgreSQL worse:
// a plan cached while the table was small scanned all of it.
func (s *sqlStore) AppendAudit(ctx context.Context, recs []AuditRecord, seal SealFunc) ([]AuditRecord, error) {
	fresh := distinctAudit(recs)
	if len(fresh) == 0 {
		return nil, nil
	}
	out, err := s.appendAudit(ctx, fresh, seal, false)
	if isUniqueViolation(err) {
		out, err = s.appendAudit(ctx, fresh, seal, true)
	}
	if err != nil {
		return nil, mapErr(err, "store: append audit")
	}
	return out, nil
}

// appendAudit seals fresh after the chain's head and inserts it in one
// transaction; with dropKnown, it first leaves out the records whose id is
// stored already.
func (s *sqlStore) appendAudit(ctx context.Context, fresh []AuditRecord, seal SealFunc, dropKnown bool) ([]AuditRecord, error) {
	var out []AuditRecord
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == dialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockID); err != nil {
				return err
			}
		}
		recs := fresh
		if dropKnown {
			var err error
			if recs, err = s.dropKnownAudit(ctx, tx, fresh); err != nil || len(recs) == 0 {
				return err
			}
		}
		head, err := s.auditHead(ctx, tx)
		if err != nil {
			return err
		}
		// Sealing in place is safe: a second round seals again, and seal
		// fills every field it touches anew.
		if err := seal(head, recs); err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		args := make([]any, 0, len(recs)*s.auditRows.width)
		for _, r := range recs {
			args = append(args, r.Seq, r.ID, micros(r.Time), r.ActorKind, r.ActorID, r.TeamID, r.OrgID, r.Action, r.Resource,
				r.Outcome, string(r.Details), r.RequestDigest, r.PrevHash, r.Hash)
		}
		if _, err := s.auditRows.insert(ctx, tx, args); err != nil {
			return err
		}
		out = recs
		return nil
	})
	return out, err
}

// distinctAudit returns copies of recs without repeated ids, filling
// missing ones.
func distinctAudit(recs []AuditRecord) []AuditRecord {
	seen := make(map[string]bool, len(recs))
	fresh := make([]AuditRecord, 0, len(recs))
	for _, r := range recs {
		if r.ID == "" {
			r.ID = NewID("aud")
		}
		if !seen[r.ID] {
			seen[r.ID] = true
			fresh = append(fresh, r)
		}
	}
	return fresh
}

// dropKnownAudit returns the records of fresh whose id is not stored yet.
func (s *sqlStore) dropKnownAudit(ctx context.Context, tx *sql.Tx, fresh []AuditRecord) ([]AuditRecord, error) {
	if s.dialect == dialectPostgres {
		// A plan cached while the table was small scans the whole table
		// once it is not: plan this query for the table as it is.
		if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return nil, err
		}
	}
	ids := make([]string, len(fresh))
	for i, r := range fresh {
		ids[i] = r.ID
	}
	known := map[string]bool{}
	rows, err := tx.QueryContext(ctx, s.knownAuditQuery(), s.idList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		known[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]AuditRecord, 0, len(fresh))
	for _, r := range fresh {
		if !known[r.ID] {
			out = append(out, r)
		}
	}
	return out, nil
}

// knownAuditQuery finds which of a list of ids are stored. The list is one
// parameter, so the text never changes with the batch's size: an IN list
// of one placeholder per id made SQLite parse a new statement for every
// batch the audit writer wrote.
func (s *sqlStore) knownAuditQuery() string {
	if s.dialect == dialectPostgres {
		return `SELECT id FROM audit_records WHERE id = ANY($1)`
	}
	return `SELECT id FROM audit_records WHERE id IN (SELECT value FROM json_each(?))`
}

// idList is ids as knownAuditQuery's parameter: a text array for
// PostgreSQL, a JSON array for SQLite.
func (s *sqlStore) idList(ids []string) any {
	if s.dialect == dialectPostgres {
		return ids
	}
	b, _ := json.Marshal(ids) // a []string always encodes
	return string(b)
}

func (s *sqlStore) auditHead(ctx context.Context, ex execer) (ChainHead, error) {
	var h ChainHead
	err := ex.QueryRowContext(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
	if err == sql.ErrNoRows {
		return ChainHead{}, nil
	}
	return h, err
}

// AuditHead implements AuditStore.
func (s *sqlStore) AuditHead(ctx context.Context) (ChainHead, error) {
	h, err := s.auditHead(ctx, s.db)
	return h, mapErr(err, "store: audit head")
}

// AuditRecords implements AuditStore.
func (s *sqlStore) AuditRecords(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	where, args := timeRange(f.From, f.To)
	if f.FromSeq > 0 {
		where, args = append(where, "seq >= ?"), append(args, f.FromSeq)
	}
	if f.TeamID != "" {
		where, args = append(where, "team_id = ?"), append(args, f.TeamID)
	}
	query := `SELECT ` + auditColumns + ` FROM audit_records`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq"
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, mapErr(err, "store: audit records")
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, mapErr(err, "store: audit records")
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err(), "store: audit records")
}

// InsertCheckpoint implements AuditStore.
func (s *sqlStore) InsertCheckpoint(ctx context.Context, cp AuditCheckpoint) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO audit_checkpoints (seq, hash, signature, public_key_id, time)
		VALUES (?, ?, ?, ?, ?)`), cp.Seq, cp.Hash, cp.Signature, cp.PublicKeyID, micros(orNow(cp.Time)))
	return mapErr(err, "store: insert checkpoint")
}

// Checkpoints implements AuditStore.
func (s *sqlStore) Checkpoints(ctx context.Context) ([]AuditCheckpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, hash, signature, public_key_id, time FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, mapErr(err, "store: checkpoints")
	}
	defer rows.Close()
	var out []AuditCheckpoint
	for rows.Next() {
		var cp AuditCheckpoint
		var t int64
		if err := rows.Scan(&cp.Seq, &cp.Hash, &cp.Signature, &cp.PublicKeyID, &t); err != nil {
			return nil, mapErr(err, "store: checkpoints")
		}
		cp.Time = fromMicros(t)
		out = append(out, cp)
	}
	return out, mapErr(rows.Err(), "store: checkpoints")
}

// PurgeAudit implements AuditStore.
func (s *sqlStore) PurgeAudit(ctx context.Context, beforeSeq int64) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM audit_records WHERE seq < ?`), beforeSeq)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM audit_checkpoints WHERE seq < ?`), beforeSeq)
		return err
	})
	return n, mapErr(err, "store: purge audit")
}
