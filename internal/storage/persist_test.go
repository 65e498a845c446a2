package storage_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// PersistEvents writes a batch table by table. These tests hold it to the
// result of the obvious per-event statements (persistOneByOne), run on a
// second database of the same engine.

func TestPersistEventsMatchesSequential(t *testing.T) {
	forEachEnginePair(t, func(t *testing.T, batched, sequential *storage.DB) {
		ctx := context.Background()
		b := &batchBuilder{groups: map[string]*roomGroup{}}
		b.createRoom("!a:x", "$ca")
		b.createRoom("!b:x", "$cb")
		b.add("!a:x", "$a1", "m.room.member", sk("@u:x"), "$ca").Membership = "join"
		b.add("!a:x", "$side", "m.room.message", nil, "$ca") // a second extremity of !a
		b.add("!a:x", "$f1", "m.room.member", sk("@f:x"), "$a1", "$side").Membership = "leave"
		b.add("!b:x", "$old", "m.room.message", nil, "$cb")
		b.add("!b:x", "$oldx", "m.room.message", nil, "$cb")
		setup := b.take()
		for _, db := range []*storage.DB{batched, sequential} {
			if err := db.PersistEvents(ctx, setup); err != nil {
				t.Fatal(err)
			}
			if err := db.ForgetRoom(ctx, "@f:x", "!a:x"); err != nil {
				t.Fatal(err)
			}
		}

		// Rooms interleaved; within a room each event names the one
		// before, so most prev_events are events of the batch itself.
		b.add("!a:x", "$a2", "m.room.message", nil, "$f1")
		b.add("!b:x", "$b1", "m.room.topic", sk(""), "$old").Txn = txn("1")
		b.add("!a:x", "$a3", "m.room.member", sk("@u:x"), "$a2").Membership = "leave"
		b.add("!b:x", "$b2", "m.room.topic", sk(""), "$b1", "$oldx") // several prevs
		b.add("!a:x", "$a4", "m.room.member", sk("@u:x"), "$a3").Membership = "join"
		b.add("!a:x", "$a5", "m.room.member", sk("@f:x"), "$a4").Membership = "join" // un-forgets !a
		// A room created in the batch, its events naming one later in
		// the batch (kept, as one by one), and one naming an event of
		// another room (which stays an extremity there).
		b.createRoom("!c:x", "$cc")
		b.add("!c:x", "$c1", "m.room.message", nil, "$cc", "$c2", "$b2")
		b.add("!c:x", "$c2", "m.room.message", nil, "$cc")
		// Redactions: of a stored event, of an event earlier in the
		// batch, twice of one event (the first wins), and of an event
		// later in the batch (which was not stored yet one by one).
		b.add("!b:x", "$r1", "m.room.redaction", nil, "$b2").Redaction = redaction("$old")
		b.add("!a:x", "$r2", "m.room.redaction", nil, "$a5").Redaction = redaction("$a2")
		b.add("!a:x", "$r3", "m.room.redaction", nil, "$r2").Redaction = redaction("$a2")
		b.add("!c:x", "$r4", "m.room.redaction", nil, "$c2").Redaction = redaction("$late")
		late := b.add("!c:x", "$late", "m.room.message", nil, "$r4")
		late.Txn = txn("2")
		batch := b.take()

		got := persistBothWays(t, batched, sequential, batch)

		wantRows(t, got, "forward_extremities", []string{"!a:x $r3", "!b:x $r1", "!c:x $c1", "!c:x $late"})
		wantRows(t, got, "memberships", []string{
			"@f:x !a:x join $a5 " + fmt.Sprint(posOf(batch, "$a5")) + " false",
			"@u:x !a:x join $a4 " + fmt.Sprint(posOf(batch, "$a4")) + " false",
		})
		redacted := redactions(t, batched)
		want := map[string]string{"$old": "$r1", "$a2": "$r2"}
		if !maps.Equal(redacted, want) {
			t.Errorf("redacted events = %v, want %v", redacted, want)
		}
	})
}

