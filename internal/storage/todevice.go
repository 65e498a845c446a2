package storage

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ToDeviceMessage is one message of a /sendToDevice request, for one
// device of a local user, or for all of them when DeviceID is "*".
type ToDeviceMessage struct {
	UserID, DeviceID string
	JSON             string // {"content", "sender", "type"}
}

// ToDeviceSend is a /sendToDevice request: its messages all take stream
// position Pos.
type ToDeviceSend struct {
	// Sender, SenderKey and TxnKey identify the request for retries:
	// SenderKey is the sending device (or token), TxnKey the event type
	// and transaction ID.
	Sender, SenderKey, TxnKey string
	Pos                       int64
	Messages                  []ToDeviceMessage
}

// toDeviceTxnLifetime is how long a transaction ID is remembered.
const toDeviceTxnLifetime = 24 * time.Hour

// SendToDevice stores a request's messages in their devices' inboxes, in
// one transaction. Devices that do not exist get nothing. A request whose
// transaction was stored before is a retry: it stores nothing and
// reports duplicate.
func (db *DB) SendToDevice(ctx context.Context, s ToDeviceSend) (duplicate bool, err error) {
	now := time.Now()
	err = db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO to_device_txns (user_id, sender_key, txn_key, created_ts) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id, sender_key, txn_key) DO NOTHING`, s.Sender, s.SenderKey, s.TxnKey, now.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			duplicate = true
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM to_device_txns WHERE user_id = $1 AND created_ts < $2`,
			s.Sender, now.Add(-toDeviceTxnLifetime).UnixMilli()); err != nil {
			return err
		}
		if err := insertToDevice(ctx, tx, s); err != nil {
			return err
		}
		// The inbox's rows are deleted once delivered: the position lives
		// on here, so that a restart never hands it out again.
		_, err = tx.Exec(ctx, `INSERT INTO stream_positions (stream, pos) VALUES ('to_device', $1)
			ON CONFLICT (stream) DO UPDATE SET pos = excluded.pos WHERE stream_positions.pos < excluded.pos`, s.Pos)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("send to-device messages from %s: %w", s.Sender, err)
	}
	return duplicate, nil
}

func insertToDevice(ctx context.Context, tx *Tx, s ToDeviceSend) error {
	var named []ToDeviceMessage
	for _, m := range s.Messages {
		if m.DeviceID != "*" {
			named = append(named, m)
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO to_device_inbox (user_id, device_id, stream_pos, message_json)
			SELECT user_id, device_id, CAST($2 AS BIGINT), $3 FROM devices WHERE user_id = $1`, m.UserID, s.Pos, m.JSON); err != nil {
			return err
		}
	}
	// Joined with devices, so that messages to unknown devices are dropped.
	for chunk := range slices.Chunk(named, rowsPerInsert) {
		args := make([]any, 0, 1+3*len(chunk))
		args = append(args, s.Pos)
		for _, m := range chunk {
			args = append(args, m.UserID, m.DeviceID, m.JSON)
		}
		_, err := tx.Exec(ctx, `WITH m (user_id, device_id, message_json) AS (VALUES `+valueRowsFrom(2, len(chunk), 3)+`)
			INSERT INTO to_device_inbox (user_id, device_id, stream_pos, message_json)
			SELECT d.user_id, d.device_id, CAST($1 AS BIGINT), m.message_json
			FROM m JOIN devices d ON d.user_id = m.user_id AND d.device_id = m.device_id`, args...)
		if err != nil {
			return err
		}
	}
	return nil
}

// ToDeviceRow is a message in a device's inbox.
type ToDeviceRow struct {
	Pos  int64
	JSON string
}

// ToDeviceInbox returns up to limit messages of a device's inbox with
// positions in (after, upTo], oldest first.
func (db *DB) ToDeviceInbox(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]ToDeviceRow, error) {
	var out []ToDeviceRow
	err := db.readOne(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT stream_pos, message_json FROM to_device_inbox
			WHERE user_id = $1 AND device_id = $2 AND stream_pos > $3 AND stream_pos <= $4
			ORDER BY stream_pos LIMIT $5`, userID, deviceID, after, upTo, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ToDeviceRow
			if err := rows.Scan(&r.Pos, &r.JSON); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("to-device inbox of %s %s: %w", userID, deviceID, err)
	}
	return out, nil
}

// DeleteToDevice deletes the messages of a device's inbox up to and
// including position upTo: the device has them.
func (db *DB) DeleteToDevice(ctx context.Context, userID, deviceID string, upTo int64) error {
	err := db.writeOnly(ctx, func(w execer) error {
		return w.exec(ctx, `DELETE FROM to_device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_pos <= $3`,
			userID, deviceID, upTo)
	})
	if err != nil {
		return fmt.Errorf("delete delivered to-device messages of %s %s: %w", userID, deviceID, err)
	}
	return nil
}

// MaxToDevicePos is the highest position the to-device stream ever gave
// out (delivered messages included).
func (db *DB) MaxToDevicePos(ctx context.Context) (int64, error) {
	var pos int64
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(pos), 0) FROM (
			SELECT MAX(stream_pos) AS pos FROM to_device_inbox
			UNION ALL SELECT pos FROM stream_positions WHERE stream = 'to_device') p`).Scan(&pos)
	})
	if err != nil {
		return 0, fmt.Errorf("max to-device position: %w", err)
	}
	return pos, nil
}
