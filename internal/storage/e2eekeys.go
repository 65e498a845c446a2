package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OneTimeKey is a one-time or fallback key of a device: its "alg:id" name
// split in two, and the key (a string or a signed object) as canonical
// JSON.
type OneTimeKey struct {
	Algorithm string
	KeyID     string
	JSON      string
}

// Name is the key's "algorithm:key ID" name, as clients upload and claim it.
func (k OneTimeKey) Name() string { return k.Algorithm + ":" + k.KeyID }

// KeyUpload is what one /keys/upload stores for a device, in one
// transaction.
type KeyUpload struct {
	UserID, DeviceID string
	DeviceKeys       string // canonical JSON; "": none uploaded
	OneTimeKeys      []OneTimeKey
	FallbackKeys     []OneTimeKey // at most one per algorithm
	// SameOneTimeKey decides whether a re-uploaded one-time key matches
	// the stored one (a retry) or conflicts with it.
	SameOneTimeKey func(stored, uploaded string) bool
	// MayReplace, when set, decides whether new device keys may replace
	// the stored ones; its error fails the upload.
	MayReplace func(stored, uploaded string) error
	// CheckSigned, when set, checks the one-time and fallback keys
	// against the device keys in effect after the upload ("" for none);
	// its error fails the upload.
	CheckSigned func(deviceKeys string) error
	// ChangePos is the device-list position recorded when the device keys
	// are new or changed.
	ChangePos int64
}

// OneTimeKeyConflictError: a one-time key was uploaded again with other
// contents. Nothing of the upload is stored.
type OneTimeKeyConflictError struct {
	Name, Stored, Uploaded string
}

func (e *OneTimeKeyConflictError) Error() string {
	return fmt.Sprintf("one time key %s already exists. Old key: %s; new key: %s", e.Name, e.Stored, e.Uploaded)
}