func TestPersistEventsLargeBatch(t *testing.T) {
	forEachEnginePair(t, func(t *testing.T, batched, sequential *storage.DB) {
		b := &batchBuilder{groups: map[string]*roomGroup{}}
		rooms := []string{"!a:x", "!b:x", "!c:x"}
		last := map[string]string{}
		for i, r := range rooms {
			last[r] = fmt.Sprintf("$create%d", i)
			b.createRoom(r, last[r])
		}
		// A snapshot state group larger than many statements' worth.
		snap := b.add("!a:x", "$snap", "m.room.member", sk("@snap:x"), last["!a:x"])
		snap.Membership = "join"
		snap.StateGroup.PrevGroup, snap.StateGroup.ChainLength = 0, 0
		for i := range 1500 {
			snap.StateGroup.Entries = append(snap.StateGroup.Entries,
				storage.StateEntry{Type: "m.room.member", StateKey: fmt.Sprintf("@m%d:x", i), EventID: fmt.Sprintf("$m%d", i)})
		}
		last["!a:x"] = "$snap"
		for i := range 100 {
			r := rooms[i%len(rooms)]
			id := fmt.Sprintf("$e%d", i)
			var p *storage.PersistEvent
			if i%4 == 0 {
				p = b.add(r, id, "m.room.member", sk(fmt.Sprintf("@u%d:x", i%8)), last[r])
				p.Membership = []string{"join", "leave"}[i%2]
			} else {
				p = b.add(r, id, "m.room.message", nil, last[r])
			}
			p.Txn = txn(id)
			last[r] = id
		}
		batch := b.take()
		got := persistBothWays(t, batched, sequential, batch)
		if n := len(got["events"]); n != len(batch) {
			t.Errorf("%d events stored, want %d", n, len(batch))
		}
		if n := len(got["state_group_entries"]); n < 1500 {
			t.Errorf("%d state group entries stored, want the snapshot's 1500 and more", n)
		}
		wantRows(t, got, "forward_extremities", []string{"!a:x " + last["!a:x"], "!b:x " + last["!b:x"], "!c:x " + last["!c:x"]})
	})
}

func TestPersistEventsFailedBatchLeavesNothing(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		b := &batchBuilder{groups: map[string]*roomGroup{}}
		b.createRoom("!a:x", "$ca")
		b.add("!a:x", "$m", "m.room.message", nil, "$ca").Txn = txn("1")
		if err := db.PersistEvents(ctx, b.take()); err != nil {
			t.Fatal(err)
		}
		before := dump(t, db)
		// Each batch fails at a different table; the statements before
		// the failing one must be rolled back with it.
		failing := map[string]func(){
			"event ID stored already": func() {
				b.add("!a:x", "$x1", "m.room.member", sk("@u:x"), "$m").Membership = "join"
				b.add("!a:x", "$m", "m.room.message", nil, "$x1")
			},
			"event ID twice in the batch": func() {
				b.createRoom("!new:x", "$cn")
				b.add("!a:x", "$dup", "m.room.message", nil, "$m")
				b.add("!a:x", "$dup", "m.room.message", nil, "$dup")
			},
			"transaction ID stored already": func() {
				b.add("!a:x", "$x2", "m.room.member", sk("@u:x"), "$m").Membership = "join"
				b.add("!a:x", "$x3", "m.room.message", nil, "$x2").Txn = txn("1")
			},
			"room created twice": func() {
				b.add("!a:x", "$x4", "m.room.topic", sk(""), "$m")
				b.createRoom("!a:x", "$x5")
			},
		}
		for name, build := range failing {
			build()
			if err := db.PersistEvents(ctx, b.take()); err == nil {
				t.Errorf("%s: batch stored", name)
			}
			assertSameTables(t, dump(t, db), before)
		}
	})
}

// forEachEnginePair runs fn per engine with two fresh databases.
func forEachEnginePair(t *testing.T, fn func(t *testing.T, a, b *storage.DB)) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			fn(t, storagetest.Open(t, storagetest.NewOptions(t, engine)), storagetest.Open(t, storagetest.NewOptions(t, engine)))
		})
	}
}

// roomGroup is a room's latest state group while building batches.
type roomGroup struct {
	id    int64
	chain int
}

// batchBuilder makes events with increasing positions and, for state
// events, state groups: deltas on the room's previous group, which may be
// in the same batch.
type batchBuilder struct {
	pos, group int64
	groups     map[string]*roomGroup
	events     []storage.PersistEvent
}

