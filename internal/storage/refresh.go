package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// NewRefreshToken is a refresh token to store, by hash, with the access
// token it is issued alongside (NewAccessToken.Refresh). Its user and
// device are the access token's.
type NewRefreshToken struct {
	TokenHash []byte
	ExpiresAt *time.Time // nil: does not expire
	// SessionEndsAt is when the session ends whatever the refreshes
	// (session_lifetime); nil: never.
	SessionEndsAt *time.Time
}

// RefreshToken is a stored refresh token.
type RefreshToken struct {
	ID        int64
	UserID    string
	DeviceID  string
	ExpiresAt time.Time // zero: does not expire
	// SessionEndsAt is when the session ends, refreshes notwithstanding;
	// zero: never.
	SessionEndsAt time.Time
	Deactivated   bool // the user is deactivated
}

// insertRefreshToken stores r for the user and device of the access token
// t and returns its ID.
func insertRefreshToken(ctx context.Context, tx *Tx, t NewAccessToken, r NewRefreshToken, now time.Time) (int64, error) {
	if t.DeviceID == "" || len(r.TokenHash) == 0 {
		return 0, errors.New("storage: a refresh token needs a device and a hash")
	}
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, expires_ts, ultimate_session_expiry_ts)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		r.TokenHash, t.UserID, t.DeviceID, millis(t.CreatedAt, now), optMillis(r.ExpiresAt), optMillis(r.SessionEndsAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create refresh token for %s: %w", t.UserID, err)
	}
	return id, nil
}

func optMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// LookupRefreshToken finds the refresh token with this digest, or returns
// an error wrapping ErrNotFound.
func (db *DB) LookupRefreshToken(ctx context.Context, tokenHash []byte) (RefreshToken, error) {
	var (
		r                    RefreshToken
		expiresMS, sessionMS sql.NullInt64
	)
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `
			SELECT r.id, r.user_id, r.device_id, r.expires_ts, r.ultimate_session_expiry_ts, u.deactivated
			FROM refresh_tokens r JOIN users u ON u.user_id = r.user_id
			WHERE r.token_hash = $1`, tokenHash).
			Scan(&r.ID, &r.UserID, &r.DeviceID, &expiresMS, &sessionMS, &r.Deactivated)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return RefreshToken{}, fmt.Errorf("look up refresh token: %w", ErrNotFound)
	}
	if err != nil {
		return RefreshToken{}, fmt.Errorf("look up refresh token: %w", err)
	}
	if expiresMS.Valid {
		r.ExpiresAt = time.UnixMilli(expiresMS.Int64)
	}
	if sessionMS.Valid {
		r.SessionEndsAt = time.UnixMilli(sessionMS.Int64)
	}
	return r, nil
}

// RotateRefreshToken replaces the refresh token oldID with a new one and a
// new access token (tok, whose Refresh must be set), in one transaction:
//
//   - the token oldID replaced earlier (its predecessor) is deleted with
//     its access tokens, since oldID is now in use;
//   - a successor of oldID from an earlier refresh whose tokens were never
//     used is deleted with its access tokens;
//   - oldID itself stays valid, pointing at its new successor, until the
//     new access token or refresh token is used (UseAccessToken, or the
//     next rotation).
//
// It returns the digests of the access tokens deleted, or an error wrapping
// ErrNotFound when oldID no longer exists.
func (db *DB) RotateRefreshToken(ctx context.Context, oldID int64, tok NewAccessToken) ([][]byte, error) {
	if tok.Refresh == nil {
		return nil, errors.New("storage: RotateRefreshToken needs a new refresh token")
	}
	now := time.Now()
	var revoked [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		var next sql.NullInt64
		err := tx.QueryRow(ctx, `SELECT next_token_id FROM refresh_tokens WHERE id = $1`, oldID).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		h, err := deleteRefreshTokensTx(ctx, tx, `WHERE next_token_id = $1`, oldID)
		if err != nil {
			return err
		}
		revoked = append(revoked, h...)
		if next.Valid {
			h, err := deleteRefreshTokensTx(ctx, tx, `WHERE id = $1`, next.Int64)
			if err != nil {
				return err
			}
			revoked = append(revoked, h...)
		}
		newID, err := insertAccessToken(ctx, tx, tok, now)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET next_token_id = $2 WHERE id = $1`, oldID, newID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return revoked, nil
}

// UseAccessToken records the first use of an access token issued with the
// refresh token refreshTokenID, which revokes the refresh token that one
// replaced (and the access tokens issued with it). It returns the digests
// of the access tokens deleted.
func (db *DB) UseAccessToken(ctx context.Context, tokenHash []byte, refreshTokenID int64) ([][]byte, error) {
	var revoked [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE access_tokens SET used = TRUE WHERE token_hash = $1`, tokenHash); err != nil {
			return err
		}
		var err error
		revoked, err = deleteRefreshTokensTx(ctx, tx, `WHERE next_token_id = $1`, refreshTokenID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record use of access token: %w", err)
	}
	return revoked, nil
}

// deleteRefreshTokensTx deletes the refresh tokens matching where and,
// through the foreign key, the access tokens issued with them, whose
// digests it returns.
func deleteRefreshTokensTx(ctx context.Context, tx *Tx, where string, args ...any) ([][]byte, error) {
	hashes, err := tokenHashes(ctx, tx, `SELECT token_hash FROM access_tokens WHERE refresh_token_id IN (SELECT id FROM refresh_tokens `+where+`)`, args...)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens `+where, args...); err != nil {
		return nil, err
	}
	return hashes, nil
}

// CreateLoginToken stores a login token (m.login.token) for a user, by
// digest. Expired ones are deleted by DeleteExpiredLoginTokens.
func (db *DB) CreateLoginToken(ctx context.Context, tokenHash []byte, userID string, createdAt, expiresAt time.Time) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO login_tokens (token_hash, user_id, created_ts, expires_ts) VALUES ($1, $2, $3, $4)`,
			tokenHash, userID, createdAt.UnixMilli(), expiresAt.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("create login token for %s: %w", userID, err)
	}
	return nil
}

// LoginTokenUser returns the user of an unused login token that is valid
// at now, without spending it, or an error wrapping ErrNotFound.
func (db *DB) LoginTokenUser(ctx context.Context, tokenHash []byte, now time.Time) (string, error) {
	var userID string
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT user_id FROM login_tokens WHERE token_hash = $1 AND used_ts IS NULL AND expires_ts > $2`,
			tokenHash, now.UnixMilli()).Scan(&userID)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("look up login token: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("look up login token: %w", err)
	}
	return userID, nil
}

// ConsumeLoginToken spends a login token that is unused and valid at now
// and returns its user; of concurrent calls with the same token only one
// succeeds. Otherwise it returns an error wrapping ErrNotFound.
func (db *DB) ConsumeLoginToken(ctx context.Context, tokenHash []byte, now time.Time) (string, error) {
	var userID string
	err := db.WriteTx(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `UPDATE login_tokens SET used_ts = $2
			WHERE token_hash = $1 AND used_ts IS NULL AND expires_ts > $2 RETURNING user_id`,
			tokenHash, now.UnixMilli()).Scan(&userID)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("use login token: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("use login token: %w", err)
	}
	return userID, nil
}
