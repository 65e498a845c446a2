package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrPushRuleAnchor is returned by PutPushRule when its before or after
// rule does not exist among the user's rules of the kind.
var ErrPushRuleAnchor = errors.New("storage: before/after push rule not found")

// PushRule is a user-defined push rule as stored.
type PushRule struct {
	Kind       string
	RuleID     string
	Conditions []byte // JSON array, nil for content, room and sender rules
	Pattern    *string
	Actions    []byte // JSON array
	Enabled    bool
}

// PushRuleDefault is a user's change to a server-default rule; nil fields
// keep the default.
type PushRuleDefault struct {
	Kind    string
	RuleID  string
	Enabled *bool
	Actions []byte
}

// UserPushRules is everything stored about one user's push rules.
type UserPushRules struct {
	Rules    []PushRule // by kind, then evaluation order
	Defaults []PushRuleDefault
}

// PushRulesOf returns the stored push rules of users; users with none
// are absent from the map.
func (db *DB) PushRulesOf(ctx context.Context, users []string) (map[string]*UserPushRules, error) {
	out := map[string]*UserPushRules{}
	get := func(u string) *UserPushRules {
		r, ok := out[u]
		if !ok {
			r = &UserPushRules{}
			out[u] = r
		}
		return r
	}
	err := db.ReadTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(users, maxInList) {
			args := stringArgs(chunk)
			rows, err := tx.Query(ctx, `SELECT user_id, kind, rule_id, conditions, pattern, actions, enabled FROM push_rules
				WHERE user_id IN (`+placeholders(1, len(chunk))+`) ORDER BY user_id, kind, position`, args...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var u string
				var r PushRule
				var conditions, pattern sql.NullString
				var actions string
				if err := rows.Scan(&u, &r.Kind, &r.RuleID, &conditions, &pattern, &actions, &r.Enabled); err != nil {
					return err
				}
				if conditions.Valid {
					r.Conditions = []byte(conditions.String)
				}
				if pattern.Valid {
					r.Pattern = &pattern.String
				}
				r.Actions = []byte(actions)
				rs := get(u)
				rs.Rules = append(rs.Rules, r)
				return nil
			})
			if err != nil {
				return err
			}
			rows, err = tx.Query(ctx, `SELECT user_id, kind, rule_id, enabled, actions FROM push_rule_defaults
				WHERE user_id IN (`+placeholders(1, len(chunk))+`)`, args...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var u string
				var d PushRuleDefault
				var enabled sql.NullBool
				var actions sql.NullString
				if err := rows.Scan(&u, &d.Kind, &d.RuleID, &enabled, &actions); err != nil {
					return err
				}
				if enabled.Valid {
					d.Enabled = &enabled.Bool
				}
				if actions.Valid {
					d.Actions = []byte(actions.String)
				}
				rs := get(u)
				rs.Defaults = append(rs.Defaults, d)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load push rules: %w", err)
	}
	return out, nil
}

// PutPushRule creates or replaces a user-defined rule and places it: just
// before the rule before, else just after the rule after, else first
// among the user's rules of its kind. A replaced rule keeps its enabled
// flag; a new one takes r.Enabled.
func (db *DB) PutPushRule(ctx context.Context, userID string, r PushRule, before, after string) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		order, enabled, err := pushRuleOrder(ctx, tx, userID, r.Kind)
		if err != nil {
			return err
		}
		wasEnabled, existed := enabled[r.RuleID]
		if existed {
			r.Enabled = wasEnabled
			order = slices.DeleteFunc(order, func(id string) bool { return id == r.RuleID })
		}
		at := 0
		switch {
		case before != "":
			if at = slices.Index(order, before); at < 0 {
				return ErrPushRuleAnchor
			}
		case after != "":
			if at = slices.Index(order, after); at < 0 {
				return ErrPushRuleAnchor
			}
			at++
		}
		order = slices.Insert(order, at, r.RuleID)
		var pattern any
		if r.Pattern != nil {
			pattern = *r.Pattern
		}
		if _, err := tx.Exec(ctx, `INSERT INTO push_rules (user_id, kind, rule_id, position, conditions, pattern, actions, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET conditions = excluded.conditions,
			pattern = excluded.pattern, actions = excluded.actions`,
			userID, r.Kind, r.RuleID, at, nullBytes(r.Conditions), pattern, string(r.Actions), r.Enabled); err != nil {
			return err
		}
		for i, id := range order {
			if _, err := tx.Exec(ctx, `UPDATE push_rules SET position = $1 WHERE user_id = $2 AND kind = $3 AND rule_id = $4`,
				i, userID, r.Kind, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrPushRuleAnchor) {
		return fmt.Errorf("store push rule %s/%s of %s: %w", r.Kind, r.RuleID, userID, err)
	}
	return err
}

