package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Synapse's defaults for cp_min and cp_max.
const (
	defaultMinConns = 5
	defaultMaxConns = 10
)

func openPostgres(ctx context.Context, opts Options, log *slog.Logger) (*DB, error) {
	cfg, err := postgresConfig(opts)
	if err != nil {
		return nil, err
	}
	target := describePostgres(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres %s: %w", target, err)
	}
	// The pool connects lazily; fail now, with the target in the message,
	// rather than on the first query.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", target, err)
	}
	h := stdlib.OpenDBFromPool(pool)
	db := &DB{engine: EnginePostgres, d: postgresDialect, log: log, writer: h, reader: h, pipeline: pipelineOn(pool)}
	// Closing the *sql.DB does not close the pool.
	db.closers = append(db.closers, h.Close, func() error { pool.Close(); return nil })
	if err := checkPostgres(ctx, h, opts.AllowUnsafeLocale, log); err != nil {
		db.Close()
		return nil, err
	}
	log.Info("opened database", "engine", EnginePostgres, "target", target,
		"min_conns", cfg.MinConns, "max_conns", cfg.MaxConns)
	return db, nil
}

// postgresConfig builds the pool configuration. Values are passed as a
// keyword/value connection string with every value quoted, so no value can
// inject another setting; unset values are left out so that libpq's
// defaults and PG* environment variables apply, as with psycopg2.
func postgresConfig(opts Options) (*pgxpool.Config, error) {
	var kv []string
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, k+"="+quoteConnValue(v))
		}
	}
	for _, v := range []string{opts.User, opts.Password, opts.DBName, opts.Host, opts.SSLMode} {
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("storage: postgres settings must not contain NUL bytes")
		}
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("storage: invalid postgres port %d", opts.Port)
	}
	add("host", opts.Host)
	if opts.Port != 0 {
		add("port", strconv.Itoa(opts.Port))
	}
	add("user", opts.User)
	add("password", opts.Password)
	add("dbname", opts.DBName)
	add("sslmode", opts.SSLMode)
	cfg, err := pgxpool.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		// The error may quote the connection string; do not leak the password.
		return nil, fmt.Errorf("storage: invalid postgres settings (host %q, port %d, user %q, dbname %q, sslmode %q)",
			opts.Host, opts.Port, opts.User, opts.DBName, opts.SSLMode)
	}
	minConns, maxConns := opts.MinConns, opts.MaxConns
	if minConns <= 0 {
		minConns = defaultMinConns
	}
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	if minConns > maxConns {
		return nil, fmt.Errorf("storage: postgres cp_min (%d) is larger than cp_max (%d)", minConns, maxConns)
	}
	cfg.MinConns = int32(minConns)
	cfg.MaxConns = int32(maxConns)
	return cfg, nil
}

// quoteConnValue quotes a libpq keyword/value connection string value.
func quoteConnValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

// describePostgres names the connection target for logs and errors,
// without the password.
func describePostgres(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s/%s", c.User, hostPort(c.Host, c.Port), c.Database)
}

func hostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("%s (socket, port %d)", host, port)
	}
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// pipelineOn runs write-only transactions on pool as pgx batches. A batch
// goes to the server in one message stream ended by a single Sync, so
// PostgreSQL runs its statements in one implicit transaction: all of them
// commit at the Sync, or none does.
func pipelineOn(pool *pgxpool.Pool) func(context.Context, func(execer) error) error {
	return func(ctx context.Context, fn func(execer) error) error {
		var q pgQueue
		if err := fn(&q); err != nil {
			return err
		}
		if q.batch.Len() == 0 {
			return nil
		}
		if err := pool.SendBatch(ctx, &q.batch).Close(); err != nil {
			return fmt.Errorf("postgres pipeline of %d statements: %w", q.batch.Len(), err)
		}
		return nil
	}
}

// pgQueue collects the statements of a pipelined transaction.
type pgQueue struct{ batch pgx.Batch }

func (q *pgQueue) exec(_ context.Context, query string, args ...any) error {
	q.batch.Queue(query, args...)
	return nil
}
