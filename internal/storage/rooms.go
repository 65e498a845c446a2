package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EventRow is an event as stored: its canonical PDU and the columns that
// index it.
type EventRow struct {
	Pos            int64 // stream position
	EventID        string
	RoomID         string
	Type           string
	StateKey       *string
	Sender         string
	Depth          int64
	OriginServerTS int64
	StateGroup     int64 // the room state after the event
	RedactedBy     string
	ReplacesState  string // the state event this one replaced
	DeviceID       string // the local sender's device and transaction ID
	TxnID          string
	PDU            []byte
}

// NewRoom is a room created by its m.room.create event.
type NewRoom struct {
	RoomID    string
	Version   string
	Creator   string
	CreatedTS int64
}

// StateEntry is one (type, state_key) → event ID mapping of a state group.
type StateEntry struct {
	Type     string
	StateKey string
	EventID  string
}

// NewStateGroup is a state group to create: a full snapshot when
// PrevGroup is 0, otherwise the entries that differ from PrevGroup.
type NewStateGroup struct {
	GroupID     int64
	PrevGroup   int64
	ChainLength int
	Entries     []StateEntry
}

// TxnKey identifies a client's send for idempotent retries.
type TxnKey struct {
	UserID   string
	DeviceID string
	Scope    string // the endpoint, e.g. "send/!room:server/m.room.message"
	TxnID    string
}

// Redaction replaces a stored event's PDU with its redacted form.
type Redaction struct {
	EventID     string
	RedactedPDU []byte
}

// PersistEvent is one accepted event and everything it changes.
type PersistEvent struct {
	Event      EventRow
	NewRoom    *NewRoom       // set for m.room.create
	StateGroup *NewStateGroup // set when the event changes the room state
	PrevEvents []string       // no longer forward extremities afterwards
	Txn        *TxnKey
	Redaction  *Redaction
	// Membership is content.membership of an m.room.member event.
	Membership string
	CreatedTS  int64
	// Push is what the event does to unread counts; nil: nothing.
	Push *EventPush
}

// PersistEvents stores a batch of events in one transaction, in order.
// Each event's Pos must be set and increasing. Either all are stored or
// none.
//
// The batch is written table by table, many rows per statement, rather
// than event by event: on PostgreSQL every statement is a round trip, and
// on SQLite parsing statements was a fifth of the CPU. What is left in the
// tables is what storing the events one after another would leave.
func (db *DB) PersistEvents(ctx context.Context, batch []PersistEvent) error {
	if len(batch) == 0 {
		return nil
	}
	notes := pushEventsOf(batch)
	pc := db.counts.commit(notes, batch[len(batch)-1].Event.Pos)
	err := db.writeOnly(ctx, func(w execer) error {
		if err := persistBatch(ctx, w, batch); err != nil {
			return err
		}
		if err := insertPushEvents(ctx, w, notes); err != nil {
			return err
		}
		return pc.write(ctx, w)
	})
	pc.done(err)
	if err != nil {
		return fmt.Errorf("persist %d events (first %s): %w", len(batch), batch[0].Event.EventID, err)
	}
	return nil
}

// persistSteps write a batch in this order because rows refer to one
// another: rooms come before the rows whose foreign keys name them, and
// events before the redactions that rewrite them.
var persistSteps = []struct {
	what  string
	write func(context.Context, execer, []PersistEvent) error
}{
	{"insert rooms", insertRooms},
	{"insert state groups", insertStateGroups},
	{"insert events", insertEvents},
	{"advance forward extremities", advanceExtremities},
	{"update current state", updateCurrentState},
	{"update memberships", updateMemberships},
	{"record transaction IDs", insertTxns},
	{"apply redactions", applyRedactions},
}