// pushRuleOrder lists the rule IDs of a user's rules of kind in evaluation
// order, with their enabled flags.
func pushRuleOrder(ctx context.Context, tx *Tx, userID, kind string) ([]string, map[string]bool, error) {
	rows, err := tx.Query(ctx, `SELECT rule_id, enabled FROM push_rules WHERE user_id = $1 AND kind = $2 ORDER BY position`, userID, kind)
	if err != nil {
		return nil, nil, err
	}
	var order []string
	enabled := map[string]bool{}
	err = scanRows(rows, func() error {
		var id string
		var on bool
		if err := rows.Scan(&id, &on); err != nil {
			return err
		}
		order = append(order, id)
		enabled[id] = on
		return nil
	})
	return order, enabled, err
}

// DeletePushRule removes a user-defined rule, or returns ErrNotFound.
func (db *DB) DeletePushRule(ctx context.Context, userID, kind, ruleID string) error {
	return db.updatePushRule(ctx, `DELETE FROM push_rules WHERE user_id = $1 AND kind = $2 AND rule_id = $3`, userID, kind, ruleID)
}

// SetPushRuleEnabled enables or disables a user-defined rule, or returns
// ErrNotFound.
func (db *DB) SetPushRuleEnabled(ctx context.Context, userID, kind, ruleID string, enabled bool) error {
	return db.updatePushRule(ctx, `UPDATE push_rules SET enabled = $4 WHERE user_id = $1 AND kind = $2 AND rule_id = $3`,
		userID, kind, ruleID, enabled)
}

// SetPushRuleActions replaces the actions of a user-defined rule, or
// returns ErrNotFound.
func (db *DB) SetPushRuleActions(ctx context.Context, userID, kind, ruleID string, actions []byte) error {
	return db.updatePushRule(ctx, `UPDATE push_rules SET actions = $4 WHERE user_id = $1 AND kind = $2 AND rule_id = $3`,
		userID, kind, ruleID, string(actions))
}

// updatePushRule runs a statement on one user-defined rule (the first
// three arguments name it) and returns ErrNotFound if it touched none.
func (db *DB) updatePushRule(ctx context.Context, query string, args ...any) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("change push rule %v/%v of %v: %w", args[1], args[2], args[0], err)
	}
	return err
}

// SetPushRuleDefault records a user's change to a server-default rule:
// its enabled flag, its actions, or both (nil leaves that part as it is).
func (db *DB) SetPushRuleDefault(ctx context.Context, userID, kind, ruleID string, enabled *bool, actions []byte) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		var on any
		if enabled != nil {
			on = *enabled
		}
		_, err := tx.Exec(ctx, `INSERT INTO push_rule_defaults (user_id, kind, rule_id, enabled, actions) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET
			enabled = COALESCE(excluded.enabled, push_rule_defaults.enabled),
			actions = COALESCE(excluded.actions, push_rule_defaults.actions)`,
			userID, kind, ruleID, on, nullBytes(actions))
		return err
	})
	if err != nil {
		return fmt.Errorf("change default push rule %s/%s of %s: %w", kind, ruleID, userID, err)
	}
	return nil
}

// PushNotification is an event that notifies a user.
type PushNotification struct {
	UserID    string
	RoomID    string
	ThreadID  string // "main" or the thread root
	Pos       int64
	Highlight bool
}

// PushReadMark says a user has read a room (one thread of it, or every
// thread when ThreadID is "") up to and including stream position Pos.
type PushReadMark struct {
	UserID   string
	RoomID   string
	ThreadID string
	Pos      int64
}

