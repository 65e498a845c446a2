package rooms_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// TestTransactionIDsAcrossRestartsAndManySends: a retried transaction ID
// returns its first event whether the device's IDs were noted since
// start-up, loaded from the database after a restart, or too many to keep
// (then each send asks the database).
func TestTransactionIDsAcrossRestartsAndManySends(t *testing.T) {
	const many = 1100 // more than a device's IDs kept in memory
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := storagetest.Open(t, storagetest.NewOptions(t, engine))
			svc := newServiceOn(t, db)
			room := createRoom(t, svc)
			send := func(svc *rooms.Service, device, txn string) string {
				t.Helper()
				id, err := svc.Send(ctx, room, rooms.Proto{Type: "m.room.message", Sender: "@alice:bench.test", Content: message},
					&rooms.Txn{DeviceID: device, Scope: "send/" + room + "/m.room.message", TxnID: txn})
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			first := send(svc, "D1", "a")
			if again := send(svc, "D1", "a"); again != first {
				t.Fatalf("retry gave %s, first send %s", again, first)
			}
			if other := send(svc, "D2", "a"); other == first {
				t.Fatal("another device's transaction ID took the first send's event")
			}
			// D3 sends more IDs than are kept.
			ids := make([]string, many)
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < many; i += 8 {
						id, err := svc.Send(ctx, room, rooms.Proto{Type: "m.room.message", Sender: "@alice:bench.test", Content: message},
							&rooms.Txn{DeviceID: "D3", Scope: "s", TxnID: fmt.Sprint(i)})
						if err != nil {
							t.Error(err)
							return
						}
						ids[i] = id
					}
				}()
			}
			wg.Wait()
			check := func(svc *rooms.Service) {
				t.Helper()
				for _, i := range []int{0, 1, many / 2, many - 1} {
					id, err := svc.Send(ctx, room, rooms.Proto{Type: "m.room.message", Sender: "@alice:bench.test", Content: message},
						&rooms.Txn{DeviceID: "D3", Scope: "s", TxnID: fmt.Sprint(i)})
					if err != nil || id != ids[i] {
						t.Fatalf("retry of D3's %d: %s, %v; first send %s", i, id, err, ids[i])
					}
				}
			}
			check(svc)

			svc.Stop()
			svc = newServiceOn(t, db) // a restart: nothing in memory
			if again := send(svc, "D1", "a"); again != first {
				t.Fatalf("retry after a restart gave %s, first send %s", again, first)
			}
			if fresh := send(svc, "D1", "b"); fresh == first {
				t.Fatal("a new transaction ID after a restart returned an old event")
			}
			check(svc)
		})
	}
}
