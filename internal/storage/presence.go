package storage

import (
	"context"
	"fmt"
)

// Presence is a user's stored presence.
type Presence struct {
	UserID          string
	State           string
	StatusMsg       string // "" for none
	LastActiveTS    int64  // ms; 0 if never active
	LastSyncTS      int64  // ms
	CurrentlyActive bool
	Pos             int64 // presence stream position of the last change
}

// PutPresence writes rows, each unless the stored row has a later stream
// position (writers may commit out of order).
func (db *DB) PutPresence(ctx context.Context, rows []Presence) error {
	err := db.writeUnflushed(ctx, func(tx execer) error {
		for _, p := range rows {
			var msg any
			if p.StatusMsg != "" {
				msg = p.StatusMsg
			}
			if err := tx.exec(ctx, `INSERT INTO presence (user_id, state, status_msg, last_active_ts, last_user_sync_ts,
				currently_active, stream_pos) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, status_msg = excluded.status_msg,
				last_active_ts = excluded.last_active_ts, last_user_sync_ts = excluded.last_user_sync_ts,
				currently_active = excluded.currently_active, stream_pos = excluded.stream_pos
				WHERE presence.stream_pos <= excluded.stream_pos`,
				p.UserID, p.State, msg, p.LastActiveTS, p.LastSyncTS, p.CurrentlyActive, p.Pos); err != nil {
				return fmt.Errorf("%s: %w", p.UserID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store presence: %w", err)
	}
	return nil
}

const presenceColumns = `p.user_id, p.state, COALESCE(p.status_msg, ''), p.last_active_ts, p.last_user_sync_ts, p.currently_active, p.stream_pos`

// PresenceOf returns the stored presence of those of userIDs that have one.
func (db *DB) PresenceOf(ctx context.Context, userIDs []string) ([]Presence, error) {
	var out []Presence
	read := db.ReadTx
	if len(userIDs) <= maxInList {
		read = db.readOne
	}
	err := read(ctx, func(tx *Tx) error {
		for len(userIDs) > 0 {
			n := min(len(userIDs), maxInList)
			args := make([]any, n)
			for i, u := range userIDs[:n] {
				args[i] = u
			}
			userIDs = userIDs[n:]
			ps, err := queryPresence(ctx, tx, `SELECT `+presenceColumns+` FROM presence p
				WHERE p.user_id IN (`+placeholders(1, n)+`)`, args...)
			if err != nil {
				return err
			}
			out = append(out, ps...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load presence: %w", err)
	}
	return out, nil
}

// PresenceExcept returns every stored presence whose state is not state
// (at start-up: everyone not offline).
func (db *DB) PresenceExcept(ctx context.Context, state string) ([]Presence, error) {
	var out []Presence
	err := db.ReadTx(ctx, func(tx *Tx) error {
		var err error
		out, err = queryPresence(ctx, tx, `SELECT `+presenceColumns+` FROM presence p WHERE p.state <> $1`, state)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load presence: %w", err)
	}
	return out, nil
}

// PresenceOfSharers returns the presence of userID and of every user
// joined to a room userID is joined to, changed at stream positions in
// (after, upTo].
func (db *DB) PresenceOfSharers(ctx context.Context, userID string, after, upTo int64) ([]Presence, error) {
	var out []Presence
	err := db.readOne(ctx, func(tx *Tx) error {
		var err error
		out, err = queryPresence(ctx, tx, `SELECT `+presenceColumns+` FROM presence p
			WHERE p.stream_pos > $2 AND p.stream_pos <= $3 AND (p.user_id = $1 OR EXISTS (
				SELECT 1 FROM memberships a JOIN memberships b ON b.room_id = a.room_id
				WHERE a.user_id = $1 AND a.membership = 'join' AND b.user_id = p.user_id AND b.membership = 'join'))`,
			userID, after, upTo)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("presence of users sharing a room with %s: %w", userID, err)
	}
	return out, nil
}

func queryPresence(ctx context.Context, tx *Tx, query string, args ...any) ([]Presence, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Presence
	for rows.Next() {
		var p Presence
		if err := rows.Scan(&p.UserID, &p.State, &p.StatusMsg, &p.LastActiveTS, &p.LastSyncTS, &p.CurrentlyActive, &p.Pos); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// MaxPresencePos is the highest presence stream position in use.
func (db *DB) MaxPresencePos(ctx context.Context) (int64, error) {
	var pos int64
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM presence`).Scan(&pos)
	})
	if err != nil {
		return 0, fmt.Errorf("read presence position: %w", err)
	}
	return pos, nil
}
