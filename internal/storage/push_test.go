package storage_test

import (
	"context"
	"fmt"
	"testing"

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

func TestUnreadCountsFollowEventsAndReceipts(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
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
