package storage

import (
	"context"
	"fmt"
)

// DirectoryCandidates returns the users a user directory search by user
// may find (Synapse's default scope): users sharing a joined room with
// them, and users joined to the rooms in publicRooms. With all, every
// local user whose ID ends with localSuffix is included too.
func (db *DB) DirectoryCandidates(ctx context.Context, user string, publicRooms []string, all bool, localSuffix string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(rows interface {
		Next() bool
		Scan(...any) error
	}) error {
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				return err
			}
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
		return nil
	}
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT m2.user_id FROM memberships m1 JOIN memberships m2 ON m1.room_id = m2.room_id
			WHERE m1.user_id = $1 AND m1.membership = 'join' AND m2.membership = 'join'`, user)
		if err != nil {
			return err
		}
		err = add(rows)
		rows.Close()
		if err != nil {
			return err
		}
		for len(publicRooms) > 0 {
			n := min(len(publicRooms), maxInList)
			args := make([]any, n)
			for i, r := range publicRooms[:n] {
				args[i] = r
			}
			publicRooms = publicRooms[n:]
			rows, err := tx.Query(ctx, `SELECT DISTINCT user_id FROM memberships WHERE membership = 'join' AND room_id IN (`+placeholders(1, n)+`)`, args...)
			if err != nil {
				return err
			}
			err = add(rows)
			rows.Close()
			if err != nil {
				return err
			}
		}
		if all {
			rows, err := tx.Query(ctx, `SELECT user_id FROM users WHERE NOT deactivated AND user_id LIKE $1`, "%"+localSuffix)
			if err != nil {
				return err
			}
			err = add(rows)
			rows.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("user directory candidates: %w", err)
	}
	return out, nil
}

// DirectoryProfiles returns the display names and avatars of the local
// users among users, and which of them are deactivated.
func (db *DB) DirectoryProfiles(ctx context.Context, users []string) (names, avatars map[string]string, deactivated map[string]bool, err error) {
	names, avatars, deactivated = map[string]string{}, map[string]string{}, map[string]bool{}
	err = db.ReadTx(ctx, func(tx *Tx) error {
		for len(users) > 0 {
			n := min(len(users), maxInList)
			args := make([]any, n)
			for i, u := range users[:n] {
				args[i] = u
			}
			users = users[n:]
			rows, err := tx.Query(ctx, `SELECT user_id, field, value FROM profile_fields WHERE field IN ('displayname', 'avatar_url')
				AND user_id IN (`+placeholders(1, n)+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var u, field, value string
				if err := rows.Scan(&u, &field, &value); err != nil {
					rows.Close()
					return err
				}
				if field == "displayname" {
					names[u] = value
				} else {
					avatars[u] = value
				}
			}
			rows.Close()
			rows, err = tx.Query(ctx, `SELECT user_id FROM users WHERE deactivated AND user_id IN (`+placeholders(1, n)+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var u string
				if err := rows.Scan(&u); err != nil {
					rows.Close()
					return err
				}
				deactivated[u] = true
			}
			rows.Close()
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("user directory profiles: %w", err)
	}
	return names, avatars, deactivated, nil
}

// CurrentStateOfType returns (room ID, PDU) of every room's current state
// event of type typ with an empty state key.
func (db *DB) CurrentStateOfType(ctx context.Context, typ string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.room_id, e.pdu FROM current_state c JOIN events e ON e.event_id = c.event_id
			WHERE c.type = $1 AND c.state_key = ''`, typ)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var room string
			var pdu []byte
			if err := rows.Scan(&room, &pdu); err != nil {
				return err
			}
			out[room] = pdu
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("current %s of every room: %w", typ, err)
	}
	return out, nil
}
