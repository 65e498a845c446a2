package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Registration token errors.
var (
	ErrRegistrationTokenExists = errors.New("storage: registration token already exists")
	// ErrRegistrationTokenInvalid: the token does not exist, has expired or
	// has no uses left (pending and completed uses count).
	ErrRegistrationTokenInvalid = errors.New("storage: registration token is not valid")
	// ErrRegistrationTokenChanged: the session already holds another token.
	ErrRegistrationTokenChanged = errors.New("storage: session already holds another registration token")
)

// RegistrationToken is a stored registration token. Pending counts the
// unexpired reservations at the time it was read.
type RegistrationToken struct {
	Token       string
	UsesAllowed *int64 // nil: unlimited
	Pending     int64
	Completed   int64
	ExpiryTime  *int64 // ms since the epoch; nil: never
}

// Valid reports whether the token may still be used at now (ms): it has not
// expired and pending plus completed uses are below uses_allowed.
func (t RegistrationToken) Valid(nowMS int64) bool {
	if t.ExpiryTime != nil && *t.ExpiryTime <= nowMS {
		return false
	}
	return t.UsesAllowed == nil || t.Pending+t.Completed < *t.UsesAllowed
}

// RegistrationTokenUpdate changes the fields whose Set flag is true.
type RegistrationTokenUpdate struct {
	SetUsesAllowed bool
	UsesAllowed    *int64
	SetExpiryTime  bool
	ExpiryTime     *int64
}

// tokenColumns selects a token with its pending count at $1 (ms).
const tokenColumns = `t.token, t.uses_allowed, t.completed, t.expiry_time,
	(SELECT count(*) FROM registration_token_reservations r WHERE r.token = t.token AND r.expires_ts > $1)`

func scanToken(row interface{ Scan(...any) error }) (RegistrationToken, error) {
	var (
		t              RegistrationToken
		uses, expiry   sql.NullInt64
		completed, pnd int64
	)
	if err := row.Scan(&t.Token, &uses, &completed, &expiry, &pnd); err != nil {
		return RegistrationToken{}, err
	}
	t.Completed, t.Pending = completed, pnd
	if uses.Valid {
		t.UsesAllowed = &uses.Int64
	}
	if expiry.Valid {
		t.ExpiryTime = &expiry.Int64
	}
	return t, nil
}

// CreateRegistrationToken stores a new token with no uses; it returns an
// error wrapping ErrRegistrationTokenExists if the token is taken.
func (db *DB) CreateRegistrationToken(ctx context.Context, token string, usesAllowed, expiryTime *int64) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO registration_tokens (token, uses_allowed, completed, expiry_time) VALUES ($1, $2, 0, $3)`,
			token, nullInt(usesAllowed), nullInt(expiryTime))
		if tx.IsUniqueViolation(err) {
			return ErrRegistrationTokenExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create registration token: %w", err)
	}
	return nil
}

// RegistrationToken returns one token, with pending counted at now, or an
// error wrapping ErrNotFound.
func (db *DB) RegistrationToken(ctx context.Context, token string, now time.Time) (RegistrationToken, error) {
	var t RegistrationToken
	err := db.ReadTx(ctx, func(tx *Tx) (err error) {
		t, err = getToken(ctx, tx, token, now)
		return err
	})
	return t, err
}

func getToken(ctx context.Context, tx *Tx, token string, now time.Time) (RegistrationToken, error) {
	t, err := scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM registration_tokens t WHERE t.token = $2`, now.UnixMilli(), token))
	if errors.Is(err, sql.ErrNoRows) {
		return RegistrationToken{}, fmt.Errorf("registration token: %w", ErrNotFound)
	}
	if err != nil {
		return RegistrationToken{}, fmt.Errorf("registration token: %w", err)
	}
	return t, nil
}

// RegistrationTokens lists every token in token order, with pending counted
// at now; a non-nil valid keeps only the tokens whose Valid is *valid.
func (db *DB) RegistrationTokens(ctx context.Context, now time.Time, valid *bool) ([]RegistrationToken, error) {
	out := []RegistrationToken{}
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+tokenColumns+` FROM registration_tokens t ORDER BY t.token`, now.UnixMilli())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanToken(rows)
			if err != nil {
				return err
			}
			if valid == nil || t.Valid(now.UnixMilli()) == *valid {
				out = append(out, t)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list registration tokens: %w", err)
	}
	return out, nil
}

