package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteBusyTimeoutMS bounds how long a connection waits for a lock held by
// another connection or process (e.g. an admin command on the same file,
// or a reader during WAL recovery) before failing with SQLITE_BUSY. Within
// one process writers never contend: they share one connection.
const sqliteBusyTimeoutMS = 10000

func openSQLite(ctx context.Context, opts Options, log *slog.Logger) (*DB, error) {
	path := opts.SQLitePath
	if path == "" {
		return nil, fmt.Errorf("storage: sqlite3 needs a database path (or \":memory:\")")
	}
	db := &DB{engine: EngineSQLite, d: sqliteDialect, log: log}

	// Common pragmas. synchronous=FULL makes every COMMIT fsync the WAL
	// before returning, so an acknowledged write (a registration, a sent
	// event) survives power loss and OS crashes, not only kill -9. The
	// default for WAL (NORMAL) may lose the last transactions on power loss.
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeoutMS))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(FULL)")
	// Multi-row statements open a statement journal; keep it in memory
	// rather than in a temporary file (about a tenth of the CPU of a
	// notification-heavy write, measured with pprof).
	common.Add("_pragma", "temp_store(MEMORY)")

	if path == ":memory:" {
		// Every connection to ":memory:" is a separate empty database, so
		// readers and the writer share one connection that is never closed.
		q := cloneValues(common)
		q.Set("_txlock", "immediate")
		h, err := sql.Open("sqlite", "file::memory:?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite :memory:: %w", err)
		}
		h.SetMaxOpenConns(1)
		h.SetMaxIdleConns(1)
		h.SetConnMaxLifetime(0)
		h.SetConnMaxIdleTime(0)
		db.writer, db.reader = h, h
		db.writeStmts = newStmtCache()
		db.closers = append(db.closers, db.writeStmts.close, h.Close)
		if err := h.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite :memory:: %w", err)
		}
		log.Info("opened database", "engine", EngineSQLite, "path", path)
		return db, nil
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Create the file ourselves so that it is private: it holds password
	// and token hashes. SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()

	// A file: URI, so that any character in the path is escaped rather
	// than parsed as DSN syntax.
	fileURI := func(q url.Values) string {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
	}

	// The writer: one connection, so writes are serialised in database/sql
	// instead of failing with SQLITE_BUSY. BEGIN IMMEDIATE takes the write
	// lock up front; a deferred transaction that reads then writes could
	// otherwise fail to upgrade its lock if another process writes.
	wq := cloneValues(common)
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", fileURI(wq))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db.writer = w
	db.writeStmts = newStmtCache()
	db.closers = append(db.closers, db.writeStmts.close, w.Close)
	db.unflushed = db.sqliteUnflushed

	// Check the writer before opening readers: it creates the file and
	// switches it to WAL, which readers rely on to read during writes.
	mode, err := walMode(ctx, w)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: journal_mode is %q, not WAL (does the file system support shared memory?)", path, mode)
	}

	// The readers: a pool of query_only connections.
	rq := cloneValues(common)
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", fileURI(rq))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.reader = r
	db.readStmts = newStmtCache()
	// Close readers before the writer: the last connection to close
	// checkpoints the WAL into the main file.
	db.closers = append([]func() error{db.readStmts.close, r.Close}, db.closers...)
	if err := r.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	log.Info("opened database", "engine", EngineSQLite, "path", abs, "readers", n)
	return db, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// walMode opens the writer's connection, which switches the file to WAL,
// and reports the journal mode. Switching needs a moment of exclusive
// access, for which SQLite does not wait on its busy timeout: when another
// process opens the same file at that instant, the switch fails with
// SQLITE_BUSY, so it is retried within the same time budget.
func walMode(ctx context.Context, w *sql.DB) (string, error) {
	deadline := time.Now().Add(sqliteBusyTimeoutMS * time.Millisecond)
	for {
		var mode string
		err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		if err == nil || !isSQLiteBusy(err) || time.Now().After(deadline) {
			return mode, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sqliteUnflushed runs fn's statements as a write transaction whose commit
// does not wait for the disk (synchronous=NORMAL for that commit only).
// The WAL is written before it returns, so the process dying loses
// nothing; the next full commit flushes it, and only a power loss before
// then can take it back.
func (db *DB) sqliteUnflushed(ctx context.Context, fn func(execer) error) (err error) {
	conn, err := db.writer.Conn(ctx) // the only writer connection: nobody else commits meanwhile
	if err != nil {
		return fmt.Errorf("take the sqlite writer: %w", err)
	}
	defer func() {
		// Every other commit must flush: if the setting cannot be put back,
		// the connection is thrown away (the pool opens a fresh one).
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = FULL"); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("restore synchronous=FULL: %w", rerr))
		}
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&Tx{tx: tx, q: tx, d: db.d}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
