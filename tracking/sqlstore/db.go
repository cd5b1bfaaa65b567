package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mlops-lab/housing/tracking"
)

// maxVars bounds the bound variables of one statement; SQLite allows 32766 and
// PostgreSQL 65535, so multi-row inserts and IN lists are chunked under this.
const maxVars = 30000

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// sqlExecer runs statements: a *sql.Tx, or the group writer's connection.
type sqlExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// txn is a transaction that rewrites ? placeholders for the store's dialect.
type txn struct {
	sqlExecer
	s *Store
	// readOnly is set on SQLite read transactions: their queries use the
	// store's prepared statements (readStmts).
	readOnly *sql.Tx
	// pgRead is the connection of a PostgreSQL read transaction, through which
	// queryAll pipelines queries (see pgReadTx).
	pgRead *sql.Conn
}

// QueryContext runs query in the transaction, with a statement prepared once
// when it is a SQLite read transaction.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.readOnly != nil {
		if st := t.s.reads.get(query); st != nil {
			return t.readOnly.StmtContext(ctx, st).QueryContext(ctx, args...)
		}
	}
	return t.sqlExecer.QueryContext(ctx, query, args...)
}

func (t *txn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := refuseNUL(args); err != nil {
		return nil, err
	}
	return t.ExecContext(ctx, t.s.rebind(query), args...)
}

// refuseNUL refuses to write text holding a NUL character: PostgreSQL's text
// types cannot store one (and would fail the write), so SQLite must not keep
// it either. The server names the request field first; this is the store's
// own guard, for writes that do not come through it.
func refuseNUL(args []any) error {
	for _, a := range args {
		if s, ok := a.(string); ok && strings.IndexByte(s, 0) >= 0 {
			if len(s) > 60 {
				s = s[:60] + "..."
			}
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Invalid value %q supplied: NUL characters (\\u0000) are not allowed in stored text.", s)
		}
	}
	return nil
}

func (t *txn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.QueryContext(ctx, t.s.rebind(query), args...)
}

func (t *txn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.QueryRowContext(ctx, t.s.rebind(query), args...)
}

// inTx runs fn in a write transaction: begin, fn, commit; rolled back when fn fails.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	return s.runTx(ctx, nil, fn)
}

// readTx runs fn in a read-only transaction, so the reads see one snapshot: a
// SQLite transaction does; on PostgreSQL that takes REPEATABLE READ (under its
// default READ COMMITTED each statement sees its own), which costs nothing
// more for a transaction that only reads (see pgReadTx).
func (s *Store) readTx(ctx context.Context, fn func(tx *txn) error) error {
	return s.runTx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

func (s *Store) runTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *txn) error) error {
	readOnly := opts != nil && opts.ReadOnly
	if !readOnly && s.writer != nil {
		return s.writer.run(ctx, fn)
	}
	if readOnly && s.dialect == dialectPostgres {
		return s.pgReadTx(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return dbError(err, "begin transaction")
	}
	defer tx.Rollback()
	t := &txn{sqlExecer: tx, s: s}
	if readOnly && s.reads != nil {
		t.readOnly = tx
	}
	if err := fn(t); err != nil {
		return err
	}
	return dbError(tx.Commit(), "commit")
}

// pgReadTx runs fn in a REPEATABLE READ READ ONLY transaction begun on a
// connection of its own rather than through database/sql's Tx, so that
// queryAll can send several queries on it in one round trip (pgx's batches).
// A transaction left open (fn failed and ROLLBACK could not be sent) does not
// go back to the pool: pgx's driver discards a connection that is not idle.
func (s *Store) pgReadTx(ctx context.Context, fn func(tx *txn) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return dbError(err, "begin transaction")
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return dbError(err, "begin transaction")
	}
	if err := fn(&txn{sqlExecer: conn, s: s, pgRead: conn}); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return dbError(err, "commit")
}

// rowScanner is a row: of *sql.Rows, *sql.Row or pgx.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// rowQuery is a query (with ? or $n placeholders) and what to do with each
// of its rows; op says what it does, for errors.
type rowQuery struct {
	op    string
	query string
	args  []any
	row   func(rowScanner) error
}

// queryAll runs the queries one after the other in tx. In a PostgreSQL read
// transaction it sends them together as one pgx batch: one round trip, and the
// server runs each next query while the rows of the one before are read.
func (t *txn) queryAll(ctx context.Context, qs ...rowQuery) error {
	if t.pgRead == nil {
		for _, q := range qs {
			if err := eachRow(ctx, t, q.query, q.args, func(r *sql.Rows) error { return q.row(r) }); err != nil {
				return dbError(err, q.op)
			}
		}
		return nil
	}
	return t.pgRead.Raw(func(driverConn any) error {
		conn := driverConn.(*stdlib.Conn).Conn()
		batch := &pgx.Batch{}
		for _, q := range qs {
			batch.Queue(t.s.rebind(q.query), q.args...)
		}
		results := conn.SendBatch(ctx, batch)
		for _, q := range qs {
			if err := readRows(results, q); err != nil {
				results.Close()
				return dbError(err, q.op)
			}
		}
		return dbError(results.Close(), "close the batch")
	})
}