// UpdateRegistrationToken changes a token and returns it as updated, or an
// error wrapping ErrNotFound.
func (db *DB) UpdateRegistrationToken(ctx context.Context, token string, u RegistrationTokenUpdate, now time.Time) (RegistrationToken, error) {
	var t RegistrationToken
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE registration_tokens SET
				uses_allowed = CASE WHEN $2 THEN $3 ELSE uses_allowed END,
				expiry_time = CASE WHEN $4 THEN $5 ELSE expiry_time END
			WHERE token = $1`,
			token, u.SetUsesAllowed, nullInt(u.UsesAllowed), u.SetExpiryTime, nullInt(u.ExpiryTime))
		if err != nil {
			return fmt.Errorf("update registration token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("update registration token: %w", ErrNotFound)
		}
		t, err = getToken(ctx, tx, token, now)
		return err
	})
	return t, err
}

// DeleteRegistrationToken removes a token and its reservations, or returns
// an error wrapping ErrNotFound.
func (db *DB) DeleteRegistrationToken(ctx context.Context, token string) error {
	return db.WriteTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM registration_token_reservations WHERE token = $1`, token); err != nil {
			return fmt.Errorf("delete registration token: %w", err)
		}
		res, err := tx.Exec(ctx, `DELETE FROM registration_tokens WHERE token = $1`, token)
		if err != nil {
			return fmt.Errorf("delete registration token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("delete registration token: %w", ErrNotFound)
		}
		return nil
	})
}

// lockToken takes the token's row lock on PostgreSQL (a no-op update;
// SQLite has one writer anyway), so that concurrent reservations of one
// token are serialised and each counts the others' uses. It reports
// whether the token exists.
func lockToken(ctx context.Context, tx *Tx, token string) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE registration_tokens SET completed = completed WHERE token = $1`, token)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ReserveRegistrationToken makes session hold one use of token until
// until: the token's pending count goes up by one, so concurrent
// registrations can never together exceed uses_allowed. It returns an
// error wrapping ErrRegistrationTokenInvalid if the token is unknown,
// expired or used up at now, and ErrRegistrationTokenChanged if session
// already holds another token. Reserving the token a session already
// holds succeeds without counting a second use.
func (db *DB) ReserveRegistrationToken(ctx context.Context, token, session string, now, until time.Time) error {
	nowMS := now.UnixMilli()
	err := db.WriteTx(ctx, func(tx *Tx) error {
		var held string
		err := tx.QueryRow(ctx, `SELECT token FROM registration_token_reservations WHERE session_id = $1 AND expires_ts > $2`,
			session, nowMS).Scan(&held)
		switch {
		case err == nil && held == token:
			return nil
		case err == nil:
			return ErrRegistrationTokenChanged
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if ok, err := lockToken(ctx, tx, token); err != nil {
			return err
		} else if !ok {
			return ErrRegistrationTokenInvalid
		}
		t, err := getToken(ctx, tx, token, now)
		if err != nil {
			return err
		}
		if !t.Valid(nowMS) {
			return ErrRegistrationTokenInvalid
		}
		// Expired reservations no longer count; drop them while here.
		if _, err := tx.Exec(ctx, `DELETE FROM registration_token_reservations WHERE (token = $1 AND expires_ts <= $2) OR session_id = $3`,
			token, nowMS, session); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO registration_token_reservations (session_id, token, expires_ts) VALUES ($1, $2, $3)`,
			session, token, until.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("reserve registration token: %w", err)
	}
	return nil
}

// CompleteRegistrationToken turns session's reservation into a completed
// use of its token and returns the token. It returns an error wrapping
// ErrNotFound if the session holds no unexpired reservation (it expired,
// or an admin deleted the token).
func (db *DB) CompleteRegistrationToken(ctx context.Context, session string, now time.Time) (string, error) {
	var token string
	err := db.WriteTx(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `DELETE FROM registration_token_reservations WHERE session_id = $1 AND expires_ts > $2 RETURNING token`,
			session, now.UnixMilli()).Scan(&token)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE registration_tokens SET completed = completed + 1 WHERE token = $1`, token)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("complete registration token: %w", err)
	}
	return token, nil
}

// UncompleteRegistrationToken gives back a completed use of token, for a
// registration that failed after CompleteRegistrationToken.
func (db *DB) UncompleteRegistrationToken(ctx context.Context, token string) error {
	return db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE registration_tokens SET completed = completed - 1 WHERE token = $1 AND completed > 0`, token)
		if err != nil {
			return fmt.Errorf("give back registration token use: %w", err)
		}
		return nil
	})
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
