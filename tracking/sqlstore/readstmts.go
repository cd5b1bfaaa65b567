package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxReadStmts bounds the read queries kept prepared; maxReadStmtLen keeps out
// queries that are long because of what they carry (IN lists of many ids).
const (
	maxReadStmts   = 128
	maxReadStmtLen = 4096
)

// readStmts keeps the read queries of a SQLite store prepared. Parsing and
// planning a query costs SQLite about as much as reading a page of runs' rows
// (a search runs five queries), and the same few texts recur: searches of one
// shape, the per-table loads of a page of runs. A *sql.Stmt is prepared on each
// pool connection once, when a transaction on that connection first runs it
// (sql.Tx.StmtContext reuses it there after). PostgreSQL needs none of this:
// pgx caches prepared statements per connection itself.
//
// A query seen for the first time runs unprepared, and is prepared in the
// background: preparing on the pool needs a free connection, which the
// transaction asking (and every other one) may be holding.
type readStmts struct {
	db *sql.DB
	wg sync.WaitGroup

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt // nil value: being prepared, or did not prepare
	closed bool
}

func newReadStmts(db *sql.DB) *readStmts {
	return &readStmts{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns query prepared, or nil when it is not (yet) to be had.
func (c *readStmts) get(query string) *sql.Stmt {
	if len(query) > maxReadStmtLen {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok || c.closed || len(c.stmts) >= maxReadStmts {
		return st
	}
	c.stmts[query] = nil
	c.wg.Add(1)
	go c.prepare(query)
	return nil
}

func (c *readStmts) prepare(query string) {
	defer c.wg.Done()
	st, err := c.db.PrepareContext(context.Background(), query)
	if err != nil {
		return // stays nil: the query runs unprepared, and says why if it fails
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		st.Close()
		return
	}
	c.stmts[query] = st
}

// close closes the statements; get returns nil after. wait waits for the
// preparations in flight, which end once the database is closed.
func (c *readStmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for q, st := range c.stmts {
		if st != nil {
			st.Close()
		}
		delete(c.stmts, q)
	}
}

func (c *readStmts) wait() { c.wg.Wait() }
