package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SetConsentVersion records that userID agreed to version of the privacy
// policy at `at`. It returns an error wrapping ErrNotFound when there is no
// such user.
func (db *DB) SetConsentVersion(ctx context.Context, userID, version string, at time.Time) error {
	return db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET consent_version = $2, consent_ts = $3 WHERE user_id = $1`,
			userID, version, at.UnixMilli())
		if err != nil {
			return fmt.Errorf("record consent of %s: %w", userID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("record consent of %s: %w", userID, err)
		}
		if n == 0 {
			return fmt.Errorf("record consent of %s: %w", userID, ErrNotFound)
		}
		return nil
	})
}

// ConsentVersion returns the version of the privacy policy userID last
// agreed to ("" for none), or an error wrapping ErrNotFound when there is
// no such user.
func (db *DB) ConsentVersion(ctx context.Context, userID string) (string, error) {
	var version sql.NullString
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT consent_version FROM users WHERE user_id = $1`, userID).Scan(&version)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("consent of %s: %w", userID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("consent of %s: %w", userID, err)
	}
	return version.String, nil
}

// consentMillis is when a new user agreed to the policy: at creation, or
// NULL without consent.
func consentMillis(u NewUser, now time.Time) any {
	if u.ConsentVersion == "" {
		return nil
	}
	return millis(u.CreatedAt, now)
}