func persistBatch(ctx context.Context, tx execer, batch []PersistEvent) error {
	for _, s := range persistSteps {
		if err := s.write(ctx, tx, batch); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

func insertRooms(ctx context.Context, tx execer, batch []PersistEvent) error {
	creates := eventsWhere(batch, func(p *PersistEvent) bool { return p.NewRoom != nil })
	return insertRows(ctx, tx, `INSERT INTO rooms (room_id, room_version, creator, created_ts)`, ``, 4, creates,
		func(args []any, p *PersistEvent) []any {
			r := p.NewRoom
			return append(args, r.RoomID, r.Version, r.Creator, r.CreatedTS)
		})
}

// groupEntry is a state group entry with the group it belongs to, so
// that the entries of several groups share statements.
type groupEntry struct {
	group int64
	*StateEntry
}

// insertStateGroups inserts the groups in batch order; a delta's
// prev_group may be an earlier group of the batch.
func insertStateGroups(ctx context.Context, tx execer, batch []PersistEvent) error {
	events := eventsWhere(batch, func(p *PersistEvent) bool { return p.StateGroup != nil })
	err := insertRows(ctx, tx, `INSERT INTO state_groups (group_id, room_id, prev_group, chain_length)`, ``, 4, events,
		func(args []any, p *PersistEvent) []any {
			g := p.StateGroup
			var prev any
			if g.PrevGroup != 0 {
				prev = g.PrevGroup
			}
			return append(args, g.GroupID, p.Event.RoomID, prev, g.ChainLength)
		})
	if err != nil {
		return err
	}
	var entries []groupEntry
	for _, p := range events {
		for i := range p.StateGroup.Entries {
			entries = append(entries, groupEntry{p.StateGroup.GroupID, &p.StateGroup.Entries[i]})
		}
	}
	return insertRows(ctx, tx, `INSERT INTO state_group_entries (group_id, type, state_key, event_id)`, ``, 4, entries,
		func(args []any, e groupEntry) []any { return append(args, e.group, e.Type, e.StateKey, e.EventID) })
}

func insertEvents(ctx context.Context, tx execer, batch []PersistEvent) error {
	events := eventsWhere(batch, func(*PersistEvent) bool { return true })
	return insertRows(ctx, tx, `INSERT INTO events (stream_pos, event_id, room_id, type, state_key, sender, depth,
		origin_server_ts, state_group, redacted_by, replaces_state, device_id, txn_id, pdu)`, ``, 14, events,
		func(args []any, p *PersistEvent) []any {
			ev := &p.Event
			return append(args, ev.Pos, ev.EventID, ev.RoomID, ev.Type, ev.StateKey, ev.Sender, ev.Depth, ev.OriginServerTS,
				ev.StateGroup, nullString(ev.RedactedBy), nullString(ev.ReplacesState), nullString(ev.DeviceID),
				nullString(ev.TxnID), ev.PDU)
		})
}

// roomEvent names an event of a room: a forward_extremities row.
type roomEvent struct{ room, event string }

// advanceExtremities does to forward_extremities what storing the events
// one by one does: every event's prev_events stop being extremities and
// the event becomes one. So afterwards every prev_event named in the batch
// is gone, and a batch event is an extremity unless a later event of its
// room names it (one named only by earlier events was deleted before it
// was stored).
func advanceExtremities(ctx context.Context, tx execer, batch []PersistEvent) error {
	lastNamedBy := map[roomEvent]int{} // batch index of the last event naming it
	var named []roomEvent
	for i := range batch {
		for _, prev := range batch[i].PrevEvents {
			k := roomEvent{batch[i].Event.RoomID, prev}
			if _, ok := lastNamedBy[k]; !ok {
				named = append(named, k)
			}
			lastNamedBy[k] = i
		}
	}
	if err := deleteExtremities(ctx, tx, named); err != nil {
		return err
	}
	var heads []roomEvent
	for i := range batch {
		k := roomEvent{batch[i].Event.RoomID, batch[i].Event.EventID}
		if last, ok := lastNamedBy[k]; !ok || last <= i {
			heads = append(heads, k)
		}
	}
	return insertRows(ctx, tx, `INSERT INTO forward_extremities (room_id, event_id)`, ``, 2, heads,
		func(args []any, k roomEvent) []any { return append(args, k.room, k.event) })
}

// deleteExtremities deletes the rows of keys, all rooms in one statement
// (up to chunking): each OR term is a lookup of the primary key on both
// engines.
func deleteExtremities(ctx context.Context, tx execer, keys []roomEvent) error {
	for chunk := range slices.Chunk(keys, rowsPerInsert) {
		var where strings.Builder
		args := make([]any, 0, 2*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				where.WriteString(" OR ")
			}
			fmt.Fprintf(&where, "(room_id = $%d AND event_id = $%d)", 2*i+1, 2*i+2)
			args = append(args, k.room, k.event)
		}
		if err := tx.exec(ctx, `DELETE FROM forward_extremities WHERE `+where.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

type stateKey struct{ room, typ, stateKey string }

// updateCurrentState upserts the last state event of the batch for each
// (room, type, state_key): that is what sequential upserts leave, and
// PostgreSQL refuses a statement that upserts one row twice.
func updateCurrentState(ctx context.Context, tx execer, batch []PersistEvent) error {
	events := lastPerKey(batch, func(ev *EventRow) (stateKey, bool) {
		if ev.StateKey == nil {
			return stateKey{}, false
		}
		return stateKey{ev.RoomID, ev.Type, *ev.StateKey}, true
	})
	return insertRows(ctx, tx, `INSERT INTO current_state (room_id, type, state_key, event_id)`,
		` ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`, 4, events,
		func(args []any, p *PersistEvent) []any {
			return append(args, p.Event.RoomID, p.Event.Type, *p.Event.StateKey, p.Event.EventID)
		})
}

// updateMemberships upserts the last membership event of the batch for
// each (user, room), for the same reasons as updateCurrentState. A new
// membership un-forgets the room.
func updateMemberships(ctx context.Context, tx execer, batch []PersistEvent) error {
	events := lastPerKey(batch, func(ev *EventRow) (roomEvent, bool) {
		if ev.Type != "m.room.member" || ev.StateKey == nil {
			return roomEvent{}, false
		}
		return roomEvent{ev.RoomID, *ev.StateKey}, true
	})
	return insertRows(ctx, tx, `INSERT INTO memberships (user_id, room_id, membership, event_id, stream_pos)`,
		` ON CONFLICT (user_id, room_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
		stream_pos = excluded.stream_pos, forgotten = FALSE`, 5, events,
		func(args []any, p *PersistEvent) []any {
			return append(args, *p.Event.StateKey, p.Event.RoomID, p.Membership, p.Event.EventID, p.Event.Pos)
		})
}

func insertTxns(ctx context.Context, tx execer, batch []PersistEvent) error {
	events := eventsWhere(batch, func(p *PersistEvent) bool { return p.Txn != nil })
	return insertRows(ctx, tx, `INSERT INTO event_txns (user_id, device_id, scope, txn_id, event_id, created_ts)`, ``, 6, events,
		func(args []any, p *PersistEvent) []any {
			t := p.Txn
			return append(args, t.UserID, t.DeviceID, t.Scope, t.TxnID, p.Event.EventID, p.CreatedTS)
		})
}

// applyRedactions runs after all events are inserted, one statement per
// redaction (they are rare). stream_pos < the redaction's keeps the
// sequential result when the target comes later in the same batch: it
// was not stored yet when the redaction was.
func applyRedactions(ctx context.Context, tx execer, batch []PersistEvent) error {
	for i := range batch {
		r, ev := batch[i].Redaction, &batch[i].Event
		if r == nil {
			continue
		}
		if err := tx.exec(ctx, `UPDATE events SET pdu = $1, redacted_by = $2
			WHERE event_id = $3 AND redacted_by IS NULL AND stream_pos < $4`,
			r.RedactedPDU, ev.EventID, r.EventID, ev.Pos); err != nil {
			return fmt.Errorf("%s: %w", ev.EventID, err)
		}
	}
	return nil
}

// eventsWhere returns the events of batch that keep accepts, in batch
// order.
func eventsWhere(batch []PersistEvent, keep func(*PersistEvent) bool) []*PersistEvent {
	var out []*PersistEvent
	for i := range batch {
		if keep(&batch[i]) {
			out = append(out, &batch[i])
		}
	}
	return out
}

// lastPerKey returns, in batch order, the events that key accepts and no
// later event of the batch has the same key as.
func lastPerKey[K comparable](batch []PersistEvent, key func(*EventRow) (K, bool)) []*PersistEvent {
	last := map[K]int{}
	for i := range batch {
		if k, ok := key(&batch[i].Event); ok {
			last[k] = i
		}
	}
	var out []*PersistEvent
	for i := range batch {
		if k, ok := key(&batch[i].Event); ok && last[k] == i {
			out = append(out, &batch[i])
		}
	}
	return out
}

// insertRows inserts rows with head (an INSERT up to VALUES) and tail
// (e.g. an ON CONFLICT clause), rowsPerInsert rows per statement; values
// appends the cols arguments of one row.
func insertRows[T any](ctx context.Context, tx execer, head, tail string, cols int, rows []T, values func(args []any, row T) []any) error {
	for chunk := range slices.Chunk(rows, rowsPerInsert) {
		args := make([]any, 0, cols*len(chunk))
		for _, r := range chunk {
			args = values(args, r)
		}
		if err := tx.exec(ctx, head+` VALUES `+valueRows(len(chunk), cols)+tail, args...); err != nil {
			return err
		}
	}
	return nil
}

// valueRows returns rows groups of cols placeholders, numbered from $1:
// "($1, $2), ($3, $4)" for 2 rows of 2.
func valueRows(rows, cols int) string { return valueRowsFrom(1, rows, cols) }

// valueRowsFrom is valueRows with placeholders numbered from $from.
func valueRowsFrom(from, rows, cols int) string {
	b := make([]byte, 0, rows*cols*6)
	for r := range rows {
		if r > 0 {
			b = append(b, ", "...)
		}
		b = append(appendPlaceholders(append(b, '('), from+r*cols, cols), ')')
	}
	return string(b)
}

// RoomHead is what the rooms service loads to take over a room: its
// version, current state and forward extremities.
type RoomHead struct {
	Version     string
	Creator     string
	StateGroup  int64 // the state group of the current state
	ChainLength int
	State       []EventRow // current state events
	Extremities []EventRow // forward extremities (PDU included)
}

// LoadRoomHead reads a room's current state and forward extremities. It
// returns ErrNotFound for an unknown room.
func (db *DB) LoadRoomHead(ctx context.Context, roomID string) (RoomHead, error) {
	var h RoomHead
	err := db.ReadTx(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `SELECT room_version, creator FROM rooms WHERE room_id = $1`, roomID).Scan(&h.Version, &h.Creator)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if h.State, err = queryEvents(ctx, tx, `SELECT `+eventColumns+` FROM current_state c JOIN events e ON e.event_id = c.event_id
			WHERE c.room_id = $1`, roomID); err != nil {
			return err
		}
		if h.Extremities, err = queryEvents(ctx, tx, `SELECT `+eventColumns+` FROM forward_extremities f JOIN events e ON e.event_id = f.event_id
			WHERE f.room_id = $1 ORDER BY e.stream_pos`, roomID); err != nil {
			return err
		}
		// The current state group is the one after the latest event.
		err = tx.QueryRow(ctx, `SELECT e.state_group, g.chain_length FROM events e JOIN state_groups g ON g.group_id = e.state_group
			WHERE e.room_id = $1 ORDER BY e.stream_pos DESC LIMIT 1`, roomID).Scan(&h.StateGroup, &h.ChainLength)
		if err != nil {
			return fmt.Errorf("current state group: %w", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return RoomHead{}, fmt.Errorf("load room %s: %w", roomID, err)
	}
	return h, err
}

// eventColumns selects an EventRow from events aliased e.
const eventColumns = `e.stream_pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.depth,
	e.origin_server_ts, e.state_group, e.redacted_by, e.replaces_state, e.device_id, e.txn_id, e.pdu`

func queryEvents(ctx context.Context, tx *Tx, query string, args ...any) ([]EventRow, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var r EventRow
		var stateKey, redactedBy, replaces, device, txn sql.NullString
		if err := rows.Scan(&r.Pos, &r.EventID, &r.RoomID, &r.Type, &stateKey, &r.Sender, &r.Depth,
			&r.OriginServerTS, &r.StateGroup, &redactedBy, &replaces, &device, &txn, &r.PDU); err != nil {
			return nil, err
		}
		r.ReplacesState, r.DeviceID, r.TxnID = replaces.String, device.String, txn.String
		if stateKey.Valid {
			s := stateKey.String
			r.StateKey = &s
		}
		r.RedactedBy = redactedBy.String
		out = append(out, r)
	}
	return out, rows.Err()
}

// StreamHeads returns the highest stream position and state group ID in
// use, so that a starting server continues after them.
func (db *DB) StreamHeads(ctx context.Context) (maxPos, maxGroup int64, err error) {
	err = db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT COALESCE((SELECT MAX(stream_pos) FROM events), 0),
			COALESCE((SELECT MAX(group_id) FROM state_groups), 0)`).Scan(&maxPos, &maxGroup)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read stream heads: %w", err)
	}
	return maxPos, maxGroup, nil
}

// EventsByID returns the stored events among ids, in no particular order.
func (db *DB) EventsByID(ctx context.Context, ids []string) ([]EventRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []EventRow
	err := db.readOne(ctx, func(tx *Tx) error {
		var err error
		out, err = eventsByID(ctx, tx, ids)
		return err
	})
	return out, err
}

// maxInList bounds the placeholders of one IN (...) list; SQLite allows
// 32766 and PostgreSQL 65535, but smaller statements plan better.
const maxInList = 500

func eventsByID(ctx context.Context, tx *Tx, ids []string) ([]EventRow, error) {
	var out []EventRow
	for len(ids) > 0 {
		n := min(len(ids), maxInList)
		chunk := ids[:n]
		ids = ids[n:]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := queryEvents(ctx, tx, `SELECT `+eventColumns+` FROM events e WHERE e.event_id IN (`+placeholders(1, len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("events by ID: %w", err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// placeholders returns "$from, $from+1, ..." for n arguments.
func placeholders(from, n int) string {
	return string(appendPlaceholders(nil, from, n))
}

func appendPlaceholders(b []byte, from, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(from+i), 10)
	}
	return b
}

// TxnEventID returns the event a client's transaction ID produced, or ""
// if none did.
func (db *DB) TxnEventID(ctx context.Context, k TxnKey) (string, error) {
	var eventID string
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT event_id FROM event_txns WHERE user_id = $1 AND device_id = $2 AND scope = $3 AND txn_id = $4`,
			k.UserID, k.DeviceID, k.Scope, k.TxnID).Scan(&eventID)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("look up transaction ID: %w", err)
	}
	return eventID, nil
}

// DeviceTxns returns the events the transaction IDs of a user's device
// produced, if there are at most limit of them (ok).
func (db *DB) DeviceTxns(ctx context.Context, userID, deviceID string, limit int) (txns map[TxnKey]string, ok bool, err error) {
	txns = map[TxnKey]string{}
	err = db.readOne(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT scope, txn_id, event_id FROM event_txns WHERE user_id = $1 AND device_id = $2 LIMIT $3`,
			userID, deviceID, limit+1)
		if err != nil {
			return err
		}
		return scanRows(rows, func() error {
			k := TxnKey{UserID: userID, DeviceID: deviceID}
			var eventID string
			if err := rows.Scan(&k.Scope, &k.TxnID, &eventID); err != nil {
				return err
			}
			txns[k] = eventID
			return nil
		})
	})
	if err != nil {
		return nil, false, fmt.Errorf("list transaction IDs of %s's device %s: %w", userID, deviceID, err)
	}
	if len(txns) > limit {
		return nil, false, nil
	}
	return txns, true, nil
}

// StateGroupRow is one stored state group: a snapshot (PrevGroup 0) or a
// delta on PrevGroup.
type StateGroupRow struct {
	GroupID   int64
	PrevGroup int64
	Entries   []StateEntry
}

// StateGroupChain returns group and its ancestors up to the nearest full
// snapshot, nearest first, stopping early at any group in known (which the
// caller has already).
func (db *DB) StateGroupChain(ctx context.Context, group int64, known func(int64) bool) ([]StateGroupRow, error) {
	var out []StateGroupRow
	err := db.ReadTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `WITH RECURSIVE chain (group_id, prev_group, n) AS (
				SELECT group_id, prev_group, 0 FROM state_groups WHERE group_id = $1
				UNION ALL
				SELECT g.group_id, g.prev_group, c.n + 1 FROM state_groups g JOIN chain c ON g.group_id = c.prev_group
			)
			SELECT c.group_id, c.prev_group, e.type, e.state_key, e.event_id
			FROM chain c LEFT JOIN state_group_entries e ON e.group_id = c.group_id
			ORDER BY c.n`, group)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var gid int64
			var prev sql.NullInt64
			var typ, stateKey, eventID sql.NullString
			if err := rows.Scan(&gid, &prev, &typ, &stateKey, &eventID); err != nil {
				return err
			}
			if len(out) == 0 || out[len(out)-1].GroupID != gid {
				out = append(out, StateGroupRow{GroupID: gid, PrevGroup: prev.Int64})
			}
			if typ.Valid {
				g := &out[len(out)-1]
				g.Entries = append(g.Entries, StateEntry{Type: typ.String, StateKey: stateKey.String, EventID: eventID.String})
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("load state group %d: %w", group, err)
	}
	// The query cannot stop at known groups; trim after them instead.
	for i, g := range out {
		if i > 0 && known(g.GroupID) {
			return out[:i], nil
		}
	}
	return out, nil
}

// Membership is a user's current membership of a room.
type Membership struct {
	RoomID     string
	UserID     string
	Membership string
	EventID    string
	Pos        int64 // stream position of the membership event
}

// UserMemberships lists the rooms user has a membership in (any kind),
// forgotten ones excluded.
func (db *DB) UserMemberships(ctx context.Context, userID string) ([]Membership, error) {
	return db.memberships(ctx, `SELECT room_id, user_id, membership, event_id, stream_pos FROM memberships
		WHERE user_id = $1 AND NOT forgotten`, userID)
}

// MembershipChangers returns, per room, the users whose member events in
// roomIDs have positions in (after, upTo].
func (db *DB) MembershipChangers(ctx context.Context, roomIDs []string, after, upTo int64) (map[string][]string, error) {
	out := map[string][]string{}
	err := db.readOne(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(roomIDs, maxInList) {
			args := append(stringArgs(chunk), after, upTo)
			n := len(chunk)
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT DISTINCT room_id, state_key FROM events
				WHERE room_id IN (%s) AND type = 'm.room.member' AND stream_pos > $%d AND stream_pos <= $%d`,
				placeholders(1, n), n+1, n+2), args...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var room, user string
				if err := rows.Scan(&room, &user); err != nil {
					return err
				}
				out[room] = append(out[room], user)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership changes in (%d, %d]: %w", after, upTo, err)
	}
	return out, nil
}

// RoomMemberships lists the memberships of a room's users.
func (db *DB) RoomMemberships(ctx context.Context, roomID string) ([]Membership, error) {
	return db.memberships(ctx, `SELECT room_id, user_id, membership, event_id, stream_pos FROM memberships
		WHERE room_id = $1`, roomID)
}

func (db *DB) memberships(ctx context.Context, query string, args ...any) ([]Membership, error) {
	var out []Membership
	err := db.readOne(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Membership
			if err := rows.Scan(&m.RoomID, &m.UserID, &m.Membership, &m.EventID, &m.Pos); err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	return out, nil
}

// ForgetRoom hides a room the user has left from their room lists.
func (db *DB) ForgetRoom(ctx context.Context, userID, roomID string) error {
	return db.WriteTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE memberships SET forgotten = TRUE WHERE user_id = $1 AND room_id = $2`, userID, roomID)
		if err != nil {
			return fmt.Errorf("forget room: %w", err)
		}
		return nil
	})
}

// RoomEvents returns up to limit events of roomID with stream positions
// in (after, upTo], oldest first, or newest first when backwards (then
// the newest limit of that range).
func (db *DB) RoomEvents(ctx context.Context, roomID string, after, upTo int64, limit int, backwards bool) ([]EventRow, error) {
	order := "ASC"
	if backwards {
		order = "DESC"
	}
	var out []EventRow
	err := db.readOne(ctx, func(tx *Tx) error {
		var err error
		out, err = queryEvents(ctx, tx, `SELECT `+eventColumns+` FROM events e
			WHERE e.room_id = $1 AND e.stream_pos > $2 AND e.stream_pos <= $3
			ORDER BY e.stream_pos `+order+` LIMIT $4`, roomID, after, upTo, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("room events: %w", err)
	}
	return out, nil
}

// StateGroupAt returns the state group after the last event of roomID at
// or before stream position pos (0 if the room had no events then).
func (db *DB) StateGroupAt(ctx context.Context, roomID string, pos int64) (int64, error) {
	var group int64
	err := db.readOne(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `SELECT state_group FROM events WHERE room_id = $1 AND stream_pos <= $2
			ORDER BY stream_pos DESC LIMIT 1`, roomID, pos).Scan(&group)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("state group at %d: %w", pos, err)
	}
	return group, nil
}

// JoinedMemberships lists every (user, room) pair with membership join
// whose user ID ends with suffix (":server" selects local users).
func (db *DB) JoinedMemberships(ctx context.Context, suffix string) ([]Membership, error) {
	return db.memberships(ctx, `SELECT room_id, user_id, membership, event_id, stream_pos FROM memberships
		WHERE membership = 'join' AND user_id LIKE $1`, "%"+suffix)
}

// ShareRoom reports whether users a and b are both joined to some room.
func (db *DB) ShareRoom(ctx context.Context, a, b string) (bool, error) {
	var shared bool
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM memberships x JOIN memberships y ON x.room_id = y.room_id
			WHERE x.user_id = $1 AND y.user_id = $2 AND x.membership = 'join' AND y.membership = 'join')`, a, b).Scan(&shared)
	})
	if err != nil {
		return false, fmt.Errorf("shared rooms: %w", err)
	}
	return shared, nil
}

