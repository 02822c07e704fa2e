package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// sqlStore implements Store for both engines over database/sql; PostgreSQL
// connections come from a pgxpool wrapped by pgx's stdlib adapter.
type sqlStore struct {
	db      *sql.DB
	dialect dialect
	pool    *pgxpool.Pool // or nil for SQLite

	usageRows, auditRows *rowInserter
}

func newSQLStore(db *sql.DB, d dialect, pool *pgxpool.Pool) *sqlStore {
	s := &sqlStore{db: db, dialect: d, pool: pool}
	s.usageRows = newRowInserter(s, "usage_records", usageColumns, "ON CONFLICT (request_id) DO NOTHING")
	s.auditRows = newRowInserter(s, "audit_records", auditColumns, "")
	return s
}

// Open connects to the database named by dsn and applies pending
// migrations. "postgres://..." or "postgresql://..." selects PostgreSQL
// (pgx options such as search_path may ride in the query string);
// "sqlite:///abs/path.db", "sqlite:rel/path.db" or a plain file path
// selects SQLite in WAL mode with a 5s busy timeout, creating the parent
// folder when missing. A SQLite DSN has no query string: everything after
// the scheme is the file path, taken literally ('?', '#' and '%' are file
// name characters), as config.DataDir reads it too.
func Open(ctx context.Context, dsn string) (Store, error) {
	if dsn == "" {
		return nil, errors.New("store: empty DSN; set a file path such as data/switchyard.db or a postgres:// URL")
	}
	var s *sqlStore
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err = openPostgres(ctx, dsn)
	default:
		s, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openPostgres(ctx context.Context, dsn string) (*sqlStore, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: parse PostgreSQL DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	s := newSQLStore(stdlib.OpenDBFromPool(pool), dialectPostgres, pool)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: PostgreSQL at %s is unreachable: %w", cfg.ConnConfig.Host, err)
	}
	return s, nil
}

func openSQLite(dsn string) (*sqlStore, error) {
	path := strings.TrimPrefix(dsn, "sqlite://")
	path = strings.TrimPrefix(path, "sqlite:")
	if path == "" {
		return nil, fmt.Errorf("store: SQLite DSN %q names no file", dsn)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: create data folder: %w", err)
		}
	}
	// Immediate transactions take the write lock up front, so two writers
	// wait on busy_timeout instead of failing a lock upgrade with BUSY.
	params := "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", sqliteURI(path)+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	return newSQLStore(db, dialectSQLite, nil), nil
}

// sqliteURI returns the "file:" URI naming path. The driver splits its
// parameters off at the first '?' and SQLite ends the path at '?' or '#'
// and decodes %HH in it, so those three characters are escaped: unescaped,
// "a?b.db", "a#b.db" and "a" would all open the file "a". An absolute path
// gets an empty authority ("file:///..."), so one starting with "//" is
// not read as a host name.
func sqliteURI(path string) string {
	var b strings.Builder
	b.Grow(len(path) + 16)
	b.WriteString("file:")
	if strings.HasPrefix(path, "/") {
		b.WriteString("//")
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Ping implements Store.
func (s *sqlStore) Ping(ctx context.Context) error {
	return s.db.PingContext(ctx)
}

// Close implements Store.
func (s *sqlStore) Close() error {
	s.usageRows.close()
	s.auditRows.close()
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// q rewrites the ?-placeholders every query is written with into $n for
// PostgreSQL. No query here has a literal '?'.
func (s *sqlStore) q(query string) string {
	if s.dialect != dialectPostgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *sqlStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

var _ Store = (*sqlStore)(nil)
