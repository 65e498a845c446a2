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

// EventPush is what one event does to unread counts: the local users it
// notifies in its thread and, when its sender is a local user, that
// sending it reads the thread up to it (the spec counts one's own event as
// read).
type EventPush struct {
	ThreadID   string // "main" or the thread root
	Notified   []Notified
	SenderRead bool
}

// Notified is a user an event notifies.
type Notified struct {
	UserID    string
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

// rowsPerInsert bounds the rows of one multi-row INSERT: SQLite looks up
// $N placeholders by a linear scan, so long statements cost quadratic
// time (13% of the CPU at 100 rows, measured with pprof).
const rowsPerInsert = 32

// pushEvent is the push_events row of one event.
type pushEvent struct {
	pos                int64
	room, thread       string
	users, highlighted []string
	reader             string // the local sender, whose own event reads the thread
}

// pushEventsOf returns the push_events rows of a batch: one for each
// event that notifies someone or that its local sender reads.
func pushEventsOf(batch []PersistEvent) []pushEvent {
	var out []pushEvent
	for i := range batch {
		ev, push := &batch[i].Event, batch[i].Push
		if push == nil || (len(push.Notified) == 0 && !push.SenderRead) {
			continue
		}
		row := pushEvent{pos: ev.Pos, room: ev.RoomID, thread: push.ThreadID}
		if push.SenderRead {
			row.reader = ev.Sender
		}
		for _, n := range push.Notified {
			row.users = append(row.users, n.UserID)
			if n.Highlight {
				row.highlighted = append(row.highlighted, n.UserID)
			}
		}
		out = append(out, row)
	}
	return out
}

// addTo applies the event to the totals: its reader's total restarts
// after it, then each user it notifies gains one.
func (ev *pushEvent) addTo(changes *pushTotals) {
	if ev.reader != "" {
		changes.read(pushKey{ev.reader, ev.room, ev.thread}, ev.pos)
	}
	for _, u := range ev.users {
		changes.notify(pushKey{u, ev.room, ev.thread}, slices.Contains(ev.highlighted, u))
	}
}

func insertPushEvents(ctx context.Context, tx execer, events []pushEvent) error {
	err := insertRows(ctx, tx, `INSERT INTO push_events (stream_pos, room_id, thread_id, users, highlighted, reader)`, "", 6, events,
		func(args []any, ev pushEvent) []any {
			return append(args, ev.pos, ev.room, ev.thread, strings.Join(ev.users, " "), strings.Join(ev.highlighted, " "), ev.reader)
		})
	if err != nil {
		return fmt.Errorf("insert notifications: %w", err)
	}
	return nil
}

// updatePushCounts adds changes to the running totals: a reset total is
// replaced, any other is added to.
func updatePushCounts(ctx context.Context, tx execer, changes *pushTotals) error {
	totals := changes.byKey
	var set, add []pushKey
	for _, k := range changes.order {
		if totals[k].reset {
			set = append(set, k)
		} else {
			add = append(add, k)
		}
	}
	const head = `INSERT INTO push_counts (user_id, room_id, thread_id, notifications, highlights, read_pos)`
	values := func(args []any, k pushKey) []any {
		t := totals[k]
		return append(args, k.user, k.room, k.thread, t.notifications, t.highlights, t.readPos)
	}
	if err := insertRows(ctx, tx, head, ` ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET
		notifications = excluded.notifications, highlights = excluded.highlights, read_pos = excluded.read_pos`,
		6, set, values); err != nil {
		return fmt.Errorf("reset unread counts: %w", err)
	}
	if err := insertRows(ctx, tx, head, ` ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET
		notifications = push_counts.notifications + excluded.notifications,
		highlights = push_counts.highlights + excluded.highlights`, 6, add, values); err != nil {
		return fmt.Errorf("update unread counts: %w", err)
	}
	return nil
}

// MarkPushRead applies a read receipt to the unread counts: the
// notifications up to and including m.Pos (of m.ThreadID, or of every
// thread when it is "") are read, so each total it moves is counted
// afresh from the notifying events after it. A receipt behind what the
// user has read already changes nothing. The buffered changes are written
// out first, in the same transaction, so the totals it reads are whole.
func (db *DB) MarkPushRead(ctx context.Context, m PushReadMark) error {
	db.counts.rw.Lock()
	defer db.counts.rw.Unlock()
	changes, upTo := db.counts.take()
	// A receipt names an event clients have seen, so its changes are in
	// the buffer or the table. Were one newer, the changes of the events
	// up to it could not be undone: it reads only up to what is here.
	m.Pos = min(m.Pos, upTo)
	err := db.WriteTx(ctx, func(tx *Tx) error {
		if err := writePushTotals(ctx, tx, changes, upTo); err != nil {
			return err
		}
		threads, err := threadsToRecount(ctx, tx, m)
		if err != nil {
			return err
		}
		for _, thread := range threads {
			n, hl, err := countNotifications(ctx, tx, m.UserID, m.RoomID, thread, m.Pos, upTo)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE push_counts SET notifications = $1, highlights = $2, read_pos = $3
				WHERE user_id = $4 AND room_id = $5 AND thread_id = $6`, n, hl, m.Pos, m.UserID, m.RoomID, thread); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.counts.restore(changes)
		return fmt.Errorf("mark %s read by %s: %w", m.RoomID, m.UserID, err)
	}
	db.counts.flushed(upTo, time.Now())
	return nil
}

// threadsToRecount lists the threads whose totals m moves forward. A
// thread with no total has had no notification, so it has nothing to
// recount.
func threadsToRecount(ctx context.Context, tx *Tx, m PushReadMark) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT thread_id FROM push_counts WHERE user_id = $1 AND room_id = $2
		AND ($3 = '' OR thread_id = $3) AND read_pos < $4`, m.UserID, m.RoomID, m.ThreadID, m.Pos)
	if err != nil {
		return nil, err
	}
	var threads []string
	err = scanRows(rows, func() error {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		threads = append(threads, t)
		return nil
	})
	return threads, err
}

// countNotifications counts user's notifications in a thread of a room
// at stream positions in (after, upTo].
func countNotifications(ctx context.Context, tx *Tx, user, roomID, thread string, after, upTo int64) (n, highlights int64, err error) {
	rows, err := tx.Query(ctx, `SELECT users, highlighted FROM push_events WHERE room_id = $1 AND thread_id = $2
		AND stream_pos > $3 AND stream_pos <= $4`, roomID, thread, after, upTo)
	if err != nil {
		return 0, 0, err
	}
	err = scanRows(rows, func() error {
		var users, highlighted string
		if err := rows.Scan(&users, &highlighted); err != nil {
			return err
		}
		if listed(users, user) {
			n++
			if listed(highlighted, user) {
				highlights++
			}
		}
		return nil
	})
	return n, highlights, err
}

// listed reports whether a space-separated list holds user.
func listed(list, user string) bool {
	for len(list) > 0 {
		item, rest, _ := strings.Cut(list, " ")
		if item == user {
			return true
		}
		list = rest
	}
	return false
}

// PushCount is the unread notifications of one thread of a room.
type PushCount struct {
	RoomID        string
	ThreadID      string
	Notifications int64
	Highlights    int64
}

// PushCounts returns a user's unread notifications in roomIDs, per room
// and thread; threads without any are absent.
func (db *DB) PushCounts(ctx context.Context, userID string, roomIDs []string) ([]PushCount, error) {
	db.counts.rw.RLock()
	defer db.counts.rw.RUnlock()
	rooms := make(map[string]bool, len(roomIDs))
	for _, r := range roomIDs {
		rooms[r] = true
	}
	pending := db.counts.forUser(userID, rooms)
	var out []PushCount
	add := func(c PushCount) {
		if t, ok := pending[pushKey{userID, c.RoomID, c.ThreadID}]; ok {
			c.Notifications, c.Highlights = t.apply(c.Notifications, c.Highlights)
			delete(pending, pushKey{userID, c.RoomID, c.ThreadID})
		}
		if c.Notifications > 0 {
			out = append(out, c)
		}
	}
	err := db.readOne(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(roomIDs, maxInList) {
			rows, err := tx.Query(ctx, `SELECT room_id, thread_id, notifications, highlights FROM push_counts
				WHERE user_id = $1 AND room_id IN (`+placeholders(2, len(chunk))+`) AND notifications > 0`,
				append([]any{userID}, stringArgs(chunk)...)...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var c PushCount
				if err := rows.Scan(&c.RoomID, &c.ThreadID, &c.Notifications, &c.Highlights); err != nil {
					return err
				}
				add(c)
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
	for k := range pending { // totals the table has at zero or not at all
		add(PushCount{RoomID: k.room, ThreadID: k.thread})
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
