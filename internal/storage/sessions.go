package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TokenOwner is who an access token authenticates.
type TokenOwner struct {
	UserID      string
	DeviceID    string // "" for tokens without a device
	ExpiresAt   time.Time
	Guest       bool
	Deactivated bool
	// RefreshTokenID is the refresh token the access token was issued with
	// (0: none); Used reports whether the token has been used before.
	RefreshTokenID int64
	Used           bool
}

// LookupAccessToken finds the owner of the token with this digest, or
// returns an error wrapping ErrNotFound.
func (db *DB) LookupAccessToken(ctx context.Context, tokenHash []byte) (TokenOwner, error) {
	var (
		o         TokenOwner
		device    sql.NullString
		expiresMS sql.NullInt64
		refreshID sql.NullInt64
	)
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `
			SELECT t.user_id, t.device_id, t.expires_ts, u.is_guest, u.deactivated, t.refresh_token_id, t.used
			FROM access_tokens t JOIN users u ON u.user_id = t.user_id
			WHERE t.token_hash = $1`, tokenHash).
			Scan(&o.UserID, &device, &expiresMS, &o.Guest, &o.Deactivated, &refreshID, &o.Used)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return TokenOwner{}, fmt.Errorf("look up access token: %w", ErrNotFound)
	}
	if err != nil {
		return TokenOwner{}, fmt.Errorf("look up access token: %w", err)
	}
	o.DeviceID = device.String
	o.RefreshTokenID = refreshID.Int64
	if expiresMS.Valid {
		o.ExpiresAt = time.UnixMilli(expiresMS.Int64)
	}
	return o, nil
}

// CreateSession stores a new access token for an existing user, on the
// device dev: the device is created when new and otherwise kept, with its
// display name updated if one is given.
func (db *DB) CreateSession(ctx context.Context, dev NewDevice, tok NewAccessToken) error {
	if dev.UserID == "" || dev.DeviceID == "" || tok.UserID != dev.UserID || tok.DeviceID != dev.DeviceID || len(tok.TokenHash) == 0 {
		return errors.New("storage: CreateSession: token and device must name the same user and device")
	}
	now := time.Now()
	return db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE devices SET display_name = COALESCE($3, display_name)
			WHERE user_id = $1 AND device_id = $2`, dev.UserID, dev.DeviceID, nullString(dev.DisplayName))
		if err != nil {
			return fmt.Errorf("update device %s of %s: %w", dev.DeviceID, dev.UserID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update device %s of %s: %w", dev.DeviceID, dev.UserID, err)
		} else if n == 0 {
			if err := insertDevice(ctx, tx, dev, now); err != nil {
				return err
			}
		}
		_, err = insertAccessToken(ctx, tx, tok, now)
		return err
	})
}

// DeleteDevice removes a device and, through the foreign key, its access
// tokens. It returns the digests of the tokens removed, so caches can
// forget them.
func (db *DB) DeleteDevice(ctx context.Context, userID, deviceID string) ([][]byte, error) {
	return db.deleteDevices(ctx, `WHERE user_id = $1 AND device_id = $2`, userID, deviceID)
}

// DeleteAllDevices removes every device and access token of a user and
// returns the digests of the tokens removed.
func (db *DB) DeleteAllDevices(ctx context.Context, userID string) ([][]byte, error) {
	return db.deleteDevices(ctx, `WHERE user_id = $1`, userID)
}

func (db *DB) deleteDevices(ctx context.Context, where string, args ...any) ([][]byte, error) {
	var hashes [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT token_hash FROM access_tokens `+where, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			hashes = append(hashes, h)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		// Tokens without a device are not covered by the cascade.
		if _, err := tx.Exec(ctx, `DELETE FROM access_tokens `+where, args...); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM devices `+where, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete devices: %w", err)
	}
	return hashes, nil
}