// UploadKeys stores a device's keys, all or nothing, and reports whether
// its device keys changed (then recorded at up.ChangePos on the
// device-list stream). Identical device keys and fallback keys are left
// alone, so that re-uploading a used fallback key does not make it unused
// again. A one-time key already stored is skipped when SameOneTimeKey
// says it is the same, and fails the upload with a
// *OneTimeKeyConflictError otherwise.
func (db *DB) UploadKeys(ctx context.Context, up KeyUpload) (changed bool, err error) {
	err = db.WriteTx(ctx, func(tx *Tx) error {
		changed, err = uploadKeysTx(ctx, tx, up)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("upload keys of %s %s: %w", up.UserID, up.DeviceID, err)
	}
	return changed, nil
}

func uploadKeysTx(ctx context.Context, tx *Tx, up KeyUpload) (changed bool, err error) {
	stored, err := storedDeviceKeys(ctx, tx, up.UserID, up.DeviceID)
	if err != nil {
		return false, err
	}
	current := stored
	if up.DeviceKeys != "" && up.DeviceKeys != stored {
		if stored != "" && up.MayReplace != nil {
			if err := up.MayReplace(stored, up.DeviceKeys); err != nil {
				return false, err
			}
		}
		if err := putDeviceKeys(ctx, tx, up); err != nil {
			return false, err
		}
		changed, current = true, up.DeviceKeys
	}
	if up.CheckSigned != nil && (len(up.OneTimeKeys) > 0 || len(up.FallbackKeys) > 0) {
		if err := up.CheckSigned(current); err != nil {
			return false, err
		}
	}
	if err := putOneTimeKeys(ctx, tx, up); err != nil {
		return false, err
	}
	return changed, putFallbackKeys(ctx, tx, up)
}

// storedDeviceKeys returns a device's stored keys, "" for none.
func storedDeviceKeys(ctx context.Context, tx *Tx, user, device string) (string, error) {
	var keys string
	err := tx.QueryRow(ctx, `SELECT key_json FROM device_keys WHERE user_id = $1 AND device_id = $2`, user, device).Scan(&keys)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return keys, err
}

func putDeviceKeys(ctx context.Context, tx *Tx, up KeyUpload) error {
	_, err := tx.Exec(ctx, `INSERT INTO device_keys (user_id, device_id, key_json, ts_added_ms) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json, ts_added_ms = excluded.ts_added_ms`,
		up.UserID, up.DeviceID, up.DeviceKeys, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	return recordDeviceListChanges(ctx, tx, up.ChangePos, up.UserID, []string{up.DeviceID})
}

func putOneTimeKeys(ctx context.Context, tx *Tx, up KeyUpload) error {
	if len(up.OneTimeKeys) == 0 {
		return nil
	}
	stored, err := storedOneTimeKeys(ctx, tx, up)
	if err != nil {
		return err
	}
	var fresh []OneTimeKey
	for _, k := range up.OneTimeKeys {
		old, ok := stored[k.Name()]
		if !ok {
			fresh = append(fresh, k)
			continue
		}
		if !up.SameOneTimeKey(old, k.JSON) {
			return &OneTimeKeyConflictError{Name: k.Name(), Stored: old, Uploaded: k.JSON}
		}
	}
	// Rows are inserted in upload order, which the claim order follows.
	return insertRows(ctx, tx, `INSERT INTO one_time_keys (user_id, device_id, algorithm, key_id, key_json)`, ``, 5, fresh,
		func(args []any, k OneTimeKey) []any {
			return append(args, up.UserID, up.DeviceID, k.Algorithm, k.KeyID, k.JSON)
		})
}

// storedOneTimeKeys returns the stored one-time keys among up's, by name.
func storedOneTimeKeys(ctx context.Context, tx *Tx, up KeyUpload) (map[string]string, error) {
	out := map[string]string{}
	for chunk := range slices.Chunk(up.OneTimeKeys, rowsPerInsert) {
		var where strings.Builder
		args := []any{up.UserID, up.DeviceID}
		for i, k := range chunk {
			if i > 0 {
				where.WriteString(" OR ")
			}
			fmt.Fprintf(&where, "(algorithm = $%d AND key_id = $%d)", len(args)+1, len(args)+2)
			args = append(args, k.Algorithm, k.KeyID)
		}
		rows, err := tx.Query(ctx, `SELECT algorithm, key_id, key_json FROM one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND (`+where.String()+`)`, args...)
		if err != nil {
			return nil, err
		}
		err = scanRows(rows, func() error {
			var k OneTimeKey
			if err := rows.Scan(&k.Algorithm, &k.KeyID, &k.JSON); err != nil {
				return err
			}
			out[k.Name()] = k.JSON
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func putFallbackKeys(ctx context.Context, tx *Tx, up KeyUpload) error {
	for _, k := range up.FallbackKeys {
		_, err := tx.Exec(ctx, `INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
			VALUES ($1, $2, $3, $4, $5, FALSE)
			ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id,
			key_json = excluded.key_json, used = FALSE
			WHERE fallback_keys.key_id <> excluded.key_id OR fallback_keys.key_json <> excluded.key_json`,
			up.UserID, up.DeviceID, k.Algorithm, k.KeyID, k.JSON)
		if err != nil {
			return err
		}
	}
	return nil
}

// KeyCounts are what a device's /sync shows of its keys on the server.
type KeyCounts struct {
	OneTimeKeys map[string]int // unclaimed one-time keys per algorithm
	// UnusedFallback lists the algorithms of fallback keys not yet
	// handed out, sorted.
	UnusedFallback []string
}

// DeviceKeyCounts counts a device's unclaimed one-time keys and lists its
// unused fallback key algorithms. Every device's first /sync asks, so it
// is one statement: one round trip.
func (db *DB) DeviceKeyCounts(ctx context.Context, userID, deviceID string) (KeyCounts, error) {
	c := KeyCounts{OneTimeKeys: map[string]int{}, UnusedFallback: []string{}}
	err := db.readOne(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT algorithm, COUNT(*), FALSE FROM one_time_keys
			WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm
			UNION ALL SELECT algorithm, 0, TRUE FROM fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used`,
			userID, deviceID)
		if err != nil {
			return err
		}
		return scanRows(rows, func() error {
			var alg string
			var n int
			var fallback bool
			if err := rows.Scan(&alg, &n, &fallback); err != nil {
				return err
			}
			if fallback {
				c.UnusedFallback = append(c.UnusedFallback, alg)
			} else {
				c.OneTimeKeys[alg] = n
			}
			return nil
		})
	})
	if err != nil {
		return KeyCounts{}, fmt.Errorf("count keys of %s %s: %w", userID, deviceID, err)
	}
	slices.Sort(c.UnusedFallback)
	return c, nil
}

// queryStrings returns the first column of every row.
func queryStrings(ctx context.Context, tx *Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []string
	err = scanRows(rows, func() error {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// KeyClaim asks for one key of an algorithm of a device.
type KeyClaim struct {
	UserID, DeviceID, Algorithm string
}

// ClaimedKey is a key handed out by ClaimKeys.
type ClaimedKey struct {
	UserID, DeviceID string
	Key              OneTimeKey
}

// claimsPerStatement bounds the claims of one statement (three arguments
// each).
const claimsPerStatement = 100

// ClaimKeys hands out, for each claim, the device's oldest one-time key of
// the algorithm and deletes it, so that no key is ever given out twice,
// even to concurrent claims. A device without one gets its fallback key
// of the algorithm, which is marked used but kept. Claims nothing can
// answer are left out.
func (db *DB) ClaimKeys(ctx context.Context, claims []KeyClaim) ([]ClaimedKey, error) {
	var out []ClaimedKey
	err := db.WriteTx(ctx, func(tx *Tx) error {
		out = out[:0]
		for chunk := range slices.Chunk(claims, claimsPerStatement) {
			got, err := claimOneTimeKeys(ctx, tx, chunk)
			if err != nil {
				return err
			}
			out = append(out, got...)
			if rest := unanswered(chunk, got); len(rest) > 0 {
				fb, err := claimFallbackKeys(ctx, tx, rest)
				if err != nil {
					return err
				}
				out = append(out, fb...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim %d keys: %w", len(claims), err)
	}
	return out, nil
}

// claimValues is the VALUES list of claims, as the CTE "req".
func claimValues(claims []KeyClaim) (string, []any) {
	args := make([]any, 0, 3*len(claims))
	for _, c := range claims {
		args = append(args, c.UserID, c.DeviceID, c.Algorithm)
	}
	return `WITH req (user_id, device_id, algorithm) AS (VALUES ` + valueRows(len(claims), 3) + `) `, args
}

func claimOneTimeKeys(ctx context.Context, tx *Tx, claims []KeyClaim) ([]ClaimedKey, error) {
	with, args := claimValues(claims)
	// On PostgreSQL a concurrent claim skips the rows this one locked and
	// takes the next key, instead of waiting and then finding its pick gone.
	return queryClaimed(ctx, tx, with+`DELETE FROM one_time_keys WHERE id IN (
		SELECT (SELECT k.id FROM one_time_keys k
			WHERE k.user_id = req.user_id AND k.device_id = req.device_id AND k.algorithm = req.algorithm
			ORDER BY k.id LIMIT 1`+tx.d.skipLocked+`) FROM req)
		RETURNING user_id, device_id, algorithm, key_id, key_json`, args...)
}

func claimFallbackKeys(ctx context.Context, tx *Tx, claims []KeyClaim) ([]ClaimedKey, error) {
	with, args := claimValues(claims)
	return queryClaimed(ctx, tx, with+`UPDATE fallback_keys SET used = TRUE
		WHERE (user_id, device_id, algorithm) IN (SELECT user_id, device_id, algorithm FROM req)
		RETURNING user_id, device_id, algorithm, key_id, key_json`, args...)
}

func queryClaimed(ctx context.Context, tx *Tx, query string, args ...any) ([]ClaimedKey, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []ClaimedKey
	err = scanRows(rows, func() error {
		var c ClaimedKey
		if err := rows.Scan(&c.UserID, &c.DeviceID, &c.Key.Algorithm, &c.Key.KeyID, &c.Key.JSON); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// unanswered are the claims got has no key for.
func unanswered(claims []KeyClaim, got []ClaimedKey) []KeyClaim {
	answered := make(map[KeyClaim]bool, len(got))
	for _, g := range got {
		answered[KeyClaim{g.UserID, g.DeviceID, g.Key.Algorithm}] = true
	}
	var rest []KeyClaim
	for _, c := range claims {
		if !answered[c] {
			rest = append(rest, c)
		}
	}
	return rest
}

// DeviceKeysRow is a device's uploaded keys with its display name.
type DeviceKeysRow struct {
	UserID, DeviceID string
	DisplayName      string
	KeyJSON          string
}

// DeviceKeys returns the uploaded device keys of users' devices, ordered
// by user and device. Devices without uploaded keys are left out.
func (db *DB) DeviceKeys(ctx context.Context, userIDs []string) ([]DeviceKeysRow, error) {
	var out []DeviceKeysRow
	err := db.ReadTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(userIDs, maxInList) {
			rows, err := tx.Query(ctx, `SELECT k.user_id, k.device_id, d.display_name, k.key_json FROM device_keys k
				JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
				WHERE k.user_id IN (`+placeholders(1, len(chunk))+`) ORDER BY k.user_id, k.device_id`, stringArgs(chunk)...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var r DeviceKeysRow
				var name sql.NullString
				if err := rows.Scan(&r.UserID, &r.DeviceID, &name, &r.KeyJSON); err != nil {
					return err
				}
				r.DisplayName = name.String
				out = append(out, r)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("device keys of %d users: %w", len(userIDs), err)
	}
	return out, nil
}

// recordDeviceListChanges puts devices of user at position pos of the
// device-list stream.
func recordDeviceListChanges(ctx context.Context, tx execer, pos int64, user string, deviceIDs []string) error {
	return insertRows(ctx, tx, `INSERT INTO device_list_changes (user_id, device_id, stream_pos)`,
		` ON CONFLICT (user_id, device_id) DO UPDATE SET stream_pos = excluded.stream_pos`, 3, deviceIDs,
		func(args []any, d string) []any { return append(args, user, d, pos) })
}

// RecordDeviceListChanges records that devices (or cross-signing keys) of
// user changed, at position pos of the device-list stream.
func (db *DB) RecordDeviceListChanges(ctx context.Context, pos int64, user string, deviceIDs []string) error {
	err := db.writeOnly(ctx, func(w execer) error { return recordDeviceListChanges(ctx, w, pos, user, deviceIDs) })
	if err != nil {
		return fmt.Errorf("record device list changes of %s: %w", user, err)
	}
	return nil
}

// DeviceListChanges returns the users with a device-list change at a
// position in (after, upTo], and the users whose master keys signer
// signed in that range.
func (db *DB) DeviceListChanges(ctx context.Context, signer string, after, upTo int64) (changed, signed []string, err error) {
	err = db.ReadTx(ctx, func(tx *Tx) error {
		changed, err = queryStrings(ctx, tx, `SELECT DISTINCT user_id FROM device_list_changes
			WHERE stream_pos > $1 AND stream_pos <= $2`, after, upTo)
		if err != nil {
			return err
		}
		signed, err = queryStrings(ctx, tx, `SELECT target_user_id FROM user_signature_changes
			WHERE signer_user_id = $1 AND stream_pos > $2 AND stream_pos <= $3`, signer, after, upTo)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("device list changes in (%d, %d]: %w", after, upTo, err)
	}
	return changed, signed, nil
}

// MaxDeviceListPos is the highest position of the device-list stream.
func (db *DB) MaxDeviceListPos(ctx context.Context) (int64, error) {
	var pos int64
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(pos), 0) FROM (
			SELECT MAX(stream_pos) AS pos FROM device_list_changes
			UNION ALL SELECT MAX(stream_pos) FROM user_signature_changes) p`).Scan(&pos)
	})
	if err != nil {
		return 0, fmt.Errorf("max device list position: %w", err)
	}
	return pos, nil
}