// add appends an event; the pointer is valid until the next add.
func (b *batchBuilder) add(roomID, eventID, typ string, stateKey *string, prevs ...string) *storage.PersistEvent {
	b.pos++
	g := b.groups[roomID]
	if g == nil {
		g = &roomGroup{}
		b.groups[roomID] = g
	}
	p := storage.PersistEvent{
		Event: storage.EventRow{Pos: b.pos, EventID: eventID, RoomID: roomID, Type: typ, StateKey: stateKey,
			Sender: "@u:x", Depth: b.pos, OriginServerTS: 1000 + b.pos, PDU: fmt.Appendf(nil, `{"event_id":%q}`, eventID)},
		PrevEvents: prevs,
		CreatedTS:  2000 + b.pos,
	}
	if stateKey != nil {
		b.group++
		sg := &storage.NewStateGroup{GroupID: b.group, PrevGroup: g.id, ChainLength: g.chain + 1,
			Entries: []storage.StateEntry{{Type: typ, StateKey: *stateKey, EventID: eventID}}}
		if g.id == 0 {
			sg.ChainLength = 0
		}
		p.StateGroup = sg
		g.id, g.chain = sg.GroupID, sg.ChainLength
	}
	p.Event.StateGroup = g.id
	b.events = append(b.events, p)
	return &b.events[len(b.events)-1]
}

func (b *batchBuilder) createRoom(roomID, eventID string) {
	b.add(roomID, eventID, "m.room.create", sk("")).NewRoom = &storage.NewRoom{RoomID: roomID, Version: "11", Creator: "@u:x", CreatedTS: b.pos}
}

// take returns the events added since the last take.
func (b *batchBuilder) take() []storage.PersistEvent {
	out := b.events
	b.events = nil
	return out
}

func sk(s string) *string { return &s }

func txn(id string) *storage.TxnKey {
	return &storage.TxnKey{UserID: "@u:x", DeviceID: "D", Scope: "send/m.room.message", TxnID: id}
}

func redaction(target string) *storage.Redaction {
	return &storage.Redaction{EventID: target, RedactedPDU: fmt.Appendf(nil, `{"redacted":%q}`, target)}
}

func posOf(batch []storage.PersistEvent, eventID string) int64 {
	for _, p := range batch {
		if p.Event.EventID == eventID {
			return p.Event.Pos
		}
	}
	panic("no event " + eventID)
}

// persistOneByOne stores batch in one transaction with the statements of
// each event in turn: the semantics PersistEvents must keep.
func persistOneByOne(ctx context.Context, db *storage.DB, batch []storage.PersistEvent) error {
	return db.WriteTx(ctx, func(tx *storage.Tx) error {
		for i := range batch {
			if err := persistOne(ctx, tx, &batch[i]); err != nil {
				return fmt.Errorf("%s: %w", batch[i].Event.EventID, err)
			}
		}
		return nil
	})
}

