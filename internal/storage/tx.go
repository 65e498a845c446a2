package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// Tx is a transaction handed to ReadTx and WriteTx callbacks (or, for
// readOne, a single statement's handle). It must not be used after the
// callback returns.
type Tx struct {
	tx    *sql.Tx // nil for readOne
	q     runner  // tx, or the pool for readOne
	d     *dialect
	stmts *stmtCache // nil: nothing is prepared
}

// runner runs statements: a transaction, or a pool.
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Exec runs a statement that returns no rows.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.prepared(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, query, args...)
}

// prepared returns query's prepared statement, if it is cached.
func (t *Tx) prepared(ctx context.Context, query string) *sql.Stmt {
	s := t.stmts.get(query)
	if s != nil && t.tx != nil {
		return t.tx.StmtContext(ctx, s)
	}
	return s
}

// preparedQuery is prepared for statements that return rows. Outside a
// transaction only: in one, two open result sets of the same query would
// share its single cursor; outside, each runs on a connection of its own.
func (t *Tx) preparedQuery(ctx context.Context, query string) *sql.Stmt {
	if t.tx != nil {
		return nil
	}
	return t.prepared(ctx, query)
}

// execer runs statements whose results nobody reads: the statements of a
// write-only transaction.
type execer interface {
	exec(ctx context.Context, query string, args ...any) error
}

func (t *Tx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.Exec(ctx, query, args...)
	return err
}

// Query runs a statement that returns rows.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.preparedQuery(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, query, args...)
}

// QueryRow runs a statement that returns at most one row.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.preparedQuery(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, query, args...)
}

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint violation on this engine.
func (t *Tx) IsUniqueViolation(err error) bool { return t.d.isUniqueViolation(err) }

// ReadTx runs fn in a read-only transaction that sees one consistent
// snapshot of the database. Do not call ReadTx or WriteTx from inside fn:
// with SQLite's single writer connection (and ":memory:", where readers
// share it) nesting deadlocks.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.runTx(ctx, db.reader, db.d.readTxOptions, nil, fn)
}

// readOne runs fn, which reads with a single statement (or with several
// that need no common snapshot, such as the chunks of one IN list over
// rows bounded by stream positions), outside any transaction: one
// statement sees one snapshot on its own, and on PostgreSQL BEGIN and
// COMMIT would add two round trips to its one. The hot read paths (each
// /sync, each send) use it.
// On SQLite its frequent statements stay prepared (readStmts), as the
// writer's do.
func (db *DB) readOne(ctx context.Context, fn func(tx *Tx) error) error {
	defer db.readStmts.preparePending(context.WithoutCancel(ctx), db.reader)
	return fn(&Tx{q: db.reader, d: db.d, stmts: db.readStmts})
}

// WriteTx runs fn in a read-write transaction, committing if fn returns nil
// and rolling back otherwise. fn's error is returned unchanged. The same
// nesting rule as ReadTx applies.
func (db *DB) WriteTx(ctx context.Context, fn func(tx *Tx) error) error {
	// The statements it noted are prepared once the connection is free.
	defer db.writeStmts.preparePending(context.WithoutCancel(ctx), db.writer)
	return db.runTx(ctx, db.writer, nil, db.writeStmts, fn)
}

// writeOnly runs fn's statements as one write transaction. fn must not
// depend on a statement's outcome before the transaction ends: where the
// engine allows it (PostgreSQL), the statements are queued and sent
// together, a single round trip instead of one per statement and two for
// BEGIN and COMMIT.
func (db *DB) writeOnly(ctx context.Context, fn func(w execer) error) error {
	if db.pipeline != nil {
		return db.pipeline(ctx, fn)
	}
	return db.WriteTx(ctx, func(tx *Tx) error { return fn(tx) })
}

// writeUnflushed is writeOnly for data a power loss may take back: its
// commit does not wait for the disk where that costs a flush of its own
// (SQLite). Presence is such data; Synapse writes it once a minute.
func (db *DB) writeUnflushed(ctx context.Context, fn func(w execer) error) error {
	if db.unflushed != nil {
		return db.unflushed(ctx, fn)
	}
	return db.writeOnly(ctx, fn)
}

func (db *DB) runTx(ctx context.Context, h *sql.DB, opts *sql.TxOptions, stmts *stmtCache, fn func(tx *Tx) error) error {
	sqlTx, err := h.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin %s transaction: %w", db.engine, err)
	}
	// Roll back whenever we do not reach Commit: on error and on panic
	// (which then carries on unwinding).
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(&Tx{tx: sqlTx, q: sqlTx, d: db.d, stmts: stmts}); err != nil {
		return err
	}
	committed = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit %s transaction: %w", db.engine, err)
	}
	return nil
}
