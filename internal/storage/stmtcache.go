package storage

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

const (
	// maxCachedStmts bounds the prepared statements kept per handle.
	maxCachedStmts = 256
	// prepareAfterUses is how often a statement must run before it is
	// prepared: one-off statements are not worth keeping.
	prepareAfterUses = 2
)

// stmtCache keeps the statements SQLite runs again and again prepared.
// Preparing (parsing and planning) a multi-row INSERT costs more than
// running it: before the cache, SQLite's parser took a fifth of the CPU
// of sending messages (pprof), and preparing reads a sixth of an initial
// sync's. PostgreSQL needs none: pgx prepares and caches statements per
// connection itself.
//
// In a transaction only statements that return no rows are cached: a
// prepared statement has one cursor, and two open result sets of the same
// query in one transaction would share it. Reads outside a transaction
// (readOne) each run on a connection of their own, so they are cached too,
// in a cache of the readers.
//
// A statement cannot be prepared inside a transaction without dying with
// it, and the writer's only connection is busy until the transaction
// ends; so a transaction notes the statements it ran unprepared, and they
// are prepared once it has released the connection.
type stmtCache struct {
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	uses    map[string]int // runs of statements not prepared yet
	pending []string       // to prepare after the current transaction
}

func newStmtCache() *stmtCache {
	return &stmtCache{stmts: map[string]*sql.Stmt{}, uses: map[string]int{}}
}

// get returns the prepared statement for query, or nil after noting the
// run. A nil cache caches nothing.
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		return s
	}
	if len(c.stmts)+len(c.pending) >= maxCachedStmts {
		return nil
	}
	if len(c.uses) >= 4*maxCachedStmts {
		clear(c.uses) // many distinct one-off statements: start counting afresh
	}
	c.uses[query]++
	if c.uses[query] == prepareAfterUses {
		delete(c.uses, query)
		c.pending = append(c.pending, query)
	}
	return nil
}

// preparePending prepares the statements noted since the last call on h,
// which must have a free connection. A statement that fails to prepare is
// simply run unprepared.
func (c *stmtCache) preparePending(ctx context.Context, h *sql.DB) {
	if c == nil {
		return
	}
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, q := range pending {
		s, err := h.PrepareContext(ctx, sqliteParams(q))
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.stmts[q]; ok {
			s.Close()
		} else {
			c.stmts[q] = s
		}
		c.mu.Unlock()
	}
}

// close releases every prepared statement.
func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
	return nil
}

// sqliteParams rewrites $1, $2, ... $n, when each appears once and in that
// order, as SQLite's anonymous ? parameters. SQLite treats $N as a named
// parameter and looks names up by a linear scan, both when parsing and on
// every bind, which is quadratic in a multi-row INSERT; ? parameters are
// numbered as they come. Any other use of $ is left alone ($N works, only
// slower).
func sqliteParams(query string) string {
	var b strings.Builder
	next := 1
	for i := 0; i < len(query); i++ {
		ch := query[i]
		if ch == '\'' || ch == '"' {
			return query // a literal could hold a $: not worth parsing SQL
		}
		if ch != '$' {
			b.WriteByte(ch)
			continue
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(query[i+1 : j])
		if err != nil || n != next {
			return query
		}
		next++
		b.WriteByte('?')
		i = j - 1
	}
	return b.String()
}
