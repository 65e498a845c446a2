package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// StartSession stores the access token (and refresh token) of a login on
// the device dev of an existing user. A new device is created. An existing
// one keeps its display name, as the spec ignores
// initial_device_display_name for a known device, and loses the access and
// refresh tokens issued to it before: the spec has a login that names a
// device invalidate them. It returns the digests of the access tokens
// deleted, so caches can forget them.
func (db *DB) StartSession(ctx context.Context, dev NewDevice, tok NewAccessToken) ([][]byte, error) {
	if dev.UserID == "" || dev.DeviceID == "" || tok.UserID != dev.UserID || tok.DeviceID != dev.DeviceID || len(tok.TokenHash) == 0 {
		return nil, errors.New("storage: StartSession: token and device must name the same user and device")
	}
	now := time.Now()
	var revoked [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `
			INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id, device_id) DO NOTHING`,
			dev.UserID, dev.DeviceID, nullString(dev.DisplayName), millis(dev.CreatedAt, now))
		if err != nil {
			return fmt.Errorf("create device %s of %s: %w", dev.DeviceID, dev.UserID, err)
		}
		created, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("create device %s of %s: %w", dev.DeviceID, dev.UserID, err)
		}
		if created == 0 {
			if revoked, err = revokeDeviceTokens(ctx, tx, dev.UserID, dev.DeviceID); err != nil {
				return fmt.Errorf("revoke the tokens of device %s of %s: %w", dev.DeviceID, dev.UserID, err)
			}
		}
		_, err = insertAccessToken(ctx, tx, tok, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	return revoked, nil
}

// revokeDeviceTokens deletes every access and refresh token of a device
// and returns the digests of the access tokens.
func revokeDeviceTokens(ctx context.Context, tx *Tx, userID, deviceID string) ([][]byte, error) {
	hashes, err := tokenHashes(ctx, tx, `SELECT token_hash FROM access_tokens WHERE user_id = $1 AND device_id = $2`, userID, deviceID)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2`, userID, deviceID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = $2`, userID, deviceID); err != nil {
		return nil, err
	}
	return hashes, nil
}
