package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ProfileFields returns a user's profile fields as raw JSON values.
func (db *DB) ProfileFields(ctx context.Context, userID string) (map[string][]byte, error) {
	fields := map[string][]byte{}
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT field, value FROM profile_fields WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			fields[k] = []byte(v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("load profile of %s: %w", userID, err)
	}
	return fields, nil
}

// SetProfileField stores one field; a nil value deletes it. The check
// callback sees the profile as it will be and may refuse the change (size
// limits), all within one transaction so concurrent writes cannot together
// exceed a limit.
func (db *DB) SetProfileField(ctx context.Context, userID, field string, value []byte, check func(after map[string][]byte) error) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		if check != nil {
			after, err := profileIn(ctx, tx, userID)
			if err != nil {
				return err
			}
			if value == nil {
				delete(after, field)
			} else {
				after[field] = value
			}
			if err := check(after); err != nil {
				return err
			}
		}
		if value == nil {
			_, err := tx.Exec(ctx, `DELETE FROM profile_fields WHERE user_id = $1 AND field = $2`, userID, field)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO profile_fields (user_id, field, value) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, field) DO UPDATE SET value = excluded.value`, userID, field, string(value))
		return err
	})
	if err != nil {
		return fmt.Errorf("set profile field %s of %s: %w", field, userID, err)
	}
	return nil
}

// DeleteProfile removes every profile field of a user.
func (db *DB) DeleteProfile(ctx context.Context, userID string) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM profile_fields WHERE user_id = $1`, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete profile of %s: %w", userID, err)
	}
	return nil
}

func profileIn(ctx context.Context, tx *Tx, userID string) (map[string][]byte, error) {
	rows, err := tx.Query(ctx, `SELECT field, value FROM profile_fields WHERE user_id = $1`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = []byte(v)
	}
	return out, rows.Err()
}

// AccountData returns one account data document (roomID "" for global),
// or an error wrapping ErrNotFound.
func (db *DB) AccountData(ctx context.Context, userID, roomID, typ string) ([]byte, error) {
	var content string
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3`,
			userID, roomID, typ).Scan(&content)
	})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && content == "") {
		return nil, fmt.Errorf("account data %s: %w", typ, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load account data %s of %s: %w", typ, userID, err)
	}
	return []byte(content), nil
}

// SetAccountData stores a document at stream position pos; nil content
// deletes it. A deleted document is kept as an empty tombstone so /sync
// can tell clients it is gone.
func (db *DB) SetAccountData(ctx context.Context, userID, roomID, typ string, content []byte, pos int64) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		return putAccountData(ctx, tx, userID, roomID, typ, content, pos)
	})
	if err != nil {
		return fmt.Errorf("store account data %s of %s: %w", typ, userID, err)
	}
	return nil
}

func putAccountData(ctx context.Context, tx *Tx, userID, roomID, typ string, content []byte, pos int64) error {
	_, err := tx.Exec(ctx, `INSERT INTO account_data (user_id, room_id, type, content, updated_ts, stream_pos) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, updated_ts = excluded.updated_ts,
		stream_pos = excluded.stream_pos`,
		userID, roomID, typ, string(content), time.Now().UnixMilli(), pos)
	return err
}

// UpdateAccountData reads, changes and writes one document in a single
// transaction (for read-modify-write documents such as m.tag), at stream
// position pos. update gets nil when the document does not exist and
// returns the new content (nil deletes it).
func (db *DB) UpdateAccountData(ctx context.Context, userID, roomID, typ string, pos int64, update func(old []byte) ([]byte, error)) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		var old []byte
		var content string
		err := tx.QueryRow(ctx, `SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3`,
			userID, roomID, typ).Scan(&content)
		switch {
		case err == nil && content != "":
			old = []byte(content)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		updated, err := update(old)
		if err != nil {
			return err
		}
		return putAccountData(ctx, tx, userID, roomID, typ, updated, pos)
	})
	if err != nil {
		return fmt.Errorf("update account data %s of %s: %w", typ, userID, err)
	}
	return nil
}

// AccountDataEntry is one document of a user's account data.
type AccountDataEntry struct {
	RoomID  string // "" for global
	Type    string
	Content []byte // empty: deleted
	Pos     int64
}

// AccountDataSince returns the user's documents written at stream
// positions in (after, upTo]; with after 0, only documents that exist.
func (db *DB) AccountDataSince(ctx context.Context, userID string, after, upTo int64) ([]AccountDataEntry, error) {
	var out []AccountDataEntry
	err := db.readOne(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT room_id, type, content, stream_pos FROM account_data
			WHERE user_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos`, userID, after, upTo)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e AccountDataEntry
			var content string
			if err := rows.Scan(&e.RoomID, &e.Type, &content, &e.Pos); err != nil {
				return err
			}
			if content == "" && after == 0 {
				continue
			}
			e.Content = []byte(content)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("account data since %d: %w", after, err)
	}
	return out, nil
}

// MaxAccountDataPos is the highest account data stream position in use.
func (db *DB) MaxAccountDataPos(ctx context.Context) (int64, error) {
	var pos int64
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM account_data`).Scan(&pos)
	})
	if err != nil {
		return 0, fmt.Errorf("read account data position: %w", err)
	}
	return pos, nil
}

// CreateFilter stores a filter and returns its ID, the user's next number.
func (db *DB) CreateFilter(ctx context.Context, userID string, filter []byte) (int64, error) {
	var id int64
	err := db.WriteTx(ctx, func(tx *Tx) error {
		// The write transaction serialises writers on SQLite; on PostgreSQL
		// a concurrent insert of the same ID fails the primary key and the
		// caller sees an error rather than a shared ID.
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(filter_id) + 1, 0) FROM filters WHERE user_id = $1`, userID).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO filters (user_id, filter_id, filter) VALUES ($1, $2, $3)`, userID, id, string(filter))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store filter of %s: %w", userID, err)
	}
	return id, nil
}

// Filter returns a stored filter or an error wrapping ErrNotFound.
func (db *DB) Filter(ctx context.Context, userID string, filterID int64) ([]byte, error) {
	var f string
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT filter FROM filters WHERE user_id = $1 AND filter_id = $2`, userID, filterID).Scan(&f)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("filter %d: %w", filterID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load filter %d of %s: %w", filterID, userID, err)
	}
	return []byte(f), nil
}
