package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// BenchmarkPersistEvents is one committer batch under load: 8 message
// events with transaction IDs, two in each of 4 rooms, each naming its
// room's previous event.
func BenchmarkPersistEvents(b *testing.B) {
	const rooms, perRoom = 4, 2
	for _, engine := range storagetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storagetest.Open(b, storagetest.NewOptions(b, engine))
			ctx := context.Background()
			var seed []storage.PersistEvent
			last := make([]string, rooms)
			for r := range rooms {
				roomID := fmt.Sprintf("!r%d:x", r)
				last[r] = fmt.Sprintf("$create%d", r)
				seed = append(seed, createEvent(int64(r+1), last[r], roomID, nil))
			}
			if err := db.PersistEvents(ctx, seed); err != nil {
				b.Fatal(err)
			}
			pos := int64(rooms)
			batch := make([]storage.PersistEvent, rooms*perRoom)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for i := range batch {
					r := i % rooms
					pos++
					id := fmt.Sprintf("$m%d", pos)
					batch[i] = storage.PersistEvent{
						Event: storage.EventRow{Pos: pos, EventID: id, RoomID: fmt.Sprintf("!r%d:x", r), Type: "m.room.message",
							Sender: "@u:x", Depth: pos, OriginServerTS: pos, StateGroup: int64(r + 1), DeviceID: "D", TxnID: id,
							PDU: []byte(`{"type":"m.room.message","content":{"body":"hello"}}`)},
						PrevEvents: []string{last[r]},
						Txn:        &storage.TxnKey{UserID: "@u:x", DeviceID: "D", Scope: "send/m.room.message", TxnID: id},
						CreatedTS:  pos,
					}
					last[r] = id
				}
				if err := db.PersistEvents(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// createEvent is the m.room.create event of a new room, with state group
// pos holding it.
func createEvent(pos int64, eventID, roomID string, prev []string) storage.PersistEvent {
	empty := ""
	return storage.PersistEvent{
		Event: storage.EventRow{Pos: pos, EventID: eventID, RoomID: roomID, Type: "m.room.create", StateKey: &empty,
			Sender: "@u:x", Depth: 1, OriginServerTS: pos, StateGroup: pos, PDU: []byte(`{"type":"m.room.create"}`)},
		NewRoom:    &storage.NewRoom{RoomID: roomID, Version: "11", Creator: "@u:x", CreatedTS: pos},
		StateGroup: &storage.NewStateGroup{GroupID: pos, Entries: []storage.StateEntry{{Type: "m.room.create", EventID: eventID}}},
		PrevEvents: prev,
		CreatedTS:  pos,
	}
}
