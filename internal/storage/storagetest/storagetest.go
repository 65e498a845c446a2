// Package storagetest gives tests databases on every storage engine.
//
// SQLite databases live in a per-test temporary directory. PostgreSQL
// databases are created, one per call, on the cluster named by
// $AXON_TEST_POSTGRES (a base URL such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) and dropped
// when the test ends. Without it PostgreSQL tests are skipped, unless
// $AXON_TEST_REQUIRE_POSTGRES=1, when they fail. ./scripts/test sets both.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/axonhs/axon/internal/storage"
)

// Environment variables read by this package.
const (
	EnvPostgres        = "AXON_TEST_POSTGRES"
	EnvRequirePostgres = "AXON_TEST_REQUIRE_POSTGRES"
)

// Engines lists the engine names, SQLite first.
func Engines() []string { return []string{storage.EngineSQLite, storage.EnginePostgres} }

// ForEachEngine runs fn as a subtest per engine, named after the engine,
// with Options for a fresh, empty database.
func ForEachEngine(t *testing.T, fn func(t *testing.T, opts storage.Options)) {
	t.Helper()
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) {
			fn(t, NewOptions(t, engine))
		})
	}
}

// NewOptions returns Options for a fresh, empty database on engine
// (storage.EngineSQLite or storage.EnginePostgres), removed when t ends.
// It skips t if the engine is unavailable (see the package comment).
func NewOptions(t testing.TB, engine string) storage.Options {
	t.Helper()
	engine, err := storage.NormalizeEngine(engine)
	if err != nil {
		t.Fatal(err)
	}
	if engine == storage.EngineSQLite {
		return storage.Options{Engine: storage.EngineSQLite, SQLitePath: filepath.Join(t.TempDir(), "axon.db")}
	}
	return NewPostgresDatabase(t, "C", "C")
}

// Open opens opts (which should come from NewOptions) and closes the
// database when t ends.
func Open(t testing.TB, opts storage.Options) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), opts, nil)
	if err != nil {
		t.Fatalf("open %s database: %v", opts.Engine, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s database: %v", opts.Engine, err)
		}
	})
	return db
}

// NewPostgresDatabase creates a UTF8 database with the given LC_COLLATE and
// LC_CTYPE on the test cluster, drops it when t ends, and returns Options
// for it. It skips t when no cluster is configured (see the package comment).
func NewPostgresDatabase(t testing.TB, collate, ctype string) storage.Options {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s=1 but %s is not set; run ./scripts/test, which starts a PostgreSQL cluster", EnvRequirePostgres, EnvPostgres)
		}
		t.Skipf("PostgreSQL tests skipped: set %s to a PostgreSQL URL (./scripts/test does this)", EnvPostgres)
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	name := "axon_test_" + randomHex(t, 8)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgres, err)
	}
	defer admin.Close(context.Background())
	// Identifiers and literals cannot be parameters in CREATE DATABASE;
	// name is generated here and the locales are sanitised.
	q := fmt.Sprintf("CREATE DATABASE %s ENCODING 'UTF8' LC_COLLATE %s LC_CTYPE %s TEMPLATE template0",
		pgx.Identifier{name}.Sanitize(), quoteLiteral(collate), quoteLiteral(ctype))
	if _, err := admin.Exec(ctx, q); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		// FORCE ends connections a test leaked rather than failing.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})

	c := cfg.Config
	return storage.Options{
		Engine:   storage.EnginePostgres,
		User:     c.User,
		Password: c.Password,
		DBName:   name,
		Host:     c.Host,
		Port:     int(c.Port),
		SSLMode:  sslMode(base, cfg),
		// Small pools: many test databases share one cluster.
		MinConns: 1,
		MaxConns: 4,
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// sslMode recovers the sslmode of the base URL, which pgx does not keep.
func sslMode(base string, cfg *pgx.ConnConfig) string {
	if u, err := url.Parse(base); err == nil && u.Query().Get("sslmode") != "" {
		return u.Query().Get("sslmode")
	}
	if cfg.TLSConfig == nil && len(cfg.Fallbacks) == 0 {
		return "disable"
	}
	return ""
}
