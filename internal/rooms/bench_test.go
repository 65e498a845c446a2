package rooms_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/signingkey"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// newService starts a rooms service on a fresh database of engine.
func newService(tb testing.TB, engine string) *rooms.Service {
	tb.Helper()
	return newServiceOn(tb, storagetest.Open(tb, storagetest.NewOptions(tb, engine)))
}

// newServiceOn starts a rooms service on db.
func newServiceOn(tb testing.TB, db *storage.DB) *rooms.Service {
	tb.Helper()
	key, err := signingkey.Generate()
	if err != nil {
		tb.Fatal(err)
	}
	svc := rooms.New(db, nil, rooms.Signer{ServerName: "bench.test", KeyID: key.KeyID(), Key: key.Private}, nil,
		rooms.Settings{DefaultRoomVersion: "11"})
	if err := svc.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(svc.Stop)
	return svc
}

var message = json.RawMessage(`{"body":"hello, this is a benchmark message","msgtype":"m.text"}`)

// BenchmarkPersist measures the whole write path of a local message:
// build, sign, authorise against the in-memory head, commit durably.
// "serial" is one sender waiting for each event (latency-bound by the
// commit); "parallel" is many senders across rooms sharing commits.
func BenchmarkPersist(b *testing.B) {
	for _, engine := range storagetest.Engines() {
		b.Run(engine+"/serial", func(b *testing.B) {
			svc := newService(b, engine)
			room := createRoom(b, svc)
			b.ResetTimer()
			for range b.N {
				if _, err := svc.Send(context.Background(), room, rooms.Proto{Type: "m.room.message", Sender: "@alice:bench.test", Content: message}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(engine+"/parallel", func(b *testing.B) {
			svc := newService(b, engine)
			roomIDs := make([]string, 8)
			for i := range roomIDs {
				roomIDs[i] = createRoom(b, svc)
			}
			var next atomic.Int64
			b.SetParallelism(4) // 4 × GOMAXPROCS senders
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				room := roomIDs[int(next.Add(1))%len(roomIDs)]
				for pb.Next() {
					if _, err := svc.Send(context.Background(), room, rooms.Proto{Type: "m.room.message", Sender: "@alice:bench.test", Content: message}, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func createRoom(tb testing.TB, svc *rooms.Service) string {
	tb.Helper()
	id, err := svc.CreateRoom(context.Background(), rooms.CreateRequest{Creator: "@alice:bench.test", Preset: rooms.PresetPublicChat})
	if err != nil {
		tb.Fatal(err)
	}
	return id
}