// readRows hands each row of the batch's next result to q.row.
func readRows(results pgx.BatchResults, q rowQuery) error {
	rows, err := results.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := q.row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// rebind turns ? placeholders into $1, $2, ... for PostgreSQL. Queries never
// contain a literal question mark.
func (s *Store) rebind(query string) string {
	if s.dialect != dialectPostgres || !strings.Contains(query, "?") {
		return query
	}
	if q, ok := s.rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	out := b.String()
	if len(query) < 4096 {
		s.rebound.Store(query, out)
	}
	return out
}

// placeholders returns "(?, ?, ?), (?, ?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(one+", ", rows-1) + one
}

// inList returns "?, ?, ?" for n values.
func inList(n int) string {
	return strings.Repeat("?, ", n-1) + "?"
}

// insertRows inserts rows (each a slice of len(cols) values) into table with one
// multi-row INSERT per chunk; suffix is appended (ON CONFLICT ...).
func (t *txn) insertRows(ctx context.Context, table string, cols []string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	args := make([]any, 0, len(rows)*len(cols))
	for _, r := range rows {
		args = append(args, r...)
	}
	return t.insertFlat(ctx, table, cols, args, suffix)
}

// insertFlat is insertRows of the rows' values one after the other.
func (t *txn) insertFlat(ctx context.Context, table string, cols []string, args []any, suffix string) error {
	per := maxVars / len(cols) * len(cols)
	for start := 0; start < len(args); start += per {
		end := min(start+per, len(args))
		q := t.s.insertQuery(table, cols, (end-start)/len(cols), suffix)
		if _, err := t.exec(ctx, q, args[start:end]...); err != nil {
			return dbError(err, "insert into "+table)
		}
	}
	return nil
}

// insertQuery returns the text of a multi-row INSERT, kept for up to
// maxKeptInsertRows rows (a combined log-batch of a few clients' requests),
// so that it is not written again for each request.
func (s *Store) insertQuery(table string, cols []string, rows int, suffix string) string {
	names := strings.Join(cols, ", ")
	write := func() string {
		return "INSERT INTO " + table + " (" + names + ") VALUES " + placeholders(rows, len(cols)) + " " + suffix
	}
	if rows > maxKeptInsertRows {
		return write()
	}
	k := insertKey{table, names, suffix, rows}
	if q, ok := s.inserts.Load(k); ok {
		return q.(string)
	}
	q := write()
	s.inserts.Store(k, q)
	return q
}

// maxKeptInsertRows bounds the INSERT texts insertQuery keeps: for each
// table, columns and suffix, up to this many texts of 1 to this many rows.
const maxKeptInsertRows = 128

type insertKey struct {
	table, cols, suffix string
	rows                int
}

// chunks calls fn with consecutive slices of ids of at most n elements.
func chunks[T any](ids []T, n int, fn func([]T) error) error {
	for start := 0; start < len(ids); start += n {
		if err := fn(ids[start:min(start+n, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// dbError turns a database error into a tracking error whose code says what the
// caller can do: TEMPORARILY_UNAVAILABLE when the database cannot be reached or is
// busy (retry), RESOURCE_ALREADY_EXISTS for unique violations,
// INVALID_PARAMETER_VALUE for values the schema refuses, INTERNAL_ERROR otherwise.
// It classifies by driver codes, never by message text. nil stays nil.
func dbError(err error, op string) error {
	if err == nil {
		return nil
	}
	var te *tracking.Error
	if errors.As(err, &te) {
		return err
	}
	code := classify(err)
	msg := op + ": database error"
	switch code {
	case tracking.ErrTemporarilyUnavailable:
		msg = op + ": the database is unavailable, try again"
	case tracking.ErrResourceAlreadyExists:
		msg = op + ": already exists"
	case tracking.ErrInvalidParameterValue:
		msg = op + ": value refused by the database schema"
	}
	return &tracking.Error{Code: code, Message: msg, Err: err}
}

func classify(err error) tracking.ErrorCode {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return tracking.ErrResourceAlreadyExists
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return tracking.ErrInvalidParameterValue
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
			return tracking.ErrTemporarilyUnavailable
		}
		return tracking.ErrInternal
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return tracking.ErrResourceAlreadyExists
		case pe.Code == "23503", pe.Code == "23514", pe.Code == "23502", pe.Code == "22001", pe.Code == "22003", pe.Code == "22021":
			return tracking.ErrInvalidParameterValue
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), pe.Code == "57P01",
			pe.Code == "57P02", pe.Code == "57P03", pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03":
			return tracking.ErrTemporarilyUnavailable
		}
		return tracking.ErrInternal
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return tracking.ErrTemporarilyUnavailable
	}
	return tracking.ErrInternal
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	return classify(err) == tracking.ErrResourceAlreadyExists
}
