package rooms_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// TestStreamOrderFollowsTheRoomDAG sends from many goroutines into a few
// rooms and checks, in the database, that each room's events in stream
// order form one chain: every event's only prev_event is the one before
// it, and depth grows by one. Stream positions are unique and dense, and
// each room ends with its last event as its only forward extremity.
func TestStreamOrderFollowsTheRoomDAG(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		for _, shape := range []struct{ rooms, senders int }{{3, 12}, {8, 8}} {
			t.Run(fmt.Sprintf("%s/%d rooms", engine, shape.rooms), func(t *testing.T) {
				testStreamOrder(t, engine, shape.rooms, shape.senders)
			})
		}
	}
}

func testStreamOrder(t *testing.T, engine string, roomCount, senders int) {
	opts := storagetest.NewOptions(t, engine)
	db := storagetest.Open(t, opts)
	svc := newServiceOn(t, db)
	var roomIDs []string
	for range roomCount {
		roomIDs = append(roomIDs, createRoom(t, svc))
	}
	var wg sync.WaitGroup
	for i := range senders {
		room := roomIDs[i%len(roomIDs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				content := []byte(fmt.Sprintf(`{"body":"%d-%d","msgtype":"m.text"}`, i, j))
				if _, err := svc.Send(context.Background(), room, rooms.Proto{Type: "m.room.message", Sender: "@alice:bench.test", Content: content}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, room := range roomIDs {
		rows, err := db.RoomEvents(context.Background(), room, 0, 1<<62, 10000, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			if seen[row.Pos] {
				t.Fatalf("stream position %d used twice", row.Pos)
			}
			seen[row.Pos] = true
			if i == 0 {
				continue
			}
			ev, err := event.Parse("11", row.PDU)
			if err != nil {
				t.Fatal(err)
			}
			prev := ev.PrevEvents()
			if len(prev) != 1 || prev[0] != rows[i-1].EventID || row.Depth != rows[i-1].Depth+1 {
				t.Fatalf("room %s: event %d (depth %d) follows %v, not %s (depth %d)", room, i, row.Depth, prev, rows[i-1].EventID, rows[i-1].Depth)
			}
		}
		if want := 6 + 10*senders/roomCount; len(rows) != want { // createRoom's 6 events + 10 per sender
			t.Errorf("room %s has %d events, want %d", room, len(rows), want)
		}
		// Batches of different rooms commit at once on PostgreSQL:
		// each room must still end with its last event as its only
		// forward extremity.
		head, err := db.LoadRoomHead(context.Background(), room)
		if err != nil {
			t.Fatal(err)
		}
		if last := rows[len(rows)-1].EventID; len(head.Extremities) != 1 || head.Extremities[0].EventID != last {
			t.Errorf("room %s: forward extremities %d, want only %s", room, len(head.Extremities), last)
		}
	}
	for pos := int64(1); pos <= int64(len(seen)); pos++ {
		if !seen[pos] {
			t.Errorf("stream position %d missing: positions are not dense", pos)
		}
	}
}