// EventsNearTimestamp returns up to limit events of roomID sent at or
// after ts (forwards, earliest first) or at or before ts (backwards,
// latest first), by origin_server_ts.
func (db *DB) EventsNearTimestamp(ctx context.Context, roomID string, ts int64, backwards bool, limit int) ([]EventRow, error) {
	query := `SELECT ` + eventColumns + ` FROM events e WHERE e.room_id = $1 AND e.origin_server_ts >= $2
		ORDER BY e.origin_server_ts, e.stream_pos LIMIT $3`
	if backwards {
		query = `SELECT ` + eventColumns + ` FROM events e WHERE e.room_id = $1 AND e.origin_server_ts <= $2
		ORDER BY e.origin_server_ts DESC, e.stream_pos DESC LIMIT $3`
	}
	var out []EventRow
	err := db.ReadTx(ctx, func(tx *Tx) error {
		var err error
		out, err = queryEvents(ctx, tx, query, roomID, ts, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events near timestamp: %w", err)
	}
	return out, nil
}

// Forgotten reports whether user has forgotten roomID.
func (db *DB) Forgotten(ctx context.Context, userID, roomID string) (bool, error) {
	var forgotten bool
	err := db.ReadTx(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `SELECT forgotten FROM memberships WHERE user_id = $1 AND room_id = $2`, userID, roomID).Scan(&forgotten)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("forgotten: %w", err)
	}
	return forgotten, nil
}