// PushProgress returns the event stream position push rules have been
// evaluated up to; ok is false before the first run.
func (db *DB) PushProgress(ctx context.Context) (pos int64, ok bool, err error) {
	err = db.ReadTx(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT stream_pos FROM push_progress WHERE id = 1`).Scan(&pos)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read push progress: %w", err)
	}
	return pos, true, nil
}

// rowsPerInsert bounds the rows of one multi-row INSERT: SQLite looks up
// $N placeholders by a linear scan, so long statements cost quadratic
// time (13% of the CPU at 100 rows, measured with pprof).
const rowsPerInsert = 32

// RecordPushResults stores the outcome of evaluating the events up to
// stream position progress, in one transaction: their notifications, then
// the read marks of their senders.
func (db *DB) RecordPushResults(ctx context.Context, notes []PushNotification, marks []PushReadMark, progress int64) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		// Many rows per statement: a message in a large room notifies
		// every member, and SQLite has one writer.
		for chunk := range slices.Chunk(notes, rowsPerInsert) {
			var values strings.Builder
			args := make([]any, 0, 5*len(chunk))
			for i, n := range chunk {
				if i > 0 {
					values.WriteString(", ")
				}
				values.WriteString("(" + placeholders(5*i+1, 5) + ")")
				args = append(args, n.UserID, n.RoomID, n.ThreadID, n.Pos, n.Highlight)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO push_notifications (user_id, room_id, thread_id, stream_pos, highlight)
				VALUES `+values.String()+` ON CONFLICT (user_id, room_id, stream_pos) DO NOTHING`, args...); err != nil {
				return err
			}
		}
		for _, m := range marks {
			if err := markRead(ctx, tx, m); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO push_progress (id, stream_pos) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET stream_pos = excluded.stream_pos`, progress)
		return err
	})
	if err != nil {
		return fmt.Errorf("record push results up to %d: %w", progress, err)
	}
	return nil
}

// MarkPushRead records a read mark and drops the notifications it passes.
func (db *DB) MarkPushRead(ctx context.Context, m PushReadMark) error {
	err := db.WriteTx(ctx, func(tx *Tx) error { return markRead(ctx, tx, m) })
	if err != nil {
		return fmt.Errorf("mark %s read by %s: %w", m.RoomID, m.UserID, err)
	}
	return nil
}

// markRead moves a read mark forward (never back) and deletes the
// notifications at or before it.
func markRead(ctx context.Context, tx *Tx, m PushReadMark) error {
	if _, err := tx.Exec(ctx, `INSERT INTO push_read_marks (user_id, room_id, thread_id, stream_pos) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET stream_pos = excluded.stream_pos
		WHERE push_read_marks.stream_pos < excluded.stream_pos`,
		m.UserID, m.RoomID, m.ThreadID, m.Pos); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM push_notifications WHERE user_id = $1 AND room_id = $2 AND stream_pos <= $3
		AND ($4 = '' OR thread_id = $4)`, m.UserID, m.RoomID, m.Pos, m.ThreadID)
	return err
}

// PushCount is the unread notifications of one thread of a room.
type PushCount struct {
	RoomID        string
	ThreadID      string
	Notifications int64
	Highlights    int64
}

// PushCounts counts a user's unread notifications in roomIDs, per room
// and thread; threads without any are absent.
func (db *DB) PushCounts(ctx context.Context, userID string, roomIDs []string) ([]PushCount, error) {
	var out []PushCount
	err := db.ReadTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(roomIDs, maxInList) {
			rows, err := tx.Query(ctx, `SELECT n.room_id, n.thread_id, COUNT(*), SUM(CASE WHEN n.highlight THEN 1 ELSE 0 END)
				FROM push_notifications n
				WHERE n.user_id = $1 AND n.room_id IN (`+placeholders(2, len(chunk))+`)
				AND n.stream_pos > COALESCE((SELECT MAX(m.stream_pos) FROM push_read_marks m
					WHERE m.user_id = n.user_id AND m.room_id = n.room_id AND (m.thread_id = '' OR m.thread_id = n.thread_id)), 0)
				GROUP BY n.room_id, n.thread_id`, append([]any{userID}, stringArgs(chunk)...)...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var c PushCount
				if err := rows.Scan(&c.RoomID, &c.ThreadID, &c.Notifications, &c.Highlights); err != nil {
					return err
				}
				out = append(out, c)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count notifications of %s: %w", userID, err)
	}
	return out, nil
}

// EventsAfter returns up to limit events with stream positions in
// (after, upTo], in stream order.
func (db *DB) EventsAfter(ctx context.Context, after, upTo int64, limit int) ([]EventRow, error) {
	var out []EventRow
	err := db.ReadTx(ctx, func(tx *Tx) error {
		var err error
		out, err = queryEvents(ctx, tx, `SELECT `+eventColumns+` FROM events e
			WHERE e.stream_pos > $1 AND e.stream_pos <= $2 ORDER BY e.stream_pos LIMIT $3`, after, upTo, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	return out, nil
}

// scanRows calls scan for every row and closes rows.
func scanRows(rows *sql.Rows, scan func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(); err != nil {
			return err
		}
	}
	return rows.Err()
}

func stringArgs(ss []string) []any {
	args := make([]any, len(ss))
	for i, s := range ss {
		args[i] = s
	}
	return args
}

// nullBytes maps nil to SQL NULL and anything else to text.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
