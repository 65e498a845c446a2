package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrDeviceExists: a new dehydrated device would take the ID of one of the
// user's other devices.
var ErrDeviceExists = errors.New("storage: device ID taken")

// DehydratedDevice is a user's dehydrated device (MSC3814).
type DehydratedDevice struct {
	DeviceID    string
	DisplayName string
	Data        string // device_data, canonical JSON
	// Keys are its keys, uploaded with it (UserID and DeviceID set).
	Keys KeyUpload
}

// PutDehydratedDevice replaces a user's dehydrated device, all in one
// transaction: the old one is deleted with its keys and inbox, the new one
// created with its keys. It returns the old device's ID ("" for none).
func (db *DB) PutDehydratedDevice(ctx context.Context, userID string, d DehydratedDevice) (old string, err error) {
	err = db.WriteTx(ctx, func(tx *Tx) error {
		if old, err = deleteDehydratedTx(ctx, tx, userID); err != nil {
			return err
		}
		var taken bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2)`,
			userID, d.DeviceID).Scan(&taken)
		if err != nil {
			return err
		}
		if taken {
			return ErrDeviceExists
		}
		now := time.Now()
		if err := insertDevice(ctx, tx, NewDevice{UserID: userID, DeviceID: d.DeviceID, DisplayName: d.DisplayName, CreatedAt: now}, now); err != nil {
			return err
		}
		if _, err := uploadKeysTx(ctx, tx, d.Keys); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO dehydrated_devices (user_id, device_id, device_data) VALUES ($1, $2, $3)`,
			userID, d.DeviceID, d.Data)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store dehydrated device of %s: %w", userID, err)
	}
	return old, nil
}

// deleteDehydratedTx deletes the user's dehydrated device, if any, and
// returns its ID.
func deleteDehydratedTx(ctx context.Context, tx *Tx, userID string) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT device_id FROM dehydrated_devices WHERE user_id = $1`, userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	// Its keys, inbox and dehydrated_devices row go with it.
	if _, err := deleteSessionsTx(ctx, tx, `WHERE user_id = $1 AND device_id = $2`, userID, id); err != nil {
		return "", err
	}
	return id, nil
}

// GetDehydratedDevice returns the user's dehydrated device's ID and data,
// or ErrNotFound.
func (db *DB) GetDehydratedDevice(ctx context.Context, userID string) (deviceID, data string, err error) {
	err = db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT device_id, device_data FROM dehydrated_devices WHERE user_id = $1`, userID).Scan(&deviceID, &data)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("dehydrated device of %s: %w", userID, err)
	}
	return deviceID, data, nil
}

// DeleteDehydratedDevice deletes the user's dehydrated device with its
// keys and inbox, and returns its ID, or ErrNotFound.
func (db *DB) DeleteDehydratedDevice(ctx context.Context, userID string) (string, error) {
	var id string
	err := db.WriteTx(ctx, func(tx *Tx) error {
		var err error
		id, err = deleteDehydratedTx(ctx, tx, userID)
		if err == nil && id == "" {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("delete dehydrated device of %s: %w", userID, err)
	}
	return id, nil
}
