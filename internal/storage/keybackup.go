package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// BackupVersion is one version of a user's server-side key backup.
type BackupVersion struct {
	Version   int64
	Algorithm string
	AuthData  []byte // JSON object
	Etag      int64
	Count     int64 // keys stored in the version
}

// BackupKey is the backed-up key of one megolm session.
type BackupKey struct {
	RoomID            string
	SessionID         string
	FirstMessageIndex int64
	ForwardedCount    int64
	IsVerified        bool
	SessionData       []byte // JSON object
}

// BackupCounts is the state of a version after a change to its keys.
type BackupCounts struct {
	Etag  int64
	Count int64
}

// ErrBackupAlgorithm is returned by UpdateBackupAuthData when the
// algorithm given is not the version's.
var ErrBackupAlgorithm = errors.New("storage: backup algorithm does not match")

// WrongBackupVersionError is returned by PutBackupKeys for a version that
// exists but is not the user's current one: keys may only be written to
// the current version.
type WrongBackupVersionError struct {
	Current int64
}

func (e *WrongBackupVersionError) Error() string {
	return fmt.Sprintf("storage: not the current backup version (%d is)", e.Current)
}

// CreateBackupVersion adds a version to userID's backup and returns its
// number: one more than the highest the user ever had, deleted versions
// included, so that a number never names two backups.
func (db *DB) CreateBackupVersion(ctx context.Context, userID, algorithm string, authData []byte) (int64, error) {
	var version int64
	err := db.WriteTx(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM backup_versions WHERE user_id = $1`, userID).Scan(&version)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO backup_versions (user_id, version, algorithm, auth_data) VALUES ($1, $2, $3, $4)`,
			userID, version, algorithm, authData)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("create backup version of %s: %w", userID, err)
	}
	return version, nil
}

const backupVersionColumns = `v.version, v.algorithm, v.auth_data, v.etag,
	(SELECT COUNT(*) FROM backup_keys k WHERE k.user_id = v.user_id AND k.version = v.version)`

// CurrentBackupVersion returns userID's highest version that is not
// deleted, or ErrNotFound.
func (db *DB) CurrentBackupVersion(ctx context.Context, userID string) (BackupVersion, error) {
	return db.readBackupVersion(ctx, `SELECT `+backupVersionColumns+` FROM backup_versions v
		WHERE v.user_id = $1 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1`, userID)
}

// BackupVersion returns one of userID's versions, or ErrNotFound if it
// does not exist or was deleted.
func (db *DB) BackupVersion(ctx context.Context, userID string, version int64) (BackupVersion, error) {
	return db.readBackupVersion(ctx, `SELECT `+backupVersionColumns+` FROM backup_versions v
		WHERE v.user_id = $1 AND v.version = $2 AND NOT v.deleted`, userID, version)
}

func (db *DB) readBackupVersion(ctx context.Context, query string, userID string, args ...any) (BackupVersion, error) {
	var v BackupVersion
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, query, append([]any{userID}, args...)...).Scan(&v.Version, &v.Algorithm, &v.AuthData, &v.Etag, &v.Count)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return BackupVersion{}, ErrNotFound
	}
	if err != nil {
		return BackupVersion{}, fmt.Errorf("read backup version of %s: %w", userID, err)
	}
	return v, nil
}

// UpdateBackupAuthData replaces the auth_data of one of userID's versions
// (not only the current one). It returns ErrNotFound if the version does
// not exist or was deleted, and ErrBackupAlgorithm if algorithm is not
// the version's. The etag stays: it describes the keys.
func (db *DB) UpdateBackupAuthData(ctx context.Context, userID string, version int64, algorithm string, authData []byte) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		var stored string
		err := tx.QueryRow(ctx, `SELECT algorithm FROM backup_versions WHERE user_id = $1 AND version = $2 AND NOT deleted`,
			userID, version).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if stored != algorithm {
			return ErrBackupAlgorithm
		}
		_, err = tx.Exec(ctx, `UPDATE backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2`, userID, version, authData)
		return err
	})
	if err != nil {
		return fmt.Errorf("update backup version %d of %s: %w", version, userID, err)
	}
	return nil
}

// DeleteBackupVersion deletes a version's keys and marks it deleted; the
// row stays so that its number is not given out again. Deleting a
// deleted version succeeds; ErrNotFound means it never existed.
func (db *DB) DeleteBackupVersion(ctx context.Context, userID string, version int64) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE backup_versions SET deleted = TRUE WHERE user_id = $1 AND version = $2`, userID, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM backup_keys WHERE user_id = $1 AND version = $2`, userID, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete backup version %d of %s: %w", version, userID, err)
	}
	return nil
}