func persistOne(ctx context.Context, tx *storage.Tx, p *storage.PersistEvent) error {
	ev := &p.Event
	exec := func(q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err }
	if r := p.NewRoom; r != nil {
		if err := exec(`INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)`,
			r.RoomID, r.Version, r.Creator, r.CreatedTS); err != nil {
			return err
		}
	}
	if g := p.StateGroup; g != nil {
		var prev any
		if g.PrevGroup != 0 {
			prev = g.PrevGroup
		}
		if err := exec(`INSERT INTO state_groups (group_id, room_id, prev_group, chain_length) VALUES ($1, $2, $3, $4)`,
			g.GroupID, ev.RoomID, prev, g.ChainLength); err != nil {
			return err
		}
		for _, e := range g.Entries {
			if err := exec(`INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES ($1, $2, $3, $4)`,
				g.GroupID, e.Type, e.StateKey, e.EventID); err != nil {
				return err
			}
		}
	}
	if err := exec(`INSERT INTO events (stream_pos, event_id, room_id, type, state_key, sender, depth,
		origin_server_ts, state_group, redacted_by, replaces_state, device_id, txn_id, pdu)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		ev.Pos, ev.EventID, ev.RoomID, ev.Type, ev.StateKey, ev.Sender, ev.Depth, ev.OriginServerTS, ev.StateGroup,
		null(ev.RedactedBy), null(ev.ReplacesState), null(ev.DeviceID), null(ev.TxnID), ev.PDU); err != nil {
		return err
	}
	for _, prev := range p.PrevEvents {
		if err := exec(`DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = $2`, ev.RoomID, prev); err != nil {
			return err
		}
	}
	if err := exec(`INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2)`, ev.RoomID, ev.EventID); err != nil {
		return err
	}
	if ev.StateKey != nil {
		if err := exec(`INSERT INTO current_state (room_id, type, state_key, event_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
			ev.RoomID, ev.Type, *ev.StateKey, ev.EventID); err != nil {
			return err
		}
		if ev.Type == "m.room.member" {
			if err := exec(`INSERT INTO memberships (user_id, room_id, membership, event_id, stream_pos) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (user_id, room_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
				stream_pos = excluded.stream_pos, forgotten = FALSE`,
				*ev.StateKey, ev.RoomID, p.Membership, ev.EventID, ev.Pos); err != nil {
				return err
			}
		}
	}
	if t := p.Txn; t != nil {
		if err := exec(`INSERT INTO event_txns (user_id, device_id, scope, txn_id, event_id, created_ts) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.UserID, t.DeviceID, t.Scope, t.TxnID, ev.EventID, p.CreatedTS); err != nil {
			return err
		}
	}
	if r := p.Redaction; r != nil {
		return exec(`UPDATE events SET pdu = $1, redacted_by = $2 WHERE event_id = $3 AND redacted_by IS NULL`,
			r.RedactedPDU, ev.EventID, r.EventID)
	}
	return nil
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// persistedTables are the tables PersistEvents writes.
var persistedTables = map[string]string{
	"rooms":               "room_id, room_version, creator, " + boolText("published") + ", created_ts",
	"state_groups":        "group_id, room_id, prev_group, chain_length",
	"state_group_entries": "group_id, type, state_key, event_id",
	"events": "stream_pos, event_id, room_id, type, state_key, sender, depth, origin_server_ts, state_group, " +
		"redacted_by, replaces_state, device_id, txn_id, pdu",
	"forward_extremities": "room_id, event_id",
	"current_state":       "room_id, type, state_key, event_id",
	"memberships":         "user_id, room_id, membership, event_id, stream_pos, " + boolText("forgotten"),
	"event_txns":          "user_id, device_id, scope, txn_id, event_id, created_ts",
}

// dump returns the sorted rows of persistedTables, each row its columns
// joined by spaces.
// persistBothWays stores batch in batched with PersistEvents and in
// sequential event by event, checks that every table agrees, and returns
// the tables.
func persistBothWays(t *testing.T, batched, sequential *storage.DB, batch []storage.PersistEvent) map[string][]string {
	t.Helper()
	ctx := context.Background()
	if err := batched.PersistEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := persistOneByOne(ctx, sequential, batch); err != nil {
		t.Fatal(err)
	}
	got := dump(t, batched)
	assertSameTables(t, got, dump(t, sequential))
	return got
}

func dump(t *testing.T, db *storage.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := db.ReadTx(context.Background(), func(tx *storage.Tx) error {
		for table, cols := range persistedTables {
			rows, err := tx.Query(context.Background(), `SELECT `+cols+` FROM `+table)
			if err != nil {
				return err
			}
			names, err := rows.Columns()
			if err != nil {
				rows.Close()
				return err
			}
			n := len(names)
			for rows.Next() {
				vals := make([]any, n)
				ptrs := make([]any, n)
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				out[table] = append(out[table], formatRow(vals))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			slices.Sort(out[table])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// boolText selects a BOOLEAN column as "true" or "false" on both engines.
func boolText(col string) string {
	return "CASE WHEN " + col + " THEN 'true' ELSE 'false' END"
}

func formatRow(vals []any) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch v := v.(type) {
		case nil:
			b.WriteString("NULL")
		case []byte:
			b.Write(v)
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

func assertSameTables(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for table := range persistedTables {
		if !slices.Equal(got[table], want[table]) {
			t.Errorf("%s:\n got %q\nwant %q", table, got[table], want[table])
		}
	}
}

func wantRows(t *testing.T, got map[string][]string, table string, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got[table], want) {
		t.Errorf("%s = %q, want %q", table, got[table], want)
	}
}

// redactions maps each redacted event to its redaction.
func redactions(t *testing.T, db *storage.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.ReadTx(context.Background(), func(tx *storage.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT event_id, redacted_by FROM events WHERE redacted_by IS NOT NULL`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, by string
			if err := rows.Scan(&id, &by); err != nil {
				return err
			}
			out[id] = by
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
