package storage_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestSessions(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const user = "@alice:example.org"
		if err := db.CreateUser(ctx, storage.NewUser{UserID: user},
			&storage.NewDevice{DeviceID: "PHONE"}, &storage.NewAccessToken{TokenHash: digest("t1"), DeviceID: "PHONE"}); err != nil {
			t.Fatal(err)
		}
		// A second session on a new device and a third reusing PHONE.
		for _, s := range []struct{ token, device string }{{"t2", "LAPTOP"}, {"t3", "PHONE"}} {
			err := db.CreateSession(ctx, storage.NewDevice{UserID: user, DeviceID: s.device, DisplayName: "d"},
				storage.NewAccessToken{TokenHash: digest(s.token), UserID: user, DeviceID: s.device})
			if err != nil {
				t.Fatal(err)
			}
		}
		owner, err := db.LookupAccessToken(ctx, digest("t3"))
		if err != nil || owner.UserID != user || owner.DeviceID != "PHONE" {
			t.Fatalf("lookup t3: %+v %v", owner, err)
		}
		if _, err := db.LookupAccessToken(ctx, digest("nope")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}

		removed, err := db.DeleteDevice(ctx, user, "PHONE")
		if err != nil || len(removed) != 2 {
			t.Fatalf("DeleteDevice removed %d tokens, err %v; want t1 and t3", len(removed), err)
		}
		for _, tok := range []string{"t1", "t3"} {
			if _, err := db.LookupAccessToken(ctx, digest(tok)); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("%s survived its device's deletion: %v", tok, err)
			}
		}
		if _, err := db.LookupAccessToken(ctx, digest("t2")); err != nil {
			t.Fatalf("other device's token lost: %v", err)
		}
		removed, err = db.DeleteAllDevices(ctx, user)
		if err != nil || len(removed) != 1 {
			t.Fatalf("DeleteAllDevices: %d %v", len(removed), err)
		}
		if _, err := db.LookupAccessToken(ctx, digest("t2")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("t2 survived: %v", err)
		}
	})
}

func TestCreateSessionValidates(t *testing.T) {
	db := storagetest.Open(t, storagetest.NewOptions(t, "sqlite3"))
	err := db.CreateSession(context.Background(), storage.NewDevice{UserID: "@a:x", DeviceID: "D"},
		storage.NewAccessToken{TokenHash: digest("x"), UserID: "@b:x", DeviceID: "D"})
	if err == nil {
		t.Fatal("token for another user accepted")
	}
}