// DeleteUserBackups deletes every version and key of userID's backup
// (account deactivation).
func (db *DB) DeleteUserBackups(ctx context.Context, userID string) error {
	err := db.writeOnly(ctx, func(w execer) error {
		// The keys go with their versions (foreign key).
		return w.exec(ctx, `DELETE FROM backup_versions WHERE user_id = $1`, userID)
	})
	if err != nil {
		return fmt.Errorf("delete backups of %s: %w", userID, err)
	}
	return nil
}

// PutBackupKeys stores keys in userID's version, which must be the
// current one: ErrNotFound if there is no current version or version
// does not exist, *WrongBackupVersionError if it exists but is not
// current. A session without a stored key gets its key; one with a stored
// key gets the new key only if replace(stored, uploaded) says so (stored
// carries no SessionData). The etag goes up by one if anything was
// written. keys must name each session at most once. It all happens in
// one transaction: nothing is stored if anything fails.
func (db *DB) PutBackupKeys(ctx context.Context, userID string, version int64, keys []BackupKey, replace func(stored, uploaded *BackupKey) bool) (BackupCounts, error) {
	var counts BackupCounts
	err := db.WriteTx(ctx, func(tx *Tx) error {
		if err := checkCurrentBackup(ctx, tx, userID, version); err != nil {
			return err
		}
		stored, err := storedBackupKeys(ctx, tx, userID, version, keys)
		if err != nil {
			return err
		}
		var write []*BackupKey
		for i := range keys {
			k := &keys[i]
			if old, ok := stored[backupSession{k.RoomID, k.SessionID}]; ok && !replace(&old, k) {
				continue
			}
			write = append(write, k)
		}
		err = insertRows(ctx, tx, `INSERT INTO backup_keys (user_id, version, room_id, session_id,
			first_message_index, forwarded_count, is_verified, session_data)`,
			` ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
			first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count,
			is_verified = excluded.is_verified, session_data = excluded.session_data`, 8, write,
			func(args []any, k *BackupKey) []any {
				return append(args, userID, version, k.RoomID, k.SessionID, k.FirstMessageIndex, k.ForwardedCount, k.IsVerified, k.SessionData)
			})
		if err != nil {
			return err
		}
		counts, err = backupCounts(ctx, tx, userID, version, len(write) > 0)
		return err
	})
	if err != nil {
		return BackupCounts{}, fmt.Errorf("store keys in backup version %d of %s: %w", version, userID, err)
	}
	return counts, nil
}

// checkCurrentBackup checks that version is userID's current version.
func checkCurrentBackup(ctx context.Context, tx *Tx, userID string, version int64) error {
	var current sql.NullInt64
	var exists bool
	err := tx.QueryRow(ctx, `SELECT
		(SELECT MAX(version) FROM backup_versions WHERE user_id = $1 AND NOT deleted),
		EXISTS (SELECT 1 FROM backup_versions WHERE user_id = $1 AND version = $2 AND NOT deleted)`,
		userID, version).Scan(&current, &exists)
	switch {
	case err != nil:
		return err
	case !current.Valid || !exists:
		return ErrNotFound
	case current.Int64 != version:
		return &WrongBackupVersionError{Current: current.Int64}
	}
	return nil
}

type backupSession struct{ room, session string }

