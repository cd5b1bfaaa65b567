package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxGroup bounds the write transactions one commit serves.
const maxGroup = 64

// maxStmts bounds the statements the writer keeps prepared; queries beyond are
// prepared each time, as database/sql does.
const maxStmts = 256

// groupWriter runs the write transactions of a SQLite file on its one writer
// connection, with group commit: the transactions that queue up while one
// commits are run together in the next, each inside its own savepoint, and
// committed once. A transaction that fails rolls back to its savepoint and
// returns its error alone; the commit's error, if any, goes to all. Each commit
// writes its changed pages to the WAL once, so under concurrent writers the
// WAL writes, the page updates of the shared tables and indexes and the lock
// round trips are paid once per group instead of once per request. Statements
// are prepared once on the connection and kept.
//
// Callers see what they would with one transaction each: the group's
// transactions run one after the other, every caller waits for the commit, and
// reads (on the read pool) see none of them before it.
type groupWriter struct {
	s    *Store
	db   *sql.DB
	jobs chan *writeJob
	quit chan struct{}
	done chan struct{}
	once sync.Once

	// Owned by the writer goroutine.
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

type writeJob struct {
	ctx    context.Context
	fn     func(tx *txn) error
	result chan writeResult
}

type writeResult struct {
	err      error
	panicked any
}

func newGroupWriter(s *Store, db *sql.DB) *groupWriter {
	w := &groupWriter{s: s, db: db, jobs: make(chan *writeJob), quit: make(chan struct{}), done: make(chan struct{}),
		stmts: map[string]*sql.Stmt{}}
	go w.loop()
	return w
}

// run runs fn as one write transaction and returns its error once the
// transaction is committed or rolled back. A panic in fn is raised again here.
func (w *groupWriter) run(ctx context.Context, fn func(tx *txn) error) error {
	job := &writeJob{ctx: ctx, fn: fn, result: make(chan writeResult, 1)}
	select {
	case w.jobs <- job:
	case <-ctx.Done():
		return dbError(ctx.Err(), "begin transaction")
	case <-w.quit:
		return dbError(sql.ErrConnDone, "begin transaction")
	}
	// Wait even when ctx ends: fn may be running, and its statements see ctx.
	r := <-job.result
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// close stops the writer after the group in progress and releases the connection.
func (w *groupWriter) close() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
}

func (w *groupWriter) loop() {
	defer close(w.done)
	defer w.release()
	batch := make([]*writeJob, 0, maxGroup)
	for {
		select {
		case job := <-w.jobs:
			batch = append(batch[:0], job)
		case <-w.quit:
			return
		}
	collect:
		for len(batch) < maxGroup {
			select {
			case job := <-w.jobs:
				batch = append(batch, job)
			default:
				break collect
			}
		}
		w.commitGroup(batch)
	}
}

// release closes the prepared statements and the connection.
func (w *groupWriter) release() {
	for q, st := range w.stmts {
		st.Close()
		delete(w.stmts, q)
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// commitGroup runs the jobs in one transaction and sends each its result. A
// job alone in its group runs without a savepoint: the transaction is its own.
func (w *groupWriter) commitGroup(jobs []*writeJob) {
	results := make([]writeResult, len(jobs))
	alone := len(jobs) == 1
	err := w.begin()
	if err == nil {
		for i, job := range jobs {
			if results[i], err = w.runJob(job, !alone); err != nil {
				break
			}
		}
	}
	failedAlone := alone && (results[0].err != nil || results[0].panicked != nil)
	if err == nil && !failedAlone {
		if _, err = w.exec("COMMIT"); err != nil {
			err = dbError(err, "commit")
		}
	}
	if err != nil || failedAlone {
		w.exec("ROLLBACK")
	}
	for i, job := range jobs {
		if err != nil && results[i].err == nil && results[i].panicked == nil {
			results[i].err = err
		}
		job.result <- results[i]
	}
}

// exec runs a statement of the writer's own (BEGIN, SAVEPOINT, COMMIT ...),
// prepared once.
func (w *groupWriter) exec(query string) (sql.Result, error) {
	return preparedConn{w}.ExecContext(context.Background(), query)
}

// begin starts the group's transaction, taking a connection when it has none
// (at the start, or after an error that may have broken the last one).
func (w *groupWriter) begin() error {
	ctx := context.Background()
	if w.conn == nil {
		conn, err := w.db.Conn(ctx)
		if err != nil {
			return dbError(err, "begin transaction")
		}
		w.conn = conn
	}
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		w.release()
		return dbError(err, "begin transaction")
	}
	return nil
}

// runJob runs one job, inside a savepoint when savepoint is set, which it
// releases on success and rolls back to on error or panic. groupErr reports
// that the transaction itself failed (a savepoint could not be set, released
// or rolled back to, as when SQLite rolled the whole transaction back on an
// I/O error), so the group must stop. Without a savepoint the caller rolls
// the transaction back when the job fails.
func (w *groupWriter) runJob(job *writeJob, savepoint bool) (r writeResult, groupErr error) {
	if err := job.ctx.Err(); err != nil {
		return writeResult{err: dbError(err, "begin transaction")}, nil
	}
	if savepoint {
		if _, err := w.exec("SAVEPOINT housing_job"); err != nil {
			return writeResult{}, dbError(err, "begin transaction")
		}
	}
	defer func() {
		if p := recover(); p != nil {
			r = writeResult{panicked: p}
		}
		if !savepoint {
			return
		}
		if r.err != nil || r.panicked != nil {
			if _, err := w.exec("ROLLBACK TO housing_job"); err != nil {
				groupErr = dbError(err, "roll back")
			}
		}
		if _, err := w.exec("RELEASE housing_job"); err != nil && groupErr == nil {
			groupErr = dbError(err, "commit")
		}
	}()
	return writeResult{err: job.fn(&txn{sqlExecer: preparedConn{w}, s: w.s})}, nil
}

// preparedConn runs statements on the writer's connection, prepared once. It
// runs them to the end even when the caller's context is cancelled: the driver
// interrupts a cancelled statement by interrupting the connection, which could
// land on the next job's statement or on the group's COMMIT. A job whose caller
// has gone before it starts is skipped (runJob).
type preparedConn struct{ w *groupWriter }

func (p preparedConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.w.stmts[query]; ok {
		return st, nil
	}
	if len(p.w.stmts) >= maxStmts {
		return nil, nil
	}
	st, err := p.w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.w.stmts[query] = st
	return st, nil
}

func (p preparedConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	st, err := p.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return p.w.conn.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (p preparedConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	st, err := p.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return p.w.conn.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p preparedConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	st, err := p.stmt(ctx, query)
	if err != nil || st == nil {
		// QueryRowContext carries a preparation error to Scan.
		return p.w.conn.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
