package store

import (
	"context"
	"database/sql"
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
// order, inside tx, and returns how many rows were inserted.
func (ri *rowInserter) insert(ctx context.Context, tx *sql.Tx, args []any) (int64, error) {
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

func (ri *rowInserter) stmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if st := ri.stmts[rows]; st != nil {
		return st, nil
	}
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
	st, err := ri.s.db.PrepareContext(ctx, ri.s.q(b.String()))
	if err != nil {
		return nil, err
	}
	ri.stmts[rows] = st
	return st, nil
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
