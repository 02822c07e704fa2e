package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

const approvalColumns = `id, status, key_id, team_id, tool, arguments_redacted, digest, policy_version, reason,
	created_at, expires_at, decided_by, decided_at, comment, payload`

func scanApproval(sc scanner) (Approval, error) {
	var a Approval
	var created, expires int64
	var decided sql.NullInt64
	var payload string
	if err := sc.Scan(&a.ID, &a.Status, &a.KeyID, &a.TeamID, &a.Tool, &a.ArgumentsRedacted, &a.Digest,
		&a.PolicyVersion, &a.Reason, &created, &expires, &a.DecidedBy, &decided, &a.Comment, &payload); err != nil {
		return Approval{}, err
	}
	a.CreatedAt, a.ExpiresAt, a.DecidedAt, a.Payload = fromMicros(created), fromMicros(expires), fromNullMicros(decided), rawOrNil(payload)
	return a, nil
}

// CreateApproval implements ApprovalStore.
func (s *sqlStore) CreateApproval(ctx context.Context, a Approval) (Approval, error) {
	if a.ID == "" {
		a.ID = NewID("apr")
	}
	if a.Status == "" {
		a.Status = ApprovalPending
	}
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = orNow(a.CreatedAt), Truncate(a.ExpiresAt), truncPtr(a.DecidedAt)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO approvals (`+approvalColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.Status, a.KeyID, a.TeamID, a.Tool, a.ArgumentsRedacted, a.Digest, a.PolicyVersion, a.Reason,
		micros(a.CreatedAt), micros(a.ExpiresAt), a.DecidedBy, nullMicros(a.DecidedAt), a.Comment, string(a.Payload))
	return a, mapErr(err, "store: create approval")
}

// Approval implements ApprovalStore.
func (s *sqlStore) Approval(ctx context.Context, id string) (Approval, error) {
	a, err := scanApproval(s.db.QueryRowContext(ctx, s.q(`SELECT `+approvalColumns+` FROM approvals WHERE id = ?`), id))
	return a, mapErr(err, "store: approval "+id)
}

// ListApprovals implements ApprovalStore.
func (s *sqlStore) ListApprovals(ctx context.Context, f ApprovalFilter) ([]Approval, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{{"status", f.Status}, {"team_id", f.TeamID}, {"key_id", f.KeyID}} {
		if c.val != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.val)
		}
	}
	query := `SELECT ` + approvalColumns + ` FROM approvals`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id"
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, mapErr(err, "store: list approvals")
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, mapErr(err, "store: list approvals")
		}
		out = append(out, a)
	}
	return out, mapErr(rows.Err(), "store: list approvals")
}

// DecideApproval implements ApprovalStore. The UPDATE only matches a
// pending row, so two replicas deciding at once cannot both win.
func (s *sqlStore) DecideApproval(ctx context.Context, id string, d Decision) (Approval, error) {
	if d.Status != ApprovalApproved && d.Status != ApprovalDenied {
		return Approval{}, fmt.Errorf("store: decide approval %s: status %q must be approved or denied: %w", id, d.Status, ErrConflict)
	}
	at := orNow(d.At)
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?
		WHERE id = ? AND status = ? AND expires_at > ?`),
		d.Status, d.By, micros(at), d.Comment, id, ApprovalPending, micros(at))
	if err != nil {
		return Approval{}, mapErr(err, "store: decide approval "+id)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Approval{}, mapErr(err, "store: decide approval "+id)
	}
	a, err := s.Approval(ctx, id)
	if err != nil || n == 1 {
		return a, err
	}
	switch {
	case a.Status == d.Status:
		return a, nil
	case a.Status == ApprovalPending, a.Status == ApprovalExpired:
		return a, fmt.Errorf("store: decide approval %s: it expired at %s: %w", id, a.ExpiresAt.Format(time.RFC3339), ErrConflict)
	default:
		return a, fmt.Errorf("store: decide approval %s: already %s by %s: %w", id, a.Status, a.DecidedBy, ErrConflict)
	}
}

// ExpireApprovals implements ApprovalStore.
func (s *sqlStore) ExpireApprovals(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE approvals SET status = ? WHERE status = ? AND expires_at <= ?`),
		ApprovalExpired, ApprovalPending, micros(now))
	if err != nil {
		return 0, mapErr(err, "store: expire approvals")
	}
	n, err := res.RowsAffected()
	return n, mapErr(err, "store: expire approvals")
}
