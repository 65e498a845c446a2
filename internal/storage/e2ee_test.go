package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func otk(alg, id, json string) storage.OneTimeKey {
	return storage.OneTimeKey{Algorithm: alg, KeyID: id, JSON: json}
}

func exactlySame(a, b string) bool { return a == b }

func TestUploadKeysAndCounts(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		userWithDevices(t, db, "@u:x", "D1")
		up := storage.KeyUpload{UserID: "@u:x", DeviceID: "D1", DeviceKeys: `{"device_id":"D1"}`, ChangePos: 7,
			OneTimeKeys:    []storage.OneTimeKey{otk("signed_curve25519", "a", `"ka"`), otk("signed_curve25519", "b", `"kb"`), otk("curve25519", "c", `"kc"`)},
			FallbackKeys:   []storage.OneTimeKey{otk("signed_curve25519", "f", `"kf"`)},
			SameOneTimeKey: exactlySame}
		changed, err := db.UploadKeys(ctx, up)
		if err != nil || !changed {
			t.Fatalf("first upload: changed %v, %v", changed, err)
		}
		// The same upload again: a retry changes nothing.
		if changed, err := db.UploadKeys(ctx, up); err != nil || changed {
			t.Fatalf("retry: changed %v, %v", changed, err)
		}
		c, err := db.DeviceKeyCounts(ctx, "@u:x", "D1")
		if err != nil {
			t.Fatal(err)
		}
		if c.OneTimeKeys["signed_curve25519"] != 2 || c.OneTimeKeys["curve25519"] != 1 || !slices.Equal(c.UnusedFallback, []string{"signed_curve25519"}) {
			t.Fatalf("counts %+v", c)
		}
		// A key re-uploaded with other contents fails the whole upload.
		bad := storage.KeyUpload{UserID: "@u:x", DeviceID: "D1", DeviceKeys: `{"device_id":"D1","v":2}`, SameOneTimeKey: exactlySame,
			OneTimeKeys: []storage.OneTimeKey{otk("signed_curve25519", "z", `"kz"`), otk("signed_curve25519", "a", `"other"`)}}
		var conflict *storage.OneTimeKeyConflictError
		if _, err := db.UploadKeys(ctx, bad); !errors.As(err, &conflict) || conflict.Name != "signed_curve25519:a" {
			t.Fatalf("conflicting upload: %v", err)
		}
		rows, err := db.DeviceKeys(ctx, []string{"@u:x"})
		if err != nil || len(rows) != 1 || rows[0].KeyJSON != `{"device_id":"D1"}` || rows[0].DisplayName != "D1 name" {
			t.Fatalf("device keys after a refused upload: %+v, %v", rows, err)
		}
		if c, _ := db.DeviceKeyCounts(ctx, "@u:x", "D1"); c.OneTimeKeys["signed_curve25519"] != 2 {
			t.Fatalf("one-time keys after a refused upload: %+v", c)
		}
		changes, _, err := db.DeviceListChanges(ctx, "@u:x", 0, 100)
		if err != nil || !slices.Equal(changes, []string{"@u:x"}) {
			t.Fatalf("device list changes: %v, %v", changes, err)
		}
		if pos, err := db.MaxDeviceListPos(ctx); err != nil || pos != 7 {
			t.Fatalf("max device list position %d, %v", pos, err)
		}
	})
}

func TestClaimKeysInUploadOrderThenFallback(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		userWithDevices(t, db, "@u:x", "D1", "D2")
		for _, batch := range [][]string{{"z", "y"}, {"b", "a"}} {
			up := storage.KeyUpload{UserID: "@u:x", DeviceID: "D1", SameOneTimeKey: exactlySame}
			for _, id := range batch {
				up.OneTimeKeys = append(up.OneTimeKeys, otk("alg", id, `"`+id+`"`))
			}
			up.FallbackKeys = []storage.OneTimeKey{otk("alg", "fb", `"fallback"`)}
			if _, err := db.UploadKeys(ctx, up); err != nil {
				t.Fatal(err)
			}
		}
		claim := []storage.KeyClaim{{UserID: "@u:x", DeviceID: "D1", Algorithm: "alg"}, {UserID: "@u:x", DeviceID: "D2", Algorithm: "alg"}}
		var got []string
		for range 6 {
			keys, err := db.ClaimKeys(ctx, claim)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].DeviceID != "D1" {
				t.Fatalf("claim answered %+v", keys)
			}
			got = append(got, keys[0].Key.KeyID)
		}
		// Upload order, then the fallback key, which stays.
		if want := []string{"z", "y", "b", "a", "fb", "fb"}; !slices.Equal(got, want) {
			t.Fatalf("claimed %v, want %v", got, want)
		}
		if c, _ := db.DeviceKeyCounts(ctx, "@u:x", "D1"); len(c.OneTimeKeys) != 0 || len(c.UnusedFallback) != 0 {
			t.Fatalf("counts after claims: %+v", c)
		}
		// Re-uploading the used fallback key keeps it used; a new one is unused.
		same := storage.KeyUpload{UserID: "@u:x", DeviceID: "D1", FallbackKeys: []storage.OneTimeKey{otk("alg", "fb", `"fallback"`)}}
		if _, err := db.UploadKeys(ctx, same); err != nil {
			t.Fatal(err)
		}
		if c, _ := db.DeviceKeyCounts(ctx, "@u:x", "D1"); len(c.UnusedFallback) != 0 {
			t.Fatalf("re-uploaded fallback key became unused: %+v", c)
		}
		same.FallbackKeys[0] = otk("alg", "fb2", `"fallback 2"`)
		if _, err := db.UploadKeys(ctx, same); err != nil {
			t.Fatal(err)
		}
		if c, _ := db.DeviceKeyCounts(ctx, "@u:x", "D1"); !slices.Equal(c.UnusedFallback, []string{"alg"}) {
			t.Fatalf("new fallback key: %+v", c)
		}
	})
}

