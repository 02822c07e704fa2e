package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

const keyColumns = `id, name, prefix, hash, org_id, team_id, user_id, allowed_models, allowed_regions,
	allowed_providers, require_zdr, allow_route_override, metadata, rpm, tpm, expires_at, revoked_at,
	grace_until, rotated_to, created_at, updated_at`

func scanKey(sc scanner) (Key, error) {
	var (
		k                      Key
		models, regions, provs string
		meta                   string
		exp, rev, grace        sql.NullInt64
		created, updated       int64
	)
	if err := sc.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.OrgID, &k.TeamID, &k.UserID, &models, &regions,
		&provs, &k.RequireZDR, &k.AllowRouteOverride, &meta, &k.RPM, &k.TPM, &exp, &rev,
		&grace, &k.RotatedTo, &created, &updated); err != nil {
		return Key{}, err
	}
	var err error
	if k.AllowedModels, err = decList(models); err != nil {
		return Key{}, err
	}
	if k.AllowedRegions, err = decList(regions); err != nil {
		return Key{}, err
	}
	if k.AllowedProviders, err = decList(provs); err != nil {
		return Key{}, err
	}
	if k.Metadata, err = decMap(meta); err != nil {
		return Key{}, err
	}
	k.ExpiresAt, k.RevokedAt, k.GraceUntil = fromNullMicros(exp), fromNullMicros(rev), fromNullMicros(grace)
	k.CreatedAt, k.UpdatedAt = fromMicros(created), fromMicros(updated)
	return k, nil
}

func normalizeKey(k Key, now time.Time) Key {
	if k.ID == "" {
		k.ID = NewID("key")
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	k.CreatedAt = Truncate(k.CreatedAt)
	k.UpdatedAt = now
	k.ExpiresAt, k.RevokedAt, k.GraceUntil = truncPtr(k.ExpiresAt), truncPtr(k.RevokedAt), truncPtr(k.GraceUntil)
	return k
}

func (s *sqlStore) insertKey(ctx context.Context, ex execer, k Key) error {
	_, err := ex.ExecContext(ctx, s.q(`INSERT INTO keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.Name, k.Prefix, k.Hash, k.OrgID, k.TeamID, k.UserID, encList(k.AllowedModels), encList(k.AllowedRegions),
		encList(k.AllowedProviders), k.RequireZDR, k.AllowRouteOverride, encMap(k.Metadata), k.RPM, k.TPM,
		nullMicros(k.ExpiresAt), nullMicros(k.RevokedAt), nullMicros(k.GraceUntil), k.RotatedTo,
		micros(k.CreatedAt), micros(k.UpdatedAt))
	return mapErr(err, "store: create key")
}

// execer is the part of *sql.DB and *sql.Tx the writers need.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// CreateKey implements KeyStore.
func (s *sqlStore) CreateKey(ctx context.Context, k Key) (Key, error) {
	if k.Hash == "" {
		return Key{}, fmt.Errorf("store: create key: Hash is empty: %w", ErrConflict)
	}
	k = normalizeKey(k, Now())
	if err := s.insertKey(ctx, s.db, k); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Key implements KeyStore.
func (s *sqlStore) Key(ctx context.Context, id string) (Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+keyColumns+` FROM keys WHERE id = ?`), id))
	return k, mapErr(err, "store: key "+id)
}

// KeyByHash implements KeyStore.
func (s *sqlStore) KeyByHash(ctx context.Context, hash string) (Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+keyColumns+` FROM keys WHERE hash = ?`), hash))
	return k, mapErr(err, "store: key by hash")
}

// ListKeys implements KeyStore.
func (s *sqlStore) ListKeys(ctx context.Context, f KeyFilter) ([]Key, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{{"org_id", f.OrgID}, {"team_id", f.TeamID}, {"user_id", f.UserID}} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if !f.IncludeRevoked {
		where = append(where, "revoked_at IS NULL")
	}
	query := `SELECT ` + keyColumns + ` FROM keys`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id"
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return s.queryKeys(ctx, query, args...)
}

func (s *sqlStore) queryKeys(ctx context.Context, query string, args ...any) ([]Key, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, mapErr(err, "store: list keys")
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, mapErr(err, "store: list keys")
		}
		out = append(out, k)
	}
	return out, mapErr(rows.Err(), "store: list keys")
}

// UpdateKey implements KeyStore.
func (s *sqlStore) UpdateKey(ctx context.Context, k Key) (Key, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE keys SET name = ?, allowed_models = ?, allowed_regions = ?,
		allowed_providers = ?, require_zdr = ?, allow_route_override = ?, metadata = ?, rpm = ?, tpm = ?,
		expires_at = ?, updated_at = ? WHERE id = ?`),
		k.Name, encList(k.AllowedModels), encList(k.AllowedRegions), encList(k.AllowedProviders), k.RequireZDR,
		k.AllowRouteOverride, encMap(k.Metadata), k.RPM, k.TPM, nullMicros(truncPtr(k.ExpiresAt)), micros(Now()), k.ID)
	if err := affected(res, err, "store: update key "+k.ID); err != nil {
		return Key{}, err
	}
	return s.Key(ctx, k.ID)
}

// RevokeKey implements KeyStore.
func (s *sqlStore) RevokeKey(ctx context.Context, id string, at time.Time) (Key, error) {
	if at.IsZero() {
		at = Now()
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE keys SET revoked_at = COALESCE(revoked_at, ?), updated_at = ? WHERE id = ?`),
		micros(Truncate(at)), micros(Now()), id)
	if err := affected(res, err, "store: revoke key "+id); err != nil {
		return Key{}, err
	}
	return s.Key(ctx, id)
}

// RotateKey implements KeyStore.
func (s *sqlStore) RotateKey(ctx context.Context, id string, successor Key, graceUntil time.Time) (Key, error) {
	now := Now()
	successor = normalizeKey(successor, now)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanKey(tx.QueryRowContext(ctx, s.q(`SELECT `+keyColumns+` FROM keys WHERE id = ?`), id))
		if err != nil {
			return mapErr(err, "store: rotate key "+id)
		}
		if old.RevokedAt != nil {
			return fmt.Errorf("store: rotate key %s: it is revoked: %w", id, ErrConflict)
		}
		if old.RotatedTo != "" {
			return fmt.Errorf("store: rotate key %s: already rotated to %s: %w", id, old.RotatedTo, ErrConflict)
		}
		if err := s.insertKey(ctx, tx, successor); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE keys SET grace_until = ?, rotated_to = ?, updated_at = ? WHERE id = ?`),
			micros(Truncate(graceUntil)), successor.ID, micros(now), id)
		return mapErr(err, "store: rotate key "+id)
	})
	if err != nil {
		return Key{}, err
	}
	return successor, nil
}

// KeysChangedSince implements KeyStore.
func (s *sqlStore) KeysChangedSince(ctx context.Context, t time.Time) ([]Key, error) {
	return s.queryKeys(ctx, `SELECT `+keyColumns+` FROM keys WHERE updated_at >= ? ORDER BY updated_at, id`, micros(t))
}

// affected maps "no row changed" to ErrNotFound.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return mapErr(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err, what)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}
