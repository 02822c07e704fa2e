package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver for Exec
	_ "modernc.org/sqlite"             // registers the "sqlite" driver for Exec

	"github.com/switchyard/switchyard/internal/store"
)

// PostgresEnv names the variable holding the test PostgreSQL URL, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresEnv = "SWITCHYARD_TEST_POSTGRES_URL"

// Engine is one database engine the suites run against.
type Engine struct {
	// Name is "sqlite" or "postgres"; use it as the subtest name.
	Name string
	// NewDSN returns the DSN of a fresh, empty database that is removed
	// when the test ends. For PostgreSQL it skips the test when
	// PostgresEnv is unset outside CI and fails it inside CI (CI=true).
	NewDSN func(t testing.TB) string
}

// Engines returns SQLite and PostgreSQL.
func Engines() []Engine {
	return []Engine{
		{Name: "sqlite", NewDSN: SQLiteDSN},
		{Name: "postgres", NewDSN: PostgresDSN},
	}
}

// SQLiteDSN returns a DSN for a new SQLite file in a temp folder.
func SQLiteDSN(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "switchyard.db")
}

// PostgresDSN creates a schema sy_test_<random>, returns a DSN whose
// search_path points at it and drops it (CASCADE) at cleanup, so parallel
// runs never see each other's tables.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	ci := os.Getenv("CI") == "true"
	if base == "" {
		if ci {
			t.Fatalf("%s is unset but CI=true: PostgreSQL tests must run in CI; export %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresEnv, PostgresEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", PostgresEnv)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "sy_test_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s (%s): %v", PostgresEnv, redact(base), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// Open opens dsn with store.Open and closes it at cleanup.
func Open(t testing.TB, dsn string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Exec runs raw SQL against dsn behind the Store's back, for tests that
// tamper with rows. Write placeholders as ?; they are rebound for
// PostgreSQL.
func Exec(t testing.TB, dsn, query string, args ...any) {
	t.Helper()
	driver, source := "sqlite", ""
	if strings.HasPrefix(dsn, "postgres") {
		driver, source = "pgx", dsn
		n := 0
		query = rebind(query, &n)
	} else {
		source = "file:" + strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:") + "?_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("raw exec %q: %v", query, err)
	}
}

func rebind(q string, n *int) string {
	var b strings.Builder
	for _, c := range q {
		if c == '?' {
			*n++
			fmt.Fprintf(&b, "$%d", *n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
