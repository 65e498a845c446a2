package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrAliasExists is returned by CreateAlias when the alias is taken.
var ErrAliasExists = errors.New("storage: alias already exists")

// Alias is a room alias and who created it.
type Alias struct {
	Alias   string
	RoomID  string
	Creator string
}

// CreateAlias points alias at roomID. It returns ErrAliasExists if the
// alias already points somewhere.
func (db *DB) CreateAlias(ctx context.Context, alias, roomID, creator string) error {
	return db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO room_aliases (alias, room_id, creator) VALUES ($1, $2, $3)`, alias, roomID, creator)
		if tx.IsUniqueViolation(err) {
			return ErrAliasExists
		}
		if err != nil {
			return fmt.Errorf("create alias: %w", err)
		}
		return nil
	})
}

// AliasRoom returns the alias's entry, or ErrNotFound.
func (db *DB) AliasRoom(ctx context.Context, alias string) (Alias, error) {
	a := Alias{Alias: alias}
	err := db.ReadTx(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `SELECT room_id, creator FROM room_aliases WHERE alias = $1`, alias).Scan(&a.RoomID, &a.Creator)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Alias{}, fmt.Errorf("look up alias: %w", err)
	}
	return a, err
}

// DeleteAlias removes alias. It returns ErrNotFound if it did not exist.
func (db *DB) DeleteAlias(ctx context.Context, alias string) error {
	return db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM room_aliases WHERE alias = $1`, alias)
		if err != nil {
			return fmt.Errorf("delete alias: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// RoomAliases lists the local aliases of a room.
func (db *DB) RoomAliases(ctx context.Context, roomID string) ([]string, error) {
	var out []string
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias`, roomID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list room aliases: %w", err)
	}
	return out, nil
}

// SetRoomPublished lists or unlists a room in the public room directory.
func (db *DB) SetRoomPublished(ctx context.Context, roomID string, published bool) error {
	return db.WriteTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE rooms SET published = $1 WHERE room_id = $2`, published, roomID); err != nil {
			return fmt.Errorf("set room published: %w", err)
		}
		return nil
	})
}

// PublishedRooms lists the rooms in the public room directory.
func (db *DB) PublishedRooms(ctx context.Context) ([]string, error) {
	var out []string
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT room_id FROM rooms WHERE published ORDER BY room_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list published rooms: %w", err)
	}
	return out, nil
}

// RoomPublished reports whether a room is in the public room directory;
// ErrNotFound for an unknown room.
func (db *DB) RoomPublished(ctx context.Context, roomID string) (bool, error) {
	var published bool
	err := db.ReadTx(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `SELECT published FROM rooms WHERE room_id = $1`, roomID).Scan(&published)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	return published, err
}
