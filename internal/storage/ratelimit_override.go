package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// RateLimitOverride is a row of Synapse's ratelimit_override: a user's own
// message rate limit, or with MessagesPerSecond 0 none at all. NULLs read
// as 0, as Synapse treats them.
type RateLimitOverride struct {
	UserID            string
	MessagesPerSecond int64
	BurstCount        int64
}

// RateLimitOverrides returns every override. The table holds only what
// admins set, so it is read whole and kept in memory.
func (db *DB) RateLimitOverrides(ctx context.Context) ([]RateLimitOverride, error) {
	var out []RateLimitOverride
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT user_id, messages_per_second, burst_count FROM ratelimit_override ORDER BY user_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				o           RateLimitOverride
				rate, burst sql.NullInt64
			)
			if err := rows.Scan(&o.UserID, &rate, &burst); err != nil {
				return err
			}
			o.MessagesPerSecond, o.BurstCount = rate.Int64, burst.Int64
			out = append(out, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read rate limit overrides: %w", err)
	}
	return out, nil
}

// SetRateLimitOverride creates or replaces a user's override.
func (db *DB) SetRateLimitOverride(ctx context.Context, o RateLimitOverride) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO ratelimit_override (user_id, messages_per_second, burst_count) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET messages_per_second = excluded.messages_per_second, burst_count = excluded.burst_count`,
			o.UserID, o.MessagesPerSecond, o.BurstCount)
		return err
	})
	if err != nil {
		return fmt.Errorf("set rate limit override of %s: %w", o.UserID, err)
	}
	return nil
}

// DeleteRateLimitOverride removes a user's override, if any.
func (db *DB) DeleteRateLimitOverride(ctx context.Context, userID string) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM ratelimit_override WHERE user_id = $1`, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete rate limit override of %s: %w", userID, err)
	}
	return nil
}