// Concurrent claims never get the same key, and none comes back empty
// while keys remain.
func TestConcurrentClaimsTakeDistinctKeys(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		userWithDevices(t, db, "@u:x", "D1")
		const keys = 40
		up := storage.KeyUpload{UserID: "@u:x", DeviceID: "D1", SameOneTimeKey: exactlySame}
		for i := range keys {
			up.OneTimeKeys = append(up.OneTimeKeys, otk("alg", fmt.Sprint(i), fmt.Sprintf(`"k%d"`, i)))
		}
		if _, err := db.UploadKeys(ctx, up); err != nil {
			t.Fatal(err)
		}
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
			wg   sync.WaitGroup
		)
		for range 8 {
			wg.Go(func() {
				for range keys / 8 {
					got, err := db.ClaimKeys(ctx, []storage.KeyClaim{{UserID: "@u:x", DeviceID: "D1", Algorithm: "alg"}})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if len(got) != 1 || seen[got[0].Key.KeyID] {
						t.Errorf("claim got %+v (seen before or none)", got)
					} else {
						seen[got[0].Key.KeyID] = true
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != keys {
			t.Fatalf("%d distinct keys claimed, want %d", len(seen), keys)
		}
	})
}

func TestToDeviceInbox(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		userWithDevices(t, db, "@a:x", "A1")
		userWithDevices(t, db, "@b:x", "B1", "B2")
		send := storage.ToDeviceSend{Sender: "@a:x", SenderKey: "A1", TxnKey: "m.test/1", Pos: 1, Messages: []storage.ToDeviceMessage{
			{UserID: "@b:x", DeviceID: "B1", JSON: `{"n":1}`},
			{UserID: "@b:x", DeviceID: "GONE", JSON: `{"n":2}`},
			{UserID: "@a:x", DeviceID: "*", JSON: `{"n":3}`},
		}}
		if dup, err := db.SendToDevice(ctx, send); err != nil || dup {
			t.Fatalf("send: duplicate %v, %v", dup, err)
		}
		if dup, err := db.SendToDevice(ctx, send); err != nil || !dup {
			t.Fatalf("retry: duplicate %v, %v", dup, err)
		}
		send2 := storage.ToDeviceSend{Sender: "@a:x", SenderKey: "A1", TxnKey: "m.test/2", Pos: 2,
			Messages: []storage.ToDeviceMessage{{UserID: "@b:x", DeviceID: "*", JSON: `{"n":4}`}}}
		if _, err := db.SendToDevice(ctx, send2); err != nil {
			t.Fatal(err)
		}
		inbox := func(user, device string, after int64) []string {
			t.Helper()
			rows, err := db.ToDeviceInbox(ctx, user, device, after, 10, 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rows {
				out = append(out, fmt.Sprintf("%d%s", r.Pos, r.JSON))
			}
			return out
		}
		if got := inbox("@b:x", "B1", 0); !slices.Equal(got, []string{`1{"n":1}`, `2{"n":4}`}) {
			t.Fatalf("B1 inbox %v", got)
		}
		if got := inbox("@b:x", "B2", 0); !slices.Equal(got, []string{`2{"n":4}`}) {
			t.Fatalf("B2 inbox %v", got)
		}
		if got := inbox("@a:x", "A1", 0); !slices.Equal(got, []string{`1{"n":3}`}) {
			t.Fatalf("A1 inbox %v", got)
		}
		if err := db.DeleteToDevice(ctx, "@b:x", "B1", 1); err != nil {
			t.Fatal(err)
		}
		if got := inbox("@b:x", "B1", 0); !slices.Equal(got, []string{`2{"n":4}`}) {
			t.Fatalf("B1 inbox after the ack %v", got)
		}
		// Deleting a device deletes its inbox; the stream position stays.
		if _, err := db.DeleteDevices(ctx, "@b:x", []string{"B1", "B2"}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteToDevice(ctx, "@a:x", "A1", 2); err != nil {
			t.Fatal(err)
		}
		if pos, err := db.MaxToDevicePos(ctx); err != nil || pos != 2 {
			t.Fatalf("max to-device position %d, %v", pos, err)
		}
	})
}