// storedBackupKeys returns the stored keys (without their session data)
// of the sessions of keys, rowsPerInsert sessions per query: each OR term
// is a lookup of the primary key on both engines.
func storedBackupKeys(ctx context.Context, tx *Tx, userID string, version int64, keys []BackupKey) (map[backupSession]BackupKey, error) {
	out := make(map[backupSession]BackupKey)
	for start := 0; start < len(keys); start += rowsPerInsert {
		chunk := keys[start:min(start+rowsPerInsert, len(keys))]
		var where strings.Builder
		args := make([]any, 0, 2+2*len(chunk))
		args = append(args, userID, version)
		for i := range chunk {
			if i > 0 {
				where.WriteString(" OR ")
			}
			fmt.Fprintf(&where, "(room_id = $%d AND session_id = $%d)", 2*i+3, 2*i+4)
			args = append(args, chunk[i].RoomID, chunk[i].SessionID)
		}
		rows, err := tx.Query(ctx, `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified
			FROM backup_keys WHERE user_id = $1 AND version = $2 AND (`+where.String()+`)`, args...)
		if err != nil {
			return nil, err
		}
		err = scanRows(rows, func() error {
			var k BackupKey
			if err := rows.Scan(&k.RoomID, &k.SessionID, &k.FirstMessageIndex, &k.ForwardedCount, &k.IsVerified); err != nil {
				return err
			}
			out[backupSession{k.RoomID, k.SessionID}] = k
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// backupCounts returns a version's etag, raised by one first if bump, and
// its number of keys, in one statement. ErrNotFound: the version does not
// exist or was deleted.
func backupCounts(ctx context.Context, tx *Tx, userID string, version int64, bump bool) (BackupCounts, error) {
	const count = `(SELECT COUNT(*) FROM backup_keys k WHERE k.user_id = $1 AND k.version = $2)`
	query := `SELECT etag, ` + count + ` FROM backup_versions WHERE user_id = $1 AND version = $2 AND NOT deleted`
	if bump {
		query = `UPDATE backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2 AND NOT deleted
			RETURNING etag, ` + count
	}
	var c BackupCounts
	err := tx.QueryRow(ctx, query, userID, version).Scan(&c.Etag, &c.Count)
	if errors.Is(err, sql.ErrNoRows) {
		return BackupCounts{}, ErrNotFound
	}
	return c, err
}

// backupKeyFilter is the WHERE clause selecting a version's keys: all of
// them, a room's (roomID set) or one session's (both set).
func backupKeyFilter(column func(string) string, userID string, version int64, roomID, sessionID string) (string, []any) {
	where := column("user_id") + ` = $1 AND ` + column("version") + ` = $2`
	args := []any{userID, version}
	if roomID != "" {
		where += ` AND ` + column("room_id") + ` = $3`
		args = append(args, roomID)
		if sessionID != "" {
			where += ` AND ` + column("session_id") + ` = $4`
			args = append(args, sessionID)
		}
	}
	return where, args
}

// BackupKeys returns the keys of one of userID's versions (any version
// that is not deleted, not only the current one): all of them (roomID
// ""), a room's (sessionID "") or one session's, ordered by room and
// session. ErrNotFound: the version does not exist or was deleted.
func (db *DB) BackupKeys(ctx context.Context, userID string, version int64, roomID, sessionID string) ([]BackupKey, error) {
	// The version's row joined to its keys tells a version without keys
	// (one row of NULLs) from no version (no row) in one statement.
	on, args := backupKeyFilter(func(c string) string { return "k." + c }, userID, version, roomID, sessionID)
	query := `SELECT k.room_id, k.session_id, k.first_message_index, k.forwarded_count, k.is_verified, k.session_data
		FROM backup_versions v LEFT JOIN backup_keys k ON ` + on + `
		WHERE v.user_id = $1 AND v.version = $2 AND NOT v.deleted
		ORDER BY k.room_id, k.session_id`
	var out []BackupKey
	found := false
	err := db.readOne(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		return scanRows(rows, func() error {
			found = true
			var (
				room, session sql.NullString
				fmi, fc       sql.NullInt64
				verified      sql.NullBool
				data          []byte
			)
			if err := rows.Scan(&room, &session, &fmi, &fc, &verified, &data); err != nil {
				return err
			}
			if room.Valid {
				out = append(out, BackupKey{RoomID: room.String, SessionID: session.String, FirstMessageIndex: fmi.Int64,
					ForwardedCount: fc.Int64, IsVerified: verified.Bool, SessionData: data})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read keys of backup version %d of %s: %w", version, userID, err)
	}
	if !found {
		return nil, ErrNotFound
	}
	return out, nil
}

// DeleteBackupKeys deletes keys of one of userID's versions (any version
// that is not deleted): all of them (roomID ""), a room's (sessionID "")
// or one session's. The etag goes up by one even if there was nothing to
// delete. ErrNotFound: the version does not exist or was deleted.
func (db *DB) DeleteBackupKeys(ctx context.Context, userID string, version int64, roomID, sessionID string) (BackupCounts, error) {
	where, args := backupKeyFilter(func(c string) string { return c }, userID, version, roomID, sessionID)
	var counts BackupCounts
	err := db.WriteTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM backup_keys WHERE `+where, args...); err != nil {
			return err
		}
		var err error
		counts, err = backupCounts(ctx, tx, userID, version, true)
		return err
	})
	if err != nil {
		return BackupCounts{}, fmt.Errorf("delete keys of backup version %d of %s: %w", version, userID, err)
	}
	return counts, nil
}
