package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
)

// insertSizes are the row counts of the multi-row INSERT statements a
// batch is cut into, largest first; any batch is a sum of them.
var insertSizes = [...]int{100, 20, 5, 1}

// rowInserter writes rows with multi-row INSERT statements of the fixed
// sizes above, each prepared once. Building one statement for each batch
// made SQLite parse a new text every time: a quarter of the background
// writers' CPU.
type rowInserter struct {
	s      *sqlStore
	prefix string // INSERT INTO table (columns) VALUES
	suffix string // e.g. ON CONFLICT (id) DO NOTHING
	width  int    // values per row

	mu    sync.Mutex // only the background writers insert, never a request
	stmts map[int]*sql.Stmt
}

func newRowInserter(s *sqlStore, table, columns, suffix string) *rowInserter {
	return &rowInserter{
		s: s, prefix: "INSERT INTO " + table + " (" + columns + ") VALUES ", suffix: suffix,
		width: strings.Count(columns, ",") + 1, stmts: map[int]*sql.Stmt{},
	}
}

// insert writes the rows whose values args holds, width per row in column
// order, inside tx, and returns how many rows were inserted. On PostgreSQL
// tx may be nil: the rows then go in with one statement of their own,
// which is atomic by itself.
func (ri *rowInserter) insert(ctx context.Context, tx *sql.Tx, args []any) (int64, error) {
	if ri.s.dialect == dialectPostgres {
		return ri.insertArrays(ctx, tx, args)
	}
	rows := len(args) / ri.width
	var inserted int64
	for done := 0; done < rows; {
		size := 1
		for _, n := range insertSizes {
			if rows-done >= n {
				size = n
				break
			}
		}
		st, err := ri.stmt(ctx, size)
		if err != nil {
			return inserted, err
		}
		res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args[done*ri.width:(done+size)*ri.width]...)
		if err != nil {
			return inserted, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return inserted, err
		}
		inserted += n
		done += size
	}
	return inserted, nil
}

// insertAtomic writes the rows of args all or none, in a transaction of
// their own: on PostgreSQL that is its one statement, with no BEGIN and
// COMMIT round trips.
func (ri *rowInserter) insertAtomic(ctx context.Context, args []any) (n int64, err error) {
	if ri.s.dialect == dialectPostgres {
		return ri.insertArrays(ctx, nil, args)
	}
	err = ri.s.inTx(ctx, func(tx *sql.Tx) error {
		n, err = ri.insert(ctx, tx, args)
		return err
	})
	return n, err
}

// insertArrays writes all rows with one statement that unnests an array
// parameter per column: one round trip for any batch, where the
// fixed-size statements took one per piece and PostgreSQL spent more CPU
// on those round trips than on the rows (docs/benchmarks.md).
func (ri *rowInserter) insertArrays(ctx context.Context, tx *sql.Tx, args []any) (int64, error) {
	if len(args) < ri.width {
		return 0, nil // no row: nothing to type the columns by
	}
	cols, types, err := columnArrays(args, ri.width)
	if err != nil {
		return 0, err
	}
	st, err := ri.stmtFor(ctx, arraysStmt, func() string {
		var b strings.Builder
		b.WriteString(ri.prefix[:len(ri.prefix)-len("VALUES ")] + "SELECT * FROM unnest(")
		for i, t := range types {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d::%s[]", i+1, t)
		}
		b.WriteString(")")
		if ri.suffix != "" {
			b.WriteString(" " + ri.suffix)
		}
		return b.String()
	})
	if err != nil {
		return 0, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	res, err := st.ExecContext(ctx, cols...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// arraysStmt keys the unnest statement among the fixed-size ones.
const arraysStmt = 0

// columnArrays turns row-major values into one typed slice per column,
// with the PostgreSQL type of its elements. A column's type is that of its
// first value; the store's columns are text, bigint and boolean.
func columnArrays(args []any, width int) (cols []any, types []string, err error) {
	rows := len(args) / width
	cols, types = make([]any, width), make([]string, width)
	for j := range width {
		switch args[j].(type) {
		case string:
			cols[j], err = column(args, width, j, rows, func(v any) (string, bool) { s, ok := v.(string); return s, ok })
			types[j] = "text"
		case int, int64:
			cols[j], err = column(args, width, j, rows, func(v any) (int64, bool) {
				switch n := v.(type) {
				case int:
					return int64(n), true
				case int64:
					return n, true
				}
				return 0, false
			})
			types[j] = "bigint"
		case bool:
			cols[j], err = column(args, width, j, rows, func(v any) (bool, bool) { b, ok := v.(bool); return b, ok })
			types[j] = "boolean"
		default:
			err = fmt.Errorf("store: column %d holds %T, which has no array form", j+1, args[j])
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return cols, types, nil
}

func column[T any](args []any, width, j, rows int, as func(any) (T, bool)) ([]T, error) {
	out := make([]T, rows)
	for i := range out {
		v, ok := as(args[i*width+j])
		if !ok {
			return nil, fmt.Errorf("store: row %d column %d holds %T where the first row has %T", i+1, j+1, args[i*width+j], args[j])
		}
		out[i] = v
	}
	return out, nil
}

func (ri *rowInserter) stmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	return ri.stmtFor(ctx, rows, func() string { return ri.rowsText(rows) })
}

// stmtFor returns the statement prepared under key, preparing text() the
// first time.
func (ri *rowInserter) stmtFor(ctx context.Context, key int, text func() string) (*sql.Stmt, error) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if st := ri.stmts[key]; st != nil {
		return st, nil
	}
	st, err := ri.s.db.PrepareContext(ctx, text())
	if err != nil {
		return nil, err
	}
	ri.stmts[key] = st
	return st, nil
}

// rowsText is the INSERT statement for rows rows of ? placeholders.
func (ri *rowInserter) rowsText(rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", ri.width), ", ") + ")"
	var b strings.Builder
	b.WriteString(ri.prefix)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if ri.suffix != "" {
		b.WriteString(" " + ri.suffix)
	}
	return ri.s.q(b.String())
}

// close releases the prepared statements.
func (ri *rowInserter) close() {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	for n, st := range ri.stmts {
		_ = st.Close()
		delete(ri.stmts, n)
	}
}
