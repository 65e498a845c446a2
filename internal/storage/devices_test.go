package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// userWithDevices creates userID with the given devices, one token each
// (digest of "<device>-token").
func userWithDevices(t *testing.T, db *storage.DB, userID string, devices ...string) {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateUser(ctx, storage.NewUser{UserID: userID, PasswordHash: "old"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range devices {
		if err := db.CreateSession(ctx, storage.NewDevice{UserID: userID, DeviceID: d, DisplayName: d + " name"},
			storage.NewAccessToken{TokenHash: digest(userID + d + "-token"), UserID: userID, DeviceID: d}); err != nil {
			t.Fatal(err)
		}
	}
}

func tokenValid(t *testing.T, db *storage.DB, userID, device string) bool {
	t.Helper()
	_, err := db.LookupAccessToken(context.Background(), digest(userID+device+"-token"))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func deviceIDs(t *testing.T, db *storage.DB, userID string) []string {
	t.Helper()
	ds, err := db.Devices(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.DeviceID)
	}
	return ids
}

func TestDevices(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const alice, bob = "@alice:example.org", "@bob:example.org"
		userWithDevices(t, db, alice, "B", "A", "C")
		userWithDevices(t, db, bob, "A")

		if got := fmt.Sprint(deviceIDs(t, db, alice)); got != "[A B C]" {
			t.Fatalf("devices %s", got)
		}
		d, err := db.GetDevice(ctx, alice, "A")
		if err != nil || d.DisplayName != "A name" || !d.LastSeen.IsZero() || d.CreatedAt.IsZero() {
			t.Fatalf("device %+v %v", d, err)
		}
		if _, err := db.GetDevice(ctx, alice, "Z"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown device: %v", err)
		}

		// Rename.
		if err := db.SetDeviceDisplayName(ctx, alice, "A", "phone ☎"); err != nil {
			t.Fatal(err)
		}
		if d, _ := db.GetDevice(ctx, alice, "A"); d.DisplayName != "phone ☎" {
			t.Fatalf("renamed %+v", d)
		}
		if err := db.SetDeviceDisplayName(ctx, alice, "Z", "x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("rename unknown: %v", err)
		}

		// Last seen: batch write, older values do not overwrite newer ones,
		// deleted devices are skipped.
		t1 := time.UnixMilli(1_700_000_000_000)
		t0 := t1.Add(-time.Hour)
		err = db.RecordDevicesSeen(ctx, []storage.DeviceSeen{
			{UserID: alice, DeviceID: "A", At: t1, IP: "10.0.0.1", UserAgent: "Element"},
			{UserID: alice, DeviceID: "gone", At: t1, IP: "10.0.0.2"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.RecordDevicesSeen(ctx, []storage.DeviceSeen{{UserID: alice, DeviceID: "A", At: t0, IP: "old"}}); err != nil {
			t.Fatal(err)
		}
		d, _ = db.GetDevice(ctx, alice, "A")
		if !d.LastSeen.Equal(t1) || d.LastSeenIP != "10.0.0.1" || d.LastSeenUserAgent != "Element" {
			t.Fatalf("last seen %+v", d)
		}

		// Delete some (with an unknown ID and another user's device name).
		hashes, err := db.DeleteDevices(ctx, alice, []string{"A", "C", "nope"})
		if err != nil || len(hashes) != 2 {
			t.Fatalf("delete: %d hashes, %v", len(hashes), err)
		}
		if got := fmt.Sprint(deviceIDs(t, db, alice)); got != "[B]" {
			t.Fatalf("after delete %s", got)
		}
		if tokenValid(t, db, alice, "A") || !tokenValid(t, db, alice, "B") || !tokenValid(t, db, bob, "A") {
			t.Fatal("wrong tokens deleted")
		}
		if got := fmt.Sprint(deviceIDs(t, db, bob)); got != "[A]" {
			t.Fatalf("bob's devices %s", got)
		}
	})
}

func TestDeleteManyDevices(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		db := storagetest.Open(t, opts)
		var ids []string
		for i := range 1203 { // more than one chunk
			ids = append(ids, fmt.Sprintf("D%04d", i))
		}
		userWithDevices(t, db, "@many:example.org", ids[:3]...)
		hashes, err := db.DeleteDevices(context.Background(), "@many:example.org", ids)
		if err != nil || len(hashes) != 3 || len(deviceIDs(t, db, "@many:example.org")) != 0 {
			t.Fatalf("%d hashes, %v", len(hashes), err)
		}
	})
}

func TestSetPassword(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const alice = "@alice:example.org"
		userWithDevices(t, db, alice, "A", "B", "C")
		// A second token on the kept device goes too, as in Synapse.
		if err := db.CreateSession(ctx, storage.NewDevice{UserID: alice, DeviceID: "A"},
			storage.NewAccessToken{TokenHash: digest("A-second"), UserID: alice, DeviceID: "A"}); err != nil {
			t.Fatal(err)
		}

		// Without logging out: only the hash changes.
		if hashes, err := db.SetPassword(ctx, alice, "new1", nil); err != nil || len(hashes) != 0 {
			t.Fatalf("%v %v", hashes, err)
		}
		if u, _ := db.GetUser(ctx, alice); u.PasswordHash != "new1" || len(deviceIDs(t, db, alice)) != 3 {
			t.Fatalf("user %+v", u)
		}

		hashes, err := db.SetPassword(ctx, alice, "new2", &storage.KeepSession{DeviceID: "A", TokenHash: digest(alice + "A-token")})
		if err != nil || len(hashes) != 3 {
			t.Fatalf("%d hashes, %v", len(hashes), err)
		}
		if u, _ := db.GetUser(ctx, alice); u.PasswordHash != "new2" {
			t.Fatalf("user %+v", u)
		}
		if got := fmt.Sprint(deviceIDs(t, db, alice)); got != "[A]" {
			t.Fatalf("devices %s", got)
		}
		if !tokenValid(t, db, alice, "A") || tokenValid(t, db, alice, "B") {
			t.Fatal("wrong tokens kept")
		}
		if _, err := db.LookupAccessToken(ctx, digest("A-second")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second token on kept device: %v", err)
		}
		if _, err := db.SetPassword(ctx, "@nobody:example.org", "x", nil); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

func TestDeactivateUser(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const alice, bob = "@alice:example.org", "@bob:example.org"
		userWithDevices(t, db, alice, "A", "B")
		userWithDevices(t, db, bob, "A")
		// A third device, logged in separately.
		if err := db.CreateSession(ctx, storage.NewDevice{UserID: alice, DeviceID: "X"},
			storage.NewAccessToken{TokenHash: digest("x"), UserID: alice, DeviceID: "X"}); err != nil {
			t.Fatal(err)
		}

		hashes, err := db.DeactivateUser(ctx, alice, true)
		if err != nil || len(hashes) != 3 {
			t.Fatalf("%d hashes, %v", len(hashes), err)
		}
		u, _ := db.GetUser(ctx, alice)
		if !u.Deactivated || u.PasswordHash == "" || len(deviceIDs(t, db, alice)) != 0 {
			t.Fatalf("user %+v", u)
		}
		if erased, err := db.UserErased(ctx, alice); err != nil || !erased {
			t.Fatalf("erased %v %v", erased, err)
		}
		// Again (idempotent), and bob is untouched.
		if _, err := db.DeactivateUser(ctx, alice, true); err != nil {
			t.Fatal(err)
		}
		if u, _ := db.GetUser(ctx, bob); u.Deactivated || !tokenValid(t, db, bob, "A") {
			t.Fatalf("bob %+v", u)
		}
		if _, err := db.DeactivateUser(ctx, bob, false); err != nil {
			t.Fatal(err)
		}
		if erased, _ := db.UserErased(ctx, bob); erased {
			t.Fatal("bob erased without asking")
		}
		if _, err := db.DeactivateUser(ctx, "@nobody:example.org", false); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}
