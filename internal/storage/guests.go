package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxNumericLocalpart returns the largest purely numeric localpart among
// the users (0 when there is none), the point after which guests are
// numbered, as Synapse's find_max_generated_user_id_localpart.
//
// The range bounds user IDs whose localpart starts with a digit ('9' is
// followed by ':'), so only those rows are read. Under a non-C collation
// (allow_unsafe_locale) the range may miss some; callers retry on a
// collision, so that only costs a retry.
func (db *DB) MaxNumericLocalpart(ctx context.Context) (int64, error) {
	var maxFound int64
	err := db.ReadTx(ctx, func(tx *Tx) error {
		maxFound = 0
		rows, err := tx.Query(ctx, `SELECT user_id FROM users WHERE user_id >= '@0' AND user_id < '@:'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var userID string
			if err := rows.Scan(&userID); err != nil {
				return err
			}
			if n, ok := numericLocalpart(userID); ok && n > maxFound {
				maxFound = n
			}
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("find the largest numeric user ID: %w", err)
	}
	return maxFound, nil
}

// numericLocalpart parses the localpart of @123:server. Localparts too
// large for an int64 are skipped: the generated IDs never reach them.
func numericLocalpart(userID string) (int64, bool) {
	local, _, ok := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	if !ok || local == "" || strings.TrimLeft(local, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(local, 10, 64)
	return n, err == nil
}

// GuestUpgrade turns a guest account into a regular one.
type GuestUpgrade struct {
	UserID       string
	PasswordHash string
	// ConsentVersion, when set, records the privacy policy version agreed
	// to during the upgrade.
	ConsentVersion string
	At             time.Time
}

// UpgradeGuest makes the guest u.UserID a regular user with a password
// and revokes the access tokens it had as a guest; when dev and tok are
// given it also starts a session on dev (created, or kept if it exists),
// all in one transaction. It returns the digests of the revoked tokens, or
// an error wrapping ErrNotFound when no active guest has that ID.
func (db *DB) UpgradeGuest(ctx context.Context, u GuestUpgrade, dev *NewDevice, tok *NewAccessToken) ([][]byte, error) {
	if (dev == nil) != (tok == nil) || (dev != nil && (dev.UserID != u.UserID || tok.UserID != u.UserID || tok.DeviceID != dev.DeviceID)) {
		return nil, fmt.Errorf("storage: UpgradeGuest %s: device and token must belong to the user and each other", u.UserID)
	}
	var revoked [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		revoked = nil
		res, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, is_guest = FALSE
			WHERE user_id = $1 AND is_guest AND NOT deactivated`, u.UserID, nullString(u.PasswordHash))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		if u.ConsentVersion != "" {
			if _, err := tx.Exec(ctx, `UPDATE users SET consent_version = $2, consent_ts = $3 WHERE user_id = $1`,
				u.UserID, u.ConsentVersion, u.At.UnixMilli()); err != nil {
				return err
			}
		}
		// A guest's token must not outlive the guest: it would keep the
		// restrictions of a guest in every cache that holds it.
		if revoked, err = userTokenHashes(ctx, tx, u.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE user_id = $1`, u.UserID); err != nil {
			return err
		}
		if dev == nil {
			return nil
		}
		if err := ensureDevice(ctx, tx, *dev, u.At); err != nil {
			return err
		}
		_, err = insertAccessToken(ctx, tx, *tok, u.At)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("upgrade guest %s: %w", u.UserID, err)
	}
	return revoked, nil
}

func userTokenHashes(ctx context.Context, tx *Tx, userID string) ([][]byte, error) {
	return tokenHashes(ctx, tx, `SELECT token_hash FROM access_tokens WHERE user_id = $1`, userID)
}

// ensureDevice creates dev, or keeps it when it exists, updating its
// display name if one is given (as CreateSession does).
func ensureDevice(ctx context.Context, tx *Tx, dev NewDevice, now time.Time) error {
	res, err := tx.Exec(ctx, `UPDATE devices SET display_name = COALESCE($3, display_name)
		WHERE user_id = $1 AND device_id = $2`, dev.UserID, dev.DeviceID, nullString(dev.DisplayName))
	if err != nil {
		return fmt.Errorf("update device %s of %s: %w", dev.DeviceID, dev.UserID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update device %s of %s: %w", dev.DeviceID, dev.UserID, err)
	} else if n == 0 {
		return insertDevice(ctx, tx, dev, now)
	}
	return nil
}
