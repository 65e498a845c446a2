package storage

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migrations are written once for both engines; {{name}} placeholders are
// filled from the dialect (see dialect.go). Files are named NNNN_name.sql
// and numbered from 1 without gaps. Never edit a released migration: add a
// new one.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer Axon than this binary.
var ErrSchemaTooNew = errors.New("storage: database schema is too new")

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads and orders the embedded migrations.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names { // fs.Glob sorts, and versions are zero-padded
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: want a name like %04d_name.sql", base, len(ms)+1)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// SchemaVersion is the schema version this binary migrates databases to.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; tests catch this
	}
	return len(ms)
}

// migrate brings the schema up to date, one transaction per migration
// (its statements and the version bump commit together, so a crash leaves
// the database at a known version).
func (db *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for {
		var applied *migration
		err := db.WriteTx(ctx, func(tx *Tx) error {
			applied = nil
			v, err := lockedSchemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if v > len(ms) {
				return fmt.Errorf("%w: database was written by a newer Axon (schema %d, this binary knows %d)", ErrSchemaTooNew, v, len(ms))
			}
			if v == len(ms) {
				return nil
			}
			m := ms[v]
			stmts, err := db.d.expand(m.sql)
			if err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, stmts); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "UPDATE schema_version SET version = $1", m.version); err != nil {
				return fmt.Errorf("migration %s: record version: %w", m.name, err)
			}
			applied = &m
			return nil
		})
		if err != nil {
			return err
		}
		if applied == nil {
			return nil
		}
		db.log.Info("applied database migration", "engine", db.engine, "migration", applied.name)
	}
}

// lockedSchemaVersion takes the migration lock, creating schema_version if
// needed, and returns the current version (0 for a new database).
func lockedSchemaVersion(ctx context.Context, tx *Tx) (int, error) {
	if tx.d.lockMigrations != "" {
		if _, err := tx.Exec(ctx, tx.d.lockMigrations); err != nil {
			return 0, fmt.Errorf("lock schema_version: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); err != nil {
		return 0, fmt.Errorf("create schema_version: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM schema_version")
	if err != nil {
		return 0, fmt.Errorf("read schema_version: %w", err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return 0, fmt.Errorf("read schema_version: %w", err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read schema_version: %w", err)
	}
	rows.Close()
	switch len(versions) {
	case 0:
		if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES (0)"); err != nil {
			return 0, fmt.Errorf("initialise schema_version: %w", err)
		}
		return 0, nil
	case 1:
		return versions[0], nil
	}
	return 0, fmt.Errorf("schema_version has %d rows, want 1: the database is damaged", len(versions))
}
