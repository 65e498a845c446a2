package keys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/axonhs/axon/internal/keys"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
	"github.com/axonhs/axon/internal/streams"
	"github.com/axonhs/axon/internal/todevice"
)

type nobody struct{}

func (nobody) WakeUser(string)    {}
func (nobody) WakeSharers(string) {}

// population creates users @u<i>:x, each with one device D and its keys
// (and oneTimeKeys one-time keys), and returns their IDs.
func population(b *testing.B, db *storage.DB, svc *keys.Service, users, oneTimeKeys int) []string {
	b.Helper()
	ctx := context.Background()
	ids := make([]string, users)
	for i := range users {
		u := fmt.Sprintf("@u%d:x", i)
		ids[i] = u
		err := db.CreateUser(ctx, storage.NewUser{UserID: u}, &storage.NewDevice{UserID: u, DeviceID: "D"},
			&storage.NewAccessToken{TokenHash: []byte(u), UserID: u, DeviceID: "D"})
		if err != nil {
			b.Fatal(err)
		}
		// Unsigned (signatures are checked at upload, which is not measured).
		dk := fmt.Sprintf(`{"user_id":%q,"device_id":"D","algorithms":["m.olm.v1.curve25519-aes-sha2","m.megolm.v1.aes-sha2"],
			"keys":{"curve25519:D":"c%d","ed25519:D":"e%d"},"signatures":{}}`, u, i, i)
		otks := map[string]json.RawMessage{}
		for k := range oneTimeKeys {
			otks[fmt.Sprintf("signed_curve25519:K%d", k)] = json.RawMessage(fmt.Sprintf(`{"key":"k%d","signatures":{}}`, k))
		}
		if _, err := svc.Upload(ctx, u, "D", keys.Upload{DeviceKeys: json.RawMessage(dk), OneTimeKeys: otks}); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// BenchmarkQuery1000Users is one /keys/query for all devices of 1,000
// users (the spec's target: 20 ms).
func BenchmarkQuery1000Users(b *testing.B) {
	for _, engine := range storagetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storagetest.Open(b, storagetest.NewOptions(b, engine))
			svc := keys.New(db, streams.NewSequence(0), nobody{}, "x")
			want := map[string][]string{}
			for _, u := range population(b, db, svc, 1000, 0) {
				want[u] = nil
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := svc.Query(ctx, "@u0:x", want)
				if err != nil || len(res.DeviceKeys) != 1000 || len(res.DeviceKeys["@u999:x"]) != 1 {
					b.Fatalf("%d users, %v", len(res.DeviceKeys), err)
				}
			}
		})
	}
}

// BenchmarkClaim100Devices is one /keys/claim of a one-time key from each
// of 100 devices (target: 20 ms).
func BenchmarkClaim100Devices(b *testing.B) {
	for _, engine := range storagetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storagetest.Open(b, storagetest.NewOptions(b, engine))
			svc := keys.New(db, streams.NewSequence(0), nobody{}, "x")
			// Enough keys for the iterations the benchmark may run.
			ids := population(b, db, svc, 100, 2000)
			want := map[string]map[string]string{}
			for _, u := range ids {
				want[u] = map[string]string{"D": "signed_curve25519"}
			}
			ctx := context.Background()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if n++; n > 2000 {
					b.Fatal("out of one-time keys")
				}
				got, err := svc.Claim(ctx, want)
				if err != nil || len(got) != 100 {
					b.Fatalf("%d claimed, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkToDeviceFanout1000 is one /sendToDevice with a message for
// each of 1,000 devices, as a room key share in a big room (target: 50 ms).
func BenchmarkToDeviceFanout1000(b *testing.B) {
	for _, engine := range storagetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storagetest.Open(b, storagetest.NewOptions(b, engine))
			ids := population(b, db, keys.New(db, streams.NewSequence(0), nobody{}, "x"), 1000, 0)
			td := todevice.New(db, streams.NewSequence(0), nobody{}, "x")
			msgs := map[string]map[string]json.RawMessage{}
			for i, u := range ids {
				// Olm-encrypted contents differ per device.
				msgs[u] = map[string]json.RawMessage{"D": json.RawMessage(fmt.Sprintf(
					`{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"s","ciphertext":{"c%d":{"type":0,"body":"%0400d"}}}`, i, i))}
			}
			ctx := context.Background()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n++
				err := td.Send(ctx, todevice.Send{Sender: "@u0:x", SenderKey: "D", Type: "m.room.encrypted", TxnID: fmt.Sprint(n), Messages: msgs})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
