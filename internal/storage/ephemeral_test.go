package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// seedRooms creates rooms with memberships: room → user → membership.
// Events get stream positions from 1 up.
func seedRooms(t *testing.T, db *storage.DB, rooms map[string]map[string]string) {
	t.Helper()
	var batch []storage.PersistEvent
	pos := int64(0)
	ids := make([]string, 0, len(rooms))
	for r := range rooms {
		ids = append(ids, r)
	}
	slices.Sort(ids)
	for _, roomID := range ids {
		pos++
		empty := ""
		batch = append(batch, storage.PersistEvent{
			Event: storage.EventRow{Pos: pos, EventID: fmt.Sprintf("$%d", pos), RoomID: roomID, Type: "m.room.create",
				StateKey: &empty, Sender: "@creator:x", PDU: []byte("{}")},
			NewRoom: &storage.NewRoom{RoomID: roomID, Version: "11", Creator: "@creator:x"},
		})
		for user, m := range rooms[roomID] {
			pos++
			u := user
			batch = append(batch, storage.PersistEvent{
				Event: storage.EventRow{Pos: pos, EventID: fmt.Sprintf("$%d", pos), RoomID: roomID, Type: "m.room.member",
					StateKey: &u, Sender: user, PDU: []byte("{}")},
				Membership: m,
			})
		}
	}
	if err := db.PersistEvents(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func TestReceiptStorage(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		seedRooms(t, db, map[string]map[string]string{
			"!a:x": {"@u:x": "join", "@v:x": "join"},
			"!b:x": {"@u:x": "leave", "@v:x": "join"},
		})
		put := func(r storage.Receipt) bool {
			t.Helper()
			stored, err := db.PutReceipt(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			return stored
		}
		r := storage.Receipt{RoomID: "!a:x", UserID: "@v:x", Type: "m.read", EventID: "$e10", EventPos: 10, TS: 5, Pos: 1}
		if !put(r) {
			t.Fatal("first receipt not stored")
		}
		// Not for an earlier or the same event; threads are separate.
		if put(storage.Receipt{RoomID: "!a:x", UserID: "@v:x", Type: "m.read", EventID: "$e9", EventPos: 9, Pos: 2}) ||
			put(storage.Receipt{RoomID: "!a:x", UserID: "@v:x", Type: "m.read", EventID: "$e10", EventPos: 10, Pos: 3}) {
			t.Error("a receipt moved backwards")
		}
		if !put(storage.Receipt{RoomID: "!a:x", UserID: "@v:x", Type: "m.read", ThreadID: "main", EventID: "$e9", EventPos: 9, Pos: 4}) {
			t.Error("a threaded receipt was taken for the unthreaded one")
		}
		if !put(storage.Receipt{RoomID: "!a:x", UserID: "@v:x", Type: "m.read", EventID: "$e11", EventPos: 11, TS: 6, Pos: 5}) {
			t.Error("a later receipt was refused")
		}
		put(storage.Receipt{RoomID: "!b:x", UserID: "@v:x", Type: "m.read", EventID: "$b", EventPos: 12, Pos: 6})

		list := func(rs []storage.Receipt, err error) string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%s/%s/%q@%d", r.RoomID, r.EventID, r.ThreadID, r.Pos))
			}
			slices.Sort(out)
			return fmt.Sprint(out)
		}
		// @u has left !b: only !a's receipts, within the range.
		if got := list(db.ReceiptsInJoinedRooms(ctx, "@u:x", 0, 10)); got != `[!a:x/$e11/""@5 !a:x/$e9/"main"@4]` {
			t.Errorf("u's rooms: %s", got)
		}
		if got := list(db.ReceiptsInJoinedRooms(ctx, "@u:x", 4, 10)); got != `[!a:x/$e11/""@5]` {
			t.Errorf("u's rooms after 4: %s", got)
		}
		if got := list(db.RoomReceipts(ctx, []string{"!b:x"}, 6)); got != `[!b:x/$b/""@6]` {
			t.Errorf("!b's receipts: %s", got)
		}
		if got := list(db.RoomReceipts(ctx, []string{"!a:x", "!b:x"}, 4)); got != `[!a:x/$e9/"main"@4]` {
			t.Errorf("receipts up to 4: %s", got)
		}
		if pos, err := db.MaxReceiptPos(ctx); err != nil || pos != 6 {
			t.Errorf("max position %d, %v", pos, err)
		}
		for _, c := range []struct {
			user, room string
			want       bool
		}{{"@u:x", "!a:x", true}, {"@u:x", "!b:x", false}, {"@w:x", "!a:x", false}} {
			if got, err := db.IsJoined(ctx, c.user, c.room); err != nil || got != c.want {
				t.Errorf("IsJoined(%s, %s) = %v, %v", c.user, c.room, got, err)
			}
		}
	})
}

func TestPresenceStorage(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		seedRooms(t, db, map[string]map[string]string{
			"!a:x": {"@u:x": "join", "@v:x": "join"},
			"!b:x": {"@w:x": "join", "@v:x": "invite"},
		})
		rows := []storage.Presence{
			{UserID: "@u:x", State: "online", StatusMsg: "hi", LastActiveTS: 100, LastSyncTS: 90, CurrentlyActive: true, Pos: 3},
			{UserID: "@v:x", State: "offline", LastActiveTS: 50, Pos: 1},
			{UserID: "@w:x", State: "unavailable", Pos: 2},
		}
		if err := db.PutPresence(ctx, rows); err != nil {
			t.Fatal(err)
		}
		// A write that lost the race is not applied.
		if err := db.PutPresence(ctx, []storage.Presence{{UserID: "@u:x", State: "offline", Pos: 2}}); err != nil {
			t.Fatal(err)
		}
		got, err := db.PresenceOf(ctx, []string{"@u:x", "@nobody:x"})
		if err != nil || len(got) != 1 || got[0] != rows[0] {
			t.Errorf("PresenceOf = %+v, %v", got, err)
		}
		names := func(ps []storage.Presence, err error) string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range ps {
				out = append(out, p.UserID)
			}
			slices.Sort(out)
			return fmt.Sprint(out)
		}
		if got := names(db.PresenceExcept(ctx, "offline")); got != "[@u:x @w:x]" {
			t.Errorf("not offline: %s", got)
		}
		// @v shares !a with @u; @w shares nothing with @v (an invite is not a join).
		if got := names(db.PresenceOfSharers(ctx, "@v:x", 0, 3)); got != "[@u:x @v:x]" {
			t.Errorf("v's sharers: %s", got)
		}
		if got := names(db.PresenceOfSharers(ctx, "@v:x", 1, 3)); got != "[@u:x]" {
			t.Errorf("v's sharers after 1: %s", got)
		}
		if got := names(db.PresenceOfSharers(ctx, "@w:x", 0, 3)); got != "[@w:x]" {
			t.Errorf("w's sharers: %s", got)
		}
		if pos, err := db.MaxPresencePos(ctx); err != nil || pos != 3 {
			t.Errorf("max position %d, %v", pos, err)
		}
	})
}
