package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func schemaVersion(t *testing.T, db *storage.DB) int {
	t.Helper()
	var v int
	err := db.ReadTx(context.Background(), func(tx *storage.Tx) error {
		return tx.QueryRow(context.Background(), "SELECT version FROM schema_version").Scan(&v)
	})
	if err != nil {
		t.Fatalf("read schema_version: %v", err)
	}
	return v
}

func TestMigrationsApply(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		db := storagetest.Open(t, opts)
		if got, want := db.Engine(), opts.Engine; got != want {
			t.Errorf("Engine() = %q, want %q", got, want)
		}
		if got, want := schemaVersion(t, db), storage.SchemaVersion(); got != want {
			t.Errorf("schema version = %d, want %d", got, want)
		}
		for _, table := range []string{"users", "devices", "access_tokens"} {
			var n int
			err := db.ReadTx(context.Background(), func(tx *storage.Tx) error {
				return tx.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
			})
			if err != nil || n != 0 {
				t.Errorf("count %s = %d, %v; want 0, nil", table, n, err)
			}
		}
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db, err := storage.Open(ctx, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@alice:example.org"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			db := storagetest.Open(t, opts)
			if got, want := schemaVersion(t, db), storage.SchemaVersion(); got != want {
				t.Errorf("reopen %d: schema version = %d, want %d", i, got, want)
			}
			if _, err := db.GetUser(ctx, "@alice:example.org"); err != nil {
				t.Errorf("reopen %d: %v", i, err)
			}
			db.Close()
		}
	})
}

func TestRefusesNewerSchema(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db, err := storage.Open(ctx, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		newer := storage.SchemaVersion() + 1
		err = db.WriteTx(ctx, func(tx *storage.Tx) error {
			_, err := tx.Exec(ctx, "UPDATE schema_version SET version = $1", newer)
			return err
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		db, err = storage.Open(ctx, opts, nil)
		if err == nil {
			db.Close()
			t.Fatal("Open succeeded on a database with a newer schema")
		}
		want := fmt.Sprintf("newer Axon (schema %d, this binary knows %d)", newer, storage.SchemaVersion())
		if !errors.Is(err, storage.ErrSchemaTooNew) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open error = %v; want ErrSchemaTooNew mentioning %q", err, want)
		}
	})
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		// Separate DB handles stand in for servers starting at once.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				db, err := storage.Open(context.Background(), opts, nil)
				if err == nil {
					err = db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
			}
		}
		db := storagetest.Open(t, opts)
		if got, want := schemaVersion(t, db), storage.SchemaVersion(); got != want {
			t.Errorf("schema version = %d, want %d", got, want)
		}
	})
}

func TestReadTxIsReadOnly(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		err := db.ReadTx(ctx, func(tx *storage.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO users (user_id, created_ts) VALUES ('@x:y', 0)")
			return err
		})
		if err == nil {
			t.Error("INSERT in ReadTx succeeded")
		}
	})
}

func TestWriteTxRollsBack(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		insert := func(tx *storage.Tx, id string) {
			if _, err := tx.Exec(ctx, "INSERT INTO users (user_id, created_ts) VALUES ($1, 0)", id); err != nil {
				t.Fatal(err)
			}
		}
		sentinel := errors.New("sentinel")
		err := db.WriteTx(ctx, func(tx *storage.Tx) error {
			insert(tx, "@err:example.org")
			return sentinel
		})
		if err != sentinel {
			t.Errorf("WriteTx = %v, want the callback's error unchanged", err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic in WriteTx was swallowed")
				}
			}()
			db.WriteTx(ctx, func(tx *storage.Tx) error {
				insert(tx, "@panic:example.org")
				panic("boom")
			})
		}()
		for _, id := range []string{"@err:example.org", "@panic:example.org"} {
			if ok, err := db.UserExists(ctx, id); err != nil || ok {
				t.Errorf("UserExists(%s) = %v, %v after rollback", id, ok, err)
			}
		}
		// The connection is usable afterwards (SQLite has only one writer).
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@ok:example.org"}, nil, nil); err != nil {
			t.Error(err)
		}
	})
}

func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Open(t, storagetest.NewOptions(t, storage.EngineSQLite))
	err := db.WriteTx(ctx, func(tx *storage.Tx) error {
		var mode string
		var sync, fk int
		if err := tx.QueryRow(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			return err
		}
		if mode != "wal" || sync != 2 || fk != 1 {
			t.Errorf("journal_mode=%s synchronous=%d foreign_keys=%d; want wal, 2 (FULL), 1", mode, sync, fk)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSQLiteMemory(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Open(t, storage.Options{SQLitePath: ":memory:"})
	if db.Engine() != storage.EngineSQLite {
		t.Errorf("Engine() = %q", db.Engine())
	}
	if err := db.CreateUser(ctx, storage.NewUser{UserID: "@m:example.org"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.UserExists(ctx, "@m:example.org"); err != nil || !ok {
		t.Errorf("UserExists = %v, %v; want true", ok, err)
	}
}

func TestSQLitePathWithURISyntax(t *testing.T) {
	ctx := context.Background()
	opts := storage.Options{SQLitePath: t.TempDir() + "/we?ird#na%me&_pragma=x.db"}
	db := storagetest.Open(t, opts)
	if err := db.CreateUser(ctx, storage.NewUser{UserID: "@p:example.org"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(opts.SQLitePath); err != nil {
		t.Errorf("database not at the given path: %v", err)
	}
}

func TestSQLiteConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Open(t, storagetest.NewOptions(t, storage.EngineSQLite))
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("@u%d:example.org", i)
			err := db.CreateUser(ctx, storage.NewUser{UserID: id},
				&storage.NewDevice{DeviceID: "D"}, &storage.NewAccessToken{TokenHash: []byte(id), DeviceID: "D"})
			if err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			if _, err := db.UserExists(ctx, fmt.Sprintf("@u%d:example.org", i/2)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var count int
	if err := db.ReadTx(ctx, func(tx *storage.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM access_tokens").Scan(&count)
	}); err != nil || count != n {
		t.Errorf("access tokens = %d, %v; want %d", count, err, n)
	}
}

func TestNormalizeEngine(t *testing.T) {
	for in, want := range map[string]string{
		"": storage.EngineSQLite, "sqlite3": storage.EngineSQLite, "sqlite": storage.EngineSQLite,
		"postgres": storage.EnginePostgres, "postgresql": storage.EnginePostgres, "psycopg2": storage.EnginePostgres,
	} {
		if got, err := storage.NormalizeEngine(in); got != want || err != nil {
			t.Errorf("NormalizeEngine(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := storage.NormalizeEngine("mysql"); err == nil {
		t.Error("NormalizeEngine(mysql) succeeded")
	}
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	opts := storagetest.NewOptions(t, storage.EngineSQLite)
	storagetest.Open(t, opts)
	fi, err := os.Stat(opts.SQLitePath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode = %v, want no group/other access", perm)
	}
}

func TestSQLiteMissingDirectory(t *testing.T) {
	path := t.TempDir() + "/missing/axon.db"
	db, err := storage.Open(context.Background(), storage.Options{SQLitePath: path}, nil)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded in a missing directory")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
}
