// Package storage is Axon's database layer. One API and one set of SQL run
// on two engines: SQLite (the default; modernc.org/sqlite is pure Go, so the
// binary stays static) and PostgreSQL (pgx). Everything that differs between
// the engines' SQL lives in dialect.go; connection set-up lives in sqlite.go
// and postgres.go.
//
// SQL is written once with $1-style placeholders, which both engines accept.
// Use RETURNING rather than sql.Result.LastInsertId (pgx does not support it).
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
)

// Engine names, as returned by DB.Engine. Open also accepts Synapse's
// spellings ("sqlite", "psycopg2", "postgresql").
const (
	EngineSQLite   = "sqlite3"
	EnginePostgres = "postgres"
)

// ErrNotFound is returned by lookups of a single row that does not exist.
var ErrNotFound = errors.New("storage: not found")

// Options selects and configures the database engine.
type Options struct {
	Engine string // EngineSQLite (default when empty) or EnginePostgres

	// SQLitePath is a file path, or ":memory:" for a throwaway database.
	SQLitePath string

	// PostgreSQL. Empty fields fall back to libpq's defaults and PG*
	// environment variables, as psycopg2 does for Synapse.
	User     string
	Password string
	DBName   string
	Host     string // host name, IP address, or Unix socket directory ("/...")
	Port     int
	SSLMode  string
	MinConns int // Synapse's cp_min; default 5
	MaxConns int // Synapse's cp_max; default 10

	// AllowUnsafeLocale starts even when the PostgreSQL database's collation
	// or ctype is not "C" (Synapse's database.allow_unsafe_locale).
	AllowUnsafeLocale bool
}

// DB is an open, migrated database.
type DB struct {
	engine string
	d      *dialect
	log    *slog.Logger

	// writer takes every write transaction. On SQLite it is a single
	// connection, so writers queue in database/sql instead of failing with
	// SQLITE_BUSY. On PostgreSQL it is the whole pool.
	writer *sql.DB
	// reader takes read-only transactions. On SQLite it is a separate pool
	// of query_only connections (WAL lets them read while the writer
	// writes); otherwise it is the same handle as writer.
	reader *sql.DB
	// writeStmts keeps the writer's frequent statements prepared (SQLite
	// only; nil otherwise).
	writeStmts *stmtCache
	// readStmts keeps frequent single-statement reads (readOne) prepared
	// on the readers (SQLite only; nil otherwise).
	readStmts *stmtCache
	// unflushed, if set, runs a write transaction whose commit does not
	// wait for the disk (SQLite; see writeUnflushed).
	unflushed func(ctx context.Context, fn func(w execer) error) error
	// pipeline, if set, runs a write-only transaction in one round trip
	// (PostgreSQL; see writeOnly).
	pipeline func(ctx context.Context, fn func(w execer) error) error
	// counts buffers changes to the unread totals (pushbuffer.go).
	counts *pushBuffer
	// closers release everything Open acquired, in order.
	closers []func() error
}

// Open connects to the database described by opts, checks that it is safe
// to use, and applies any pending migrations. A nil log discards messages.
func Open(ctx context.Context, opts Options, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	engine, err := NormalizeEngine(opts.Engine)
	if err != nil {
		return nil, err
	}
	var db *DB
	switch engine {
	case EngineSQLite:
		db, err = openSQLite(ctx, opts, log)
	case EnginePostgres:
		db, err = openPostgres(ctx, opts, log)
	}
	if err != nil {
		return nil, err
	}
	db.counts = newPushBuffer()
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.recoverPushCounts(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// NormalizeEngine maps an engine name, including Synapse's names for
// them, to EngineSQLite or EnginePostgres.
func NormalizeEngine(name string) (string, error) {
	switch name {
	case "", EngineSQLite, "sqlite":
		return EngineSQLite, nil
	case EnginePostgres, "postgresql", "psycopg2":
		return EnginePostgres, nil
	}
	return "", fmt.Errorf("storage: unknown database engine %q (want %q or %q)", name, EngineSQLite, EnginePostgres)
}

// Engine reports EngineSQLite or EnginePostgres.
func (db *DB) Engine() string { return db.engine }

// Ping checks that the database is reachable.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.engine, err)
	}
	return nil
}

// Close releases all connections. It is safe to call more than once.
func (db *DB) Close() error {
	var errs []error
	for _, c := range db.closers {
		errs = append(errs, c())
	}
	db.closers = nil
	return errors.Join(errs...)
}
