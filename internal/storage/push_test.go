package storage_test

import (
	"context"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestPushNotificationsAndReadMarks(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		if _, ok, err := db.PushProgress(ctx); ok || err != nil {
			t.Fatalf("progress before the first run: %v %v", ok, err)
		}
		// More notifications than one INSERT statement carries.
		var notes []storage.PushNotification
		for pos := int64(1); pos <= 250; pos++ {
			thread := "main"
			if pos > 200 {
				thread = "$root"
			}
			notes = append(notes, storage.PushNotification{UserID: "@u:x", RoomID: "!a:x", ThreadID: thread, Pos: pos, Highlight: pos%50 == 0})
		}
		notes = append(notes, storage.PushNotification{UserID: "@u:x", RoomID: "!b:x", ThreadID: "main", Pos: 251})
		notes = append(notes, storage.PushNotification{UserID: "@v:x", RoomID: "!a:x", ThreadID: "main", Pos: 1})
		if err := db.RecordPushResults(ctx, notes, nil, 251); err != nil {
			t.Fatal(err)
		}
		// Recording the same results again (a retried chunk) changes nothing.
		if err := db.RecordPushResults(ctx, notes[:10], nil, 251); err != nil {
			t.Fatal(err)
		}
		if pos, ok, err := db.PushProgress(ctx); pos != 251 || !ok || err != nil {
			t.Fatalf("progress %d %v %v", pos, ok, err)
		}
		counts := func() map[string]storage.PushCount {
			t.Helper()
			list, err := db.PushCounts(ctx, "@u:x", []string{"!a:x", "!b:x", "!c:x"})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]storage.PushCount{}
			for _, c := range list {
				out[c.RoomID+"/"+c.ThreadID] = c
			}
			return out
		}
		want := func(key string, n, hl int64) {
			t.Helper()
			c := counts()[key]
			if c.Notifications != n || c.Highlights != hl {
				t.Errorf("%s: %d/%d, want %d/%d", key, c.Notifications, c.Highlights, n, hl)
			}
		}
		want("!a:x/main", 200, 4)
		want("!a:x/$root", 50, 1)
		want("!b:x/main", 1, 0)

		// A read mark for the main timeline at 120, then one behind it.
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", ThreadID: "main", Pos: 120}); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkPushRead(ctx, storage.PushReadMark{UserID: "@u:x", RoomID: "!a:x", ThreadID: "main", Pos: 10}); err != nil {
			t.Fatal(err)
		}
		want("!a:x/main", 80, 2)
		want("!a:x/$root", 50, 1)
		// A notification stored after a mark that covers it does not count.
		late := []storage.PushNotification{{UserID: "@u:x", RoomID: "!a:x", ThreadID: "main", Pos: 100, Highlight: true}}
		if err := db.RecordPushResults(ctx, late, nil, 251); err != nil {
			t.Fatal(err)
		}
		want("!a:x/main", 80, 2)
		// An unthreaded mark covers every thread; other users and rooms keep theirs.
		marks := []storage.PushReadMark{{UserID: "@u:x", RoomID: "!a:x", Pos: 230}}
		if err := db.RecordPushResults(ctx, nil, marks, 252); err != nil {
			t.Fatal(err)
		}
		want("!a:x/main", 0, 0)
		want("!a:x/$root", 20, 1)
		want("!b:x/main", 1, 0)
		if list, _ := db.PushCounts(ctx, "@v:x", []string{"!a:x"}); len(list) != 1 || list[0].Notifications != 1 {
			t.Errorf("another user's counts: %+v", list)
		}
	})
}
