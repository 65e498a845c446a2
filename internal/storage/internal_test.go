package storage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrationsWellFormed(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || SchemaVersion() != len(ms) {
		t.Fatalf("%d migrations, SchemaVersion %d", len(ms), SchemaVersion())
	}
	for _, d := range []*dialect{sqliteDialect, postgresDialect} {
		for _, m := range ms {
			out, err := d.expand(m.sql)
			if err != nil {
				t.Errorf("%s: %v", m.name, err)
			}
			if strings.Contains(out, "{{") {
				t.Errorf("%s: placeholder left after expansion", m.name)
			}
		}
	}
	if _, err := sqliteDialect.expand("x {{nope}}"); err == nil {
		t.Error("unknown placeholder accepted")
	}
}

func TestPostgresConfigQuoting(t *testing.T) {
	opts := Options{
		User:     "axon user",
		Password: `p'w\d host=evil.example dbname=other`,
		DBName:   "db'name",
		Host:     "/run/postgresql dir",
		Port:     5433,
		SSLMode:  "disable",
	}
	cfg, err := postgresConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.ConnConfig
	if c.User != opts.User || c.Password != opts.Password || c.Database != opts.DBName ||
		c.Host != opts.Host || c.Port != 5433 || c.TLSConfig != nil {
		t.Errorf("config = user %q password %q db %q host %q port %d tls %v",
			c.User, c.Password, c.Database, c.Host, c.Port, c.TLSConfig != nil)
	}
	if cfg.MinConns != defaultMinConns || cfg.MaxConns != defaultMaxConns {
		t.Errorf("pool = %d..%d, want Synapse's defaults %d..%d", cfg.MinConns, cfg.MaxConns, defaultMinConns, defaultMaxConns)
	}

	opts.MinConns, opts.MaxConns = 2, 20
	if cfg, err := postgresConfig(opts); err != nil || cfg.MinConns != 2 || cfg.MaxConns != 20 {
		t.Errorf("pool from options: %v", err)
	}
	opts.MinConns, opts.MaxConns = 30, 20
	if _, err := postgresConfig(opts); err == nil {
		t.Error("cp_min > cp_max accepted")
	}
	if _, err := postgresConfig(Options{Password: "a\x00b"}); err == nil {
		t.Error("NUL byte accepted")
	}
}

func TestCreateDatabaseHintQuotes(t *testing.T) {
	if got := createDatabaseHint(`we"ird`); !strings.Contains(got, `CREATE DATABASE "we""ird" ENCODING 'UTF8'`) {
		t.Errorf("hint = %s", got)
	}
}

// TestUnflushedWriteLeavesTheWriterFlushing: a write that skips the disk
// flush (presence) is stored, and the writer's later commits flush again.
func TestUnflushedWriteLeavesTheWriterFlushing(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Engine: EngineSQLite, SQLitePath: filepath.Join(t.TempDir(), "axon.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutPresence(ctx, []Presence{{UserID: "@u:x", State: "online", Pos: 1}}); err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := db.writer.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 { // FULL
		t.Errorf("writer left with synchronous=%d, want 2 (FULL)", mode)
	}
	rows, err := db.PresenceOf(ctx, []string{"@u:x"})
	if err != nil || len(rows) != 1 || rows[0].State != "online" {
		t.Fatalf("stored presence %+v, %v", rows, err)
	}
	// A failing write is rolled back, and still restores the setting.
	err = db.writeUnflushed(ctx, func(w execer) error {
		if err := w.exec(ctx, `UPDATE presence SET state = 'offline'`); err != nil {
			return err
		}
		return w.exec(ctx, `INSERT INTO no_such_table VALUES (1)`)
	})
	if err == nil {
		t.Fatal("write into a missing table succeeded")
	}
	if rows, _ := db.PresenceOf(ctx, []string{"@u:x"}); len(rows) != 1 || rows[0].State != "online" {
		t.Fatalf("failed write left %+v", rows)
	}
	if err := db.writer.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&mode); err != nil || mode != 2 {
		t.Errorf("after a failed write: synchronous=%d, %v", mode, err)
	}
}
