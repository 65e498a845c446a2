package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Receipt is a user's read receipt of one type (and thread) in a room.
type Receipt struct {
	RoomID   string
	UserID   string
	Type     string
	ThreadID string // "" for an unthreaded receipt
	EventID  string
	EventPos int64 // the event's stream position
	TS       int64 // ms
	Pos      int64 // receipts stream position
}

// PutReceipt stores r in place of the user's receipt of the same type and
// thread, unless that one is for the same or a later event. It reports
// whether r was stored.
func (db *DB) PutReceipt(ctx context.Context, r Receipt) (bool, error) {
	var stored bool
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_pos, ts, stream_pos)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET event_id = excluded.event_id,
			event_pos = excluded.event_pos, ts = excluded.ts, stream_pos = excluded.stream_pos
			WHERE receipts.event_pos < excluded.event_pos`,
			r.RoomID, r.UserID, r.Type, r.ThreadID, r.EventID, r.EventPos, r.TS, r.Pos)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		stored = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store receipt in %s: %w", r.RoomID, err)
	}
	return stored, nil
}

const receiptColumns = `r.room_id, r.user_id, r.receipt_type, r.thread_id, r.event_id, r.event_pos, r.ts, r.stream_pos`

// ReceiptsInJoinedRooms returns the receipts of every room userID is
// joined to whose stream positions are in (after, upTo].
func (db *DB) ReceiptsInJoinedRooms(ctx context.Context, userID string, after, upTo int64) ([]Receipt, error) {
	var out []Receipt
	err := db.readOne(ctx, func(tx *Tx) error {
		var err error
		out, err = queryReceipts(ctx, tx, `SELECT `+receiptColumns+` FROM receipts r
			JOIN memberships m ON m.room_id = r.room_id AND m.user_id = $1 AND m.membership = 'join'
			WHERE r.stream_pos > $2 AND r.stream_pos <= $3`, userID, after, upTo)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("receipts of %s's rooms: %w", userID, err)
	}
	return out, nil
}

// RoomReceipts returns the receipts of roomIDs with stream positions up
// to upTo.
func (db *DB) RoomReceipts(ctx context.Context, roomIDs []string, upTo int64) ([]Receipt, error) {
	var out []Receipt
	err := db.readOne(ctx, func(tx *Tx) error {
		for len(roomIDs) > 0 {
			n := min(len(roomIDs), maxInList)
			args := []any{upTo}
			for _, r := range roomIDs[:n] {
				args = append(args, r)
			}
			roomIDs = roomIDs[n:]
			rs, err := queryReceipts(ctx, tx, `SELECT `+receiptColumns+` FROM receipts r
				WHERE r.stream_pos <= $1 AND r.room_id IN (`+placeholders(2, n)+`)`, args...)
			if err != nil {
				return err
			}
			out = append(out, rs...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("room receipts: %w", err)
	}
	return out, nil
}

func queryReceipts(ctx context.Context, tx *Tx, query string, args ...any) ([]Receipt, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Receipt
	for rows.Next() {
		var r Receipt
		if err := rows.Scan(&r.RoomID, &r.UserID, &r.Type, &r.ThreadID, &r.EventID, &r.EventPos, &r.TS, &r.Pos); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MaxReceiptPos is the highest receipts stream position in use.
func (db *DB) MaxReceiptPos(ctx context.Context) (int64, error) {
	var pos int64
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM receipts`).Scan(&pos)
	})
	if err != nil {
		return 0, fmt.Errorf("read receipts position: %w", err)
	}
	return pos, nil
}

// IsJoined reports whether userID's current membership of roomID is join.
func (db *DB) IsJoined(ctx context.Context, userID, roomID string) (bool, error) {
	var membership string
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT membership FROM memberships WHERE user_id = $1 AND room_id = $2`,
			userID, roomID).Scan(&membership)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("membership of %s in %s: %w", userID, roomID, err)
	}
	return membership == "join", nil
}
