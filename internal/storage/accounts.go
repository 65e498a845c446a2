package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// ErrUserExists is returned by CreateUser when the user ID is taken.
var ErrUserExists = errors.New("storage: user already exists")

// NewUser is a user to create. A zero CreatedAt means now; an empty
// PasswordHash or UserType is stored as NULL.
type NewUser struct {
	UserID       string
	PasswordHash string
	Admin        bool
	UserType     string
	Guest        bool
	CreatedAt    time.Time
	// DisplayName, when set, becomes the profile's displayname field.
	DisplayName string
	// ConsentVersion, when set, is the privacy policy version the user
	// agreed to while registering (user_consent).
	ConsentVersion string
}

// NewDevice is a device to create. An empty UserID means the new user's.
type NewDevice struct {
	UserID      string
	DeviceID    string
	DisplayName string
	CreatedAt   time.Time
}

// NewAccessToken is a token to store, by hash. An empty UserID means the
// new user's; an empty DeviceID means no device.
type NewAccessToken struct {
	TokenHash []byte
	UserID    string
	DeviceID  string
	CreatedAt time.Time
	ExpiresAt *time.Time
	// Refresh, when set, is a refresh token issued with this access token
	// (which then needs a device); refreshing it revokes this token.
	Refresh *NewRefreshToken
}

// User is a stored user.
type User struct {
	UserID       string
	PasswordHash string
	Admin        bool
	Guest        bool
	Deactivated  bool
	UserType     string
	CreatedAt    time.Time
}

// CreateUser creates a user and, optionally, its first device and access
// token, all in one transaction: either all exist afterwards or none do.
// It returns an error wrapping ErrUserExists if the user ID is taken
// (compared exactly; callers wanting case-insensitive uniqueness check
// UserIDsCaseInsensitive first).
func (db *DB) CreateUser(ctx context.Context, u NewUser, dev *NewDevice, tok *NewAccessToken) error {
	if u.UserID == "" {
		return errors.New("storage: CreateUser: empty user ID")
	}
	now := time.Now()
	if dev != nil {
		d := *dev
		if d.UserID == "" {
			d.UserID = u.UserID
		}
		if d.UserID != u.UserID || d.DeviceID == "" {
			return fmt.Errorf("storage: CreateUser %s: device must belong to the new user and have an ID", u.UserID)
		}
		dev = &d
	}
	if tok != nil {
		t := *tok
		if t.UserID == "" {
			t.UserID = u.UserID
		}
		if t.UserID != u.UserID || len(t.TokenHash) == 0 {
			return fmt.Errorf("storage: CreateUser %s: access token must belong to the new user and have a hash", u.UserID)
		}
		tok = &t
	}
	return db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO users (user_id, password_hash, is_admin, user_type, is_guest, created_ts, consent_version, consent_ts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			u.UserID, nullString(u.PasswordHash), u.Admin, nullString(u.UserType), u.Guest, millis(u.CreatedAt, now),
			nullString(u.ConsentVersion), consentMillis(u, now))
		if tx.IsUniqueViolation(err) {
			return fmt.Errorf("create user %s: %w", u.UserID, ErrUserExists)
		}
		if err != nil {
			return fmt.Errorf("create user %s: %w", u.UserID, err)
		}
		if u.DisplayName != "" {
			name, err := canonicaljson.Marshal(u.DisplayName)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO profile_fields (user_id, field, value) VALUES ($1, 'displayname', $2)`,
				u.UserID, string(name)); err != nil {
				return fmt.Errorf("create profile of %s: %w", u.UserID, err)
			}
		}
		if dev != nil {
			if err := insertDevice(ctx, tx, *dev, now); err != nil {
				return err
			}
		}
		if tok != nil {
			if _, err := insertAccessToken(ctx, tx, *tok, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func insertDevice(ctx context.Context, tx *Tx, d NewDevice, now time.Time) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO devices (user_id, device_id, display_name, created_ts)
		VALUES ($1, $2, $3, $4)`,
		d.UserID, d.DeviceID, nullString(d.DisplayName), millis(d.CreatedAt, now))
	if err != nil {
		return fmt.Errorf("create device %s for %s: %w", d.DeviceID, d.UserID, err)
	}
	return nil
}

// insertAccessToken stores t and its refresh token, if any, and returns the
// refresh token's ID (0 without one).
func insertAccessToken(ctx context.Context, tx *Tx, t NewAccessToken, now time.Time) (int64, error) {
	var refreshID any
	var id int64
	if t.Refresh != nil {
		var err error
		if id, err = insertRefreshToken(ctx, tx, t, *t.Refresh, now); err != nil {
			return 0, err
		}
		refreshID = id
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_id)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.TokenHash, t.UserID, nullString(t.DeviceID), millis(t.CreatedAt, now), optMillis(t.ExpiresAt), refreshID)
	if err != nil {
		return 0, fmt.Errorf("create access token for %s: %w", t.UserID, err)
	}
	return id, nil
}

// UserExists reports whether a user with exactly this ID exists.
func (db *DB) UserExists(ctx context.Context, userID string) (bool, error) {
	var exists bool
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1)`, userID).Scan(&exists)
	})
	if err != nil {
		return false, fmt.Errorf("look up user %s: %w", userID, err)
	}
	return exists, nil
}

// UserIDsCaseInsensitive returns the IDs of users whose ID equals userID
// ignoring ASCII case, in byte order. Matrix user IDs are ASCII; both
// engines' lower() (PostgreSQL under the C locale) fold ASCII only.
func (db *DB) UserIDsCaseInsensitive(ctx context.Context, userID string) ([]string, error) {
	var ids []string
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT user_id FROM users WHERE lower(user_id) = lower($1) ORDER BY user_id`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("look up user %s case-insensitively: %w", userID, err)
	}
	return ids, nil
}

// GetUser returns the user with exactly this ID, or an error wrapping
// ErrNotFound.
func (db *DB) GetUser(ctx context.Context, userID string) (User, error) {
	var (
		u              User
		hash, userType sql.NullString
		createdMS      int64
	)
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `
			SELECT user_id, password_hash, is_admin, user_type, is_guest, deactivated, created_ts
			FROM users WHERE user_id = $1`, userID).
			Scan(&u.UserID, &hash, &u.Admin, &userType, &u.Guest, &u.Deactivated, &createdMS)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("get user %s: %w", userID, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", userID, err)
	}
	u.PasswordHash, u.UserType = hash.String, userType.String
	u.CreatedAt = time.UnixMilli(createdMS)
	return u, nil
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// millis converts t to Unix milliseconds, using def when t is zero.
func millis(t, def time.Time) int64 {
	if t.IsZero() {
		t = def
	}
	return t.UnixMilli()
}
