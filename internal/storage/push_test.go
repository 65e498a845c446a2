package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// message is a message event to persist with its push results.
func message(pos int64, roomID, sender string, push *storage.EventPush) storage.PersistEvent {
	return storage.PersistEvent{
		Event: storage.EventRow{Pos: pos, EventID: fmt.Sprintf("$%d", pos), RoomID: roomID, Type: "m.room.message",
			Sender: sender, PDU: []byte("{}")},
		Push: push,
	}
}

// flushModes run a test with the unread totals written out by every
// commit, and with them kept in memory until a receipt writes them.
var flushModes = map[string]time.Duration{"written": 0, "buffered": time.Hour}

func TestUnreadCountsFollowEventsAndReceipts(t *testing.T) {
	for mode, every := range flushModes {
		t.Run(mode, func(t *testing.T) { testUnreadCounts(t, every) })
	}
}

func testUnreadCounts(t *testing.T, flushEvery time.Duration) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		db.SetPushFlushEvery(flushEvery)
		seedRooms(t, db, map[string]map[string]string{
			"!a:x": {"@u:x": "join", "@v:x": "join", "@w:x": "join"},
			"!b:x": {"@u:x": "join", "@w:x": "join"},
		})
		// One batch with more notifications than one INSERT statement
		// carries: positions come from the events.
		var batch []storage.PersistEvent
		for pos := int64(101); pos <= 350; pos++ {
			thread := "main"
			if pos > 300 {
				thread = "$root"
			}
			push := &storage.EventPush{ThreadID: thread, Notified: []storage.Notified{{UserID: "@u:x", Highlight: pos%50 == 0}}}
			if pos == 101 {
				push.Notified = append(push.Notified, storage.Notified{UserID: "@v:x"})
			}
			batch = append(batch, message(pos, "!a:x", "@w:x", push))
		}
		batch = append(batch, message(351, "!b:x", "@w:x", &storage.EventPush{ThreadID: "main", Notified: []storage.Notified{{UserID: "@u:x"}}}))
		if err := db.PersistEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
		counts := func(user string) map[string]storage.PushCount {
			t.Helper()
			list, err := db.PushCounts(ctx, user, []string{"!a:x", "!b:x", "!c:x"})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]storage.PushCount{}
			for _, c := range list {
				out[c.RoomID+"/"+c.ThreadID] = c
			}
			return out
		}
		want := func(user, key string, n, hl int64) {
			t.Helper()
			c := counts(user)[key]
			if c.Notifications != n || c.Highlights != hl {
				t.Errorf("%s %s: %d/%d, want %d/%d", user, key, c.Notifications, c.Highlights, n, hl)
			}
		}
		want("@u:x", "!a:x/main", 200, 4)
		want("@u:x", "!a:x/$root", 50, 1)
		want("@u:x", "!b:x/main", 1, 0)
		want("@v:x", "!a:x/main", 1, 0)

		// A receipt for the main timeline at 220, then one behind it.
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", ThreadID: "main", Pos: 220}); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", ThreadID: "main", Pos: 110}); err != nil {
			t.Fatal(err)
		}
		want("@u:x", "!a:x/main", 80, 2)
		want("@u:x", "!a:x/$root", 50, 1)

		// Sending reads the sender's thread up to the event, including
		// notifications earlier in the same batch, but not later ones.
		batch = []storage.PersistEvent{
			message(352, "!a:x", "@w:x", &storage.EventPush{ThreadID: "main", Notified: []storage.Notified{{UserID: "@u:x", Highlight: true}}}),
			message(353, "!a:x", "@u:x", &storage.EventPush{ThreadID: "main", SenderRead: true}),
			message(354, "!a:x", "@w:x", &storage.EventPush{ThreadID: "main", Notified: []storage.Notified{{UserID: "@u:x"}}}),
		}
		if err := db.PersistEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want("@u:x", "!a:x/main", 1, 0)
		want("@u:x", "!a:x/$root", 50, 1)
		// The stored notifications agree with the totals: a receipt at the
		// last event before 354 changes nothing.
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", ThreadID: "main", Pos: 353}); err != nil {
			t.Fatal(err)
		}
		want("@u:x", "!a:x/main", 1, 0)

		// An unthreaded receipt covers every thread; other users and rooms
		// keep theirs.
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", Pos: 330}); err != nil {
			t.Fatal(err)
		}
		want("@u:x", "!a:x/main", 1, 0)
		want("@u:x", "!a:x/$root", 20, 1)
		want("@u:x", "!b:x/main", 1, 0)
		want("@v:x", "!a:x/main", 1, 0)
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", Pos: 354}); err != nil {
			t.Fatal(err)
		}
		if c := counts("@u:x"); len(c) != 1 {
			t.Errorf("after reading !a:x: %+v", c)
		}
	})
}

// TestUnreadCountsSurviveACrash closes the database with changes to the
// totals still buffered, as a crash would leave it: reopening replays
// them from push_events.
func TestUnreadCountsSurviveACrash(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db, err := storage.Open(ctx, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.SetPushFlushEvery(0)
		seedRooms(t, db, map[string]map[string]string{"!a:x": {"@u:x": "join", "@w:x": "join"}})
		notify := func(pos int64, hl bool) storage.PersistEvent {
			return message(pos, "!a:x", "@w:x", &storage.EventPush{ThreadID: "main", Notified: []storage.Notified{{UserID: "@u:x", Highlight: hl}}})
		}
		// Written out: 101 and 102. Buffered: @u's own event at 103, which
		// restarts the count, then 104 and 105.
		for _, batch := range [][]storage.PersistEvent{{notify(101, true)}, {notify(102, false)}} {
			if err := db.PersistEvents(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		db.SetPushFlushEvery(time.Hour)
		if err := db.PersistEvents(ctx, []storage.PersistEvent{message(103, "!a:x", "@u:x", &storage.EventPush{ThreadID: "main", SenderRead: true})}); err != nil {
			t.Fatal(err)
		}
		if err := db.PersistEvents(ctx, []storage.PersistEvent{notify(104, true), notify(105, false)}); err != nil {
			t.Fatal(err)
		}
		check := func(db *storage.DB, n, hl int64) {
			t.Helper()
			list, err := db.PushCounts(ctx, "@u:x", []string{"!a:x"})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Notifications != n || list[0].Highlights != hl {
				t.Fatalf("counts %+v, want %d/%d", list, n, hl)
			}
		}
		check(db, 2, 1)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db = storagetest.Open(t, opts)
		check(db, 2, 1)
		// The replayed totals take receipts like any other.
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", ThreadID: "main", Pos: 104}); err != nil {
			t.Fatal(err)
		}
		check(db, 1, 0)
	})
}
