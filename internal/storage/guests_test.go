package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestMaxNumericLocalpart(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		if n, err := db.MaxNumericLocalpart(ctx); err != nil || n != 0 {
			t.Fatalf("empty database: %d, %v; want 0", n, err)
		}
		for _, id := range []string{
			"@7:example.org", "@12:example.org", "@3:example.org",
			"@99abc:example.org",                 // starts with digits, is not numeric
			"@alice:example.org",                 // outside the range
			"@123456789012345678901:example.org", // numeric, but past int64: skipped
			"@0012:example.org",
		} {
			if err := db.CreateUser(ctx, storage.NewUser{UserID: id}, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.MaxNumericLocalpart(ctx); err != nil || n != 12 {
			t.Fatalf("MaxNumericLocalpart = %d, %v; want 12", n, err)
		}
	})
}

func TestUpgradeGuest(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const guest = "@1:example.org"
		guestToken := []byte("guest-token-hash")
		err := db.CreateUser(ctx, storage.NewUser{UserID: guest, Guest: true},
			&storage.NewDevice{DeviceID: "guest_device", DisplayName: "tab"},
			&storage.NewAccessToken{TokenHash: guestToken, DeviceID: "guest_device"})
		if err != nil {
			t.Fatal(err)
		}
		at := time.UnixMilli(1700000000000)
		newToken := []byte("new-token-hash")
		revoked, err := db.UpgradeGuest(ctx,
			storage.GuestUpgrade{UserID: guest, PasswordHash: "$2b$04$hash", ConsentVersion: "1.0", At: at},
			&storage.NewDevice{UserID: guest, DeviceID: "LAPTOP", DisplayName: "laptop"},
			&storage.NewAccessToken{TokenHash: newToken, UserID: guest, DeviceID: "LAPTOP"})
		if err != nil {
			t.Fatal(err)
		}
		if len(revoked) != 1 || string(revoked[0]) != string(guestToken) {
			t.Fatalf("revoked %q, want the guest's token", revoked)
		}
		u, err := db.GetUser(ctx, guest)
		if err != nil {
			t.Fatal(err)
		}
		if u.Guest || u.PasswordHash != "$2b$04$hash" {
			t.Fatalf("upgraded user %+v", u)
		}
		if v, err := db.ConsentVersion(ctx, guest); err != nil || v != "1.0" {
			t.Fatalf("consent %q, %v", v, err)
		}
		if _, err := db.LookupAccessToken(ctx, guestToken); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("guest token after upgrade: %v", err)
		}
		owner, err := db.LookupAccessToken(ctx, newToken)
		if err != nil || owner.Guest || owner.DeviceID != "LAPTOP" {
			t.Fatalf("new token %+v, %v", owner, err)
		}
		// The guest's device stays, as in Synapse; only its token went.
		if devs, err := db.Devices(ctx, guest); err != nil || len(devs) != 2 {
			t.Fatalf("devices %+v, %v", devs, err)
		}

		// A regular user cannot be "upgraded", nor can the same guest twice.
		if _, err := db.UpgradeGuest(ctx, storage.GuestUpgrade{UserID: guest, PasswordHash: "x", At: at}, nil, nil); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second upgrade: %v", err)
		}
		if _, err := db.UpgradeGuest(ctx, storage.GuestUpgrade{UserID: "@nobody:example.org", At: at}, nil, nil); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

func TestUpgradeGuestOnItsOwnDevice(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const guest = "@2:example.org"
		err := db.CreateUser(ctx, storage.NewUser{UserID: guest, Guest: true},
			&storage.NewDevice{DeviceID: "guest_device", DisplayName: "tab"},
			&storage.NewAccessToken{TokenHash: []byte("old"), DeviceID: "guest_device"})
		if err != nil {
			t.Fatal(err)
		}
		// No consent version: the column stays NULL.
		_, err = db.UpgradeGuest(ctx, storage.GuestUpgrade{UserID: guest, PasswordHash: "h", At: time.Now()},
			&storage.NewDevice{UserID: guest, DeviceID: "guest_device"},
			&storage.NewAccessToken{TokenHash: []byte("new"), UserID: guest, DeviceID: "guest_device"})
		if err != nil {
			t.Fatal(err)
		}
		devs, err := db.Devices(ctx, guest)
		if err != nil || len(devs) != 1 || devs[0].DisplayName != "tab" {
			t.Fatalf("devices %+v, %v: want the guest's device, name kept", devs, err)
		}
		if v, err := db.ConsentVersion(ctx, guest); err != nil || v != "" {
			t.Fatalf("consent %q, %v", v, err)
		}
	})
}

func TestConsentVersion(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@alice:example.org", ConsentVersion: "1.0"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@bob:example.org"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if v, err := db.ConsentVersion(ctx, "@alice:example.org"); err != nil || v != "1.0" {
			t.Fatalf("alice: %q, %v", v, err)
		}
		if v, err := db.ConsentVersion(ctx, "@bob:example.org"); err != nil || v != "" {
			t.Fatalf("bob: %q, %v", v, err)
		}
		if err := db.SetConsentVersion(ctx, "@bob:example.org", "2.0", time.Now()); err != nil {
			t.Fatal(err)
		}
		if v, err := db.ConsentVersion(ctx, "@bob:example.org"); err != nil || v != "2.0" {
			t.Fatalf("bob after agreeing: %q, %v", v, err)
		}
		if _, err := db.ConsentVersion(ctx, "@carol:example.org"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		if err := db.SetConsentVersion(ctx, "@carol:example.org", "1.0", time.Now()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown user agrees: %v", err)
		}
	})
}
