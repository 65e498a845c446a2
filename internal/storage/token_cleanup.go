package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The deletions below work in batches of at most limit rows, one
// transaction each, so that a large backlog never holds SQLite's single
// writer for long: the caller repeats a call until it deletes less than
// limit.

// DeleteExpiredAccessTokens deletes up to limit access tokens issued
// without a refresh token that expired before `before`, and returns their
// digests. Tokens issued with a refresh token go with their refresh token
// (DeleteDeadRefreshTokens), since the session may still be refreshed.
func (db *DB) DeleteExpiredAccessTokens(ctx context.Context, before time.Time, limit int) ([][]byte, error) {
	var hashes [][]byte
	err := db.WriteTx(ctx, func(tx *Tx) error {
		ids, h, err := idsAndHashes(ctx, tx, `
			SELECT id, token_hash FROM access_tokens
			WHERE expires_ts <= $1 AND refresh_token_id IS NULL
			ORDER BY expires_ts LIMIT $2`, before.UnixMilli(), limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		hashes = h
		in, args := idList(ids)
		_, err = tx.Exec(ctx, `DELETE FROM access_tokens WHERE id IN (`+in+`)`, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete expired access tokens: %w", err)
	}
	return hashes, nil
}

// DeleteDeadRefreshTokens deletes up to limit refresh tokens that expired
// before `before` (an expiry that session_lifetime caps) together with
// the access tokens issued with them, and returns those access tokens'
// digests and the number of refresh tokens deleted. A refresh token is
// kept while an access token issued with it has not expired before
// `before`.
func (db *DB) DeleteDeadRefreshTokens(ctx context.Context, before time.Time, limit int) ([][]byte, int, error) {
	var (
		hashes [][]byte
		n      int
	)
	err := db.WriteTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT r.id FROM refresh_tokens r
			WHERE r.expires_ts <= $1 AND NOT EXISTS (
				SELECT 1 FROM access_tokens a
				WHERE a.refresh_token_id = r.id AND (a.expires_ts IS NULL OR a.expires_ts > $1))
			ORDER BY r.expires_ts LIMIT $2`, before.UnixMilli(), limit)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		in, args := idList(ids)
		if hashes, err = tokenHashes(ctx, tx, `SELECT token_hash FROM access_tokens WHERE refresh_token_id IN (`+in+`)`, args...); err != nil {
			return err
		}
		// The access tokens go through the foreign key.
		if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE id IN (`+in+`)`, args...); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	return hashes, n, nil
}

// DeleteExpiredLoginTokens deletes up to limit login tokens, used or not,
// that expired before `before`, and returns how many it deleted.
func (db *DB) DeleteExpiredLoginTokens(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `
			DELETE FROM login_tokens WHERE token_hash IN (
				SELECT token_hash FROM login_tokens WHERE expires_ts <= $1 ORDER BY expires_ts LIMIT $2)`,
			before.UnixMilli(), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired login tokens: %w", err)
	}
	return int(n), nil
}

// idsAndHashes runs a query returning (id, token_hash) rows.
func idsAndHashes(ctx context.Context, tx *Tx, query string, args ...any) ([]int64, [][]byte, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		ids    []int64
		hashes [][]byte
	)
	for rows.Next() {
		var (
			id int64
			h  []byte
		)
		if err := rows.Scan(&id, &h); err != nil {
			return nil, nil, err
		}
		ids, hashes = append(ids, id), append(hashes, h)
	}
	return ids, hashes, rows.Err()
}

// idList is "$1, $2, ..." for ids, with the ids as arguments.
func idList(ids []int64) (string, []any) {
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i] = "$" + strconv.Itoa(i+1)
		args[i] = id
	}
	return strings.Join(marks, ", "), args
}
