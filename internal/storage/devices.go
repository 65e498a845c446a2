package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Device is a stored device of a user.
type Device struct {
	UserID      string
	DeviceID    string
	DisplayName string // "": none
	CreatedAt   time.Time
	// LastSeen is zero for a device never seen since last_seen tracking
	// began; LastSeenIP and LastSeenUserAgent are then empty.
	LastSeen          time.Time
	LastSeenIP        string
	LastSeenUserAgent string
}

const deviceColumns = `user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, last_seen_user_agent`

func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var (
		d            Device
		name, ip, ua sql.NullString
		createdMS    int64
		lastSeenMS   sql.NullInt64
	)
	if err := row.Scan(&d.UserID, &d.DeviceID, &name, &createdMS, &lastSeenMS, &ip, &ua); err != nil {
		return Device{}, err
	}
	d.DisplayName, d.LastSeenIP, d.LastSeenUserAgent = name.String, ip.String, ua.String
	d.CreatedAt = time.UnixMilli(createdMS)
	if lastSeenMS.Valid {
		d.LastSeen = time.UnixMilli(lastSeenMS.Int64)
	}
	return d, nil
}

// Devices lists the devices of a user, ordered by device ID.
func (db *DB) Devices(ctx context.Context, userID string) ([]Device, error) {
	var out []Device
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+deviceColumns+` FROM devices WHERE user_id = $1 ORDER BY device_id`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDevice(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list devices of %s: %w", userID, err)
	}
	return out, nil
}

// GetDevice returns one device of a user, or an error wrapping ErrNotFound.
func (db *DB) GetDevice(ctx context.Context, userID, deviceID string) (Device, error) {
	var d Device
	err := db.ReadTx(ctx, func(tx *Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE user_id = $1 AND device_id = $2`, userID, deviceID))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, fmt.Errorf("get device %s of %s: %w", deviceID, userID, ErrNotFound)
	}
	if err != nil {
		return Device{}, fmt.Errorf("get device %s of %s: %w", deviceID, userID, err)
	}
	return d, nil
}

// SetDeviceDisplayName renames a device ("" removes the name). It returns
// an error wrapping ErrNotFound when the user has no such device.
func (db *DB) SetDeviceDisplayName(ctx context.Context, userID, deviceID, name string) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2`,
			userID, deviceID, nullString(name))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rename device %s of %s: %w", deviceID, userID, err)
	}
	return nil
}

// DeviceSeen is the latest use of a device.
type DeviceSeen struct {
	UserID, DeviceID string
	At               time.Time
	IP, UserAgent    string
}

// RecordDevicesSeen stores the last use of devices, in one transaction.
// Devices that no longer exist are skipped, and a value older than the one
// stored does not replace it.
func (db *DB) RecordDevicesSeen(ctx context.Context, seen []DeviceSeen) error {
	if len(seen) == 0 {
		return nil
	}
	err := db.WriteTx(ctx, func(tx *Tx) error {
		for _, s := range seen {
			_, err := tx.Exec(ctx, `
				UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4, last_seen_user_agent = $5
				WHERE user_id = $1 AND device_id = $2 AND (last_seen_ts IS NULL OR last_seen_ts <= $3)`,
				s.UserID, s.DeviceID, s.At.UnixMilli(), nullString(s.IP), nullString(s.UserAgent))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record last seen of %d devices: %w", len(seen), err)
	}
	return nil
}

// deleteDevicesChunk bounds the device IDs in one statement, well inside
// both engines' limits on bound parameters.
const deleteDevicesChunk = 500

// DeleteDevices removes some devices of a user and their access tokens, in
// one transaction, and returns the digests of the tokens removed. IDs the
// user has no device for are ignored.
func (db *DB) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) ([][]byte, error) {
	var hashes [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		for len(deviceIDs) > 0 {
			chunk := deviceIDs[:min(len(deviceIDs), deleteDevicesChunk)]
			deviceIDs = deviceIDs[len(chunk):]
			args := []any{userID}
			marks := make([]string, len(chunk))
			for i, id := range chunk {
				args = append(args, id)
				marks[i] = "$" + strconv.Itoa(i+2)
			}
			h, err := deleteSessionsTx(ctx, tx, `WHERE user_id = $1 AND device_id IN (`+strings.Join(marks, ", ")+`)`, args...)
			if err != nil {
				return err
			}
			hashes = append(hashes, h...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete devices of %s: %w", userID, err)
	}
	return hashes, nil
}

// deleteSessionsTx deletes the access tokens and devices matching where
// (over columns both tables have), and with the devices their refresh
// tokens, and returns the access tokens' digests.
func deleteSessionsTx(ctx context.Context, tx *Tx, where string, args ...any) ([][]byte, error) {
	hashes, err := tokenHashes(ctx, tx, `SELECT token_hash FROM access_tokens `+where, args...)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM access_tokens `+where, args...); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM devices `+where, args...); err != nil {
		return nil, err
	}
	return hashes, nil
}

func tokenHashes(ctx context.Context, tx *Tx, query string, args ...any) ([][]byte, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hashes [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	return hashes, rows.Err()
}

// KeepSession names the session that survives a password change which logs
// out the user's other sessions.
type KeepSession struct {
	DeviceID  string // "": keep no device
	TokenHash []byte // nil: keep no token
}

// SetPassword replaces a user's password hash. With keep non-nil it also
// deletes, in the same transaction, every device but keep.DeviceID and
// every access token but keep.TokenHash, and returns the digests of the
// tokens deleted. It returns an error wrapping ErrNotFound for an unknown
// user.
func (db *DB) SetPassword(ctx context.Context, userID, passwordHash string, keep *KeepSession) ([][]byte, error) {
	var hashes [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE user_id = $1`, userID, nullString(passwordHash))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		if keep == nil {
			return nil
		}
		// Tokens first: other tokens on the kept device go too, as in Synapse.
		keptToken := keep.TokenHash
		if keptToken == nil {
			keptToken = []byte{}
		}
		if hashes, err = tokenHashes(ctx, tx, `SELECT token_hash FROM access_tokens WHERE user_id = $1 AND token_hash <> $2`,
			userID, keptToken); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE user_id = $1 AND token_hash <> $2`, userID, keptToken); err != nil {
			return err
		}
		// Refresh tokens too, but the one the kept access token came with.
		if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE user_id = $1 AND id NOT IN (
			SELECT refresh_token_id FROM access_tokens WHERE token_hash = $2 AND refresh_token_id IS NOT NULL)`, userID, keptToken); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM devices WHERE user_id = $1 AND device_id <> $2`, userID, keep.DeviceID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set password of %s: %w", userID, err)
	}
	return hashes, nil
}

// DeactivateUser marks a user deactivated and deletes all their devices and
// access tokens, and with erase records that they asked for their content
// to be erased, all in one transaction. It returns the digests of the
// tokens deleted, or an error wrapping ErrNotFound for an unknown user.
// The password hash is kept, so that a login with it is told the account
// is deactivated.
func (db *DB) DeactivateUser(ctx context.Context, userID string, erase bool) ([][]byte, error) {
	var hashes [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET deactivated = TRUE WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		if erase {
			if _, err := tx.Exec(ctx, `INSERT INTO erased_users (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING`, userID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM login_tokens WHERE user_id = $1`, userID); err != nil {
			return err
		}
		// Refresh tokens go with the devices (foreign key).
		hashes, err = deleteSessionsTx(ctx, tx, `WHERE user_id = $1`, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deactivate %s: %w", userID, err)
	}
	return hashes, nil
}

// UserErased reports whether a user asked for their content to be erased.
func (db *DB) UserErased(ctx context.Context, userID string) (bool, error) {
	var erased bool
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM erased_users WHERE user_id = $1)`, userID).Scan(&erased)
	})
	if err != nil {
		return false, fmt.Errorf("look up erasure of %s: %w", userID, err)
	}
	return erased, nil
}
