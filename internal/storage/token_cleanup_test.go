package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestStartSessionReplacesADevicesTokens(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const alice = "@alice:example.org"
		userWithDevices(t, db, alice, "PHONE", "LAPTOP")
		// PHONE also has a refresh token, with an access token of its own.
		if _, err := db.StartSession(ctx, storage.NewDevice{UserID: alice, DeviceID: "PHONE"}, storage.NewAccessToken{
			TokenHash: digest("phone-refreshable"), UserID: alice, DeviceID: "PHONE",
			Refresh: &storage.NewRefreshToken{TokenHash: digest("phone-refresh")},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.LookupAccessToken(ctx, digest(alice+"PHONE-token")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("first token after the second login: %v", err)
		}

		revoked, err := db.StartSession(ctx, storage.NewDevice{UserID: alice, DeviceID: "PHONE", DisplayName: "ignored"},
			storage.NewAccessToken{TokenHash: digest("phone-latest"), UserID: alice, DeviceID: "PHONE"})
		if err != nil || len(revoked) != 1 || string(revoked[0]) != string(digest("phone-refreshable")) {
			t.Fatalf("revoked %d tokens, err %v; want phone-refreshable", len(revoked), err)
		}
		if _, err := db.LookupRefreshToken(ctx, digest("phone-refresh")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("refresh token of the device: %v", err)
		}
		if _, err := db.LookupAccessToken(ctx, digest("phone-latest")); err != nil {
			t.Fatal(err)
		}
		if !tokenValid(t, db, alice, "LAPTOP") {
			t.Fatal("another device's token revoked")
		}
		if d, err := db.GetDevice(ctx, alice, "PHONE"); err != nil || d.DisplayName != "PHONE name" {
			t.Fatalf("device %+v %v; its display name must stay", d, err)
		}

		// A new device is created with the name given, revoking nothing.
		revoked, err = db.StartSession(ctx, storage.NewDevice{UserID: alice, DeviceID: "TABLET", DisplayName: "Tablet"},
			storage.NewAccessToken{TokenHash: digest("tablet"), UserID: alice, DeviceID: "TABLET"})
		if err != nil || len(revoked) != 0 {
			t.Fatalf("new device: %d revoked, %v", len(revoked), err)
		}
		if d, err := db.GetDevice(ctx, alice, "TABLET"); err != nil || d.DisplayName != "Tablet" {
			t.Fatalf("device %+v %v", d, err)
		}
	})
}

func TestDeleteExpiredTokensInBatches(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const alice = "@alice:example.org"
		if err := db.CreateUser(ctx, storage.NewUser{UserID: alice}, nil, nil); err != nil {
			t.Fatal(err)
		}
		t0 := time.UnixMilli(1_700_000_000_000)
		at := func(d time.Duration) *time.Time { return new(t0.Add(d)) }
		session := func(device string, access *time.Time, refresh *storage.NewRefreshToken) {
			t.Helper()
			if _, err := db.StartSession(ctx, storage.NewDevice{UserID: alice, DeviceID: device},
				storage.NewAccessToken{TokenHash: digest(device), UserID: alice, DeviceID: device, ExpiresAt: access, Refresh: refresh}); err != nil {
				t.Fatal(err)
			}
		}
		// Three plain tokens expired at t0, one expiring later, one never.
		session("A", at(0), nil)
		session("B", at(0), nil)
		session("C", at(0), nil)
		session("LATER", at(time.Hour), nil)
		session("NEVER", nil, nil)
		// Refresh tokens: expired, with an expired access token; expired,
		// but its access token lives on; and one that never expires.
		session("R-DEAD", at(0), &storage.NewRefreshToken{TokenHash: digest("r-dead"), ExpiresAt: at(0)})
		session("R-ACCESS", at(time.Hour), &storage.NewRefreshToken{TokenHash: digest("r-access"), ExpiresAt: at(0)})
		session("R-LIVE", at(0), &storage.NewRefreshToken{TokenHash: digest("r-live")})

		cutoff := t0.Add(time.Minute)
		for _, want := range []int{2, 1, 0} {
			hashes, err := db.DeleteExpiredAccessTokens(ctx, cutoff, 2)
			if err != nil || len(hashes) != want {
				t.Fatalf("batch deleted %d, err %v; want %d", len(hashes), err, want)
			}
		}
		for _, d := range []string{"A", "B", "C"} {
			if _, err := db.LookupAccessToken(ctx, digest(d)); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("%s: %v", d, err)
			}
		}
		for _, d := range []string{"LATER", "NEVER", "R-DEAD", "R-LIVE"} {
			if _, err := db.LookupAccessToken(ctx, digest(d)); err != nil {
				t.Fatalf("%s deleted: %v", d, err)
			}
		}

		hashes, n, err := db.DeleteDeadRefreshTokens(ctx, cutoff, 10)
		if err != nil || n != 1 || len(hashes) != 1 || string(hashes[0]) != string(digest("R-DEAD")) {
			t.Fatalf("dead refresh tokens: %d, %d hashes, %v", n, len(hashes), err)
		}
		if _, err := db.LookupAccessToken(ctx, digest("R-DEAD")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("access token of a deleted refresh token: %v", err)
		}
		for _, r := range []string{"r-access", "r-live"} {
			if _, err := db.LookupRefreshToken(ctx, digest(r)); err != nil {
				t.Fatalf("%s deleted: %v", r, err)
			}
		}

		for i, expires := range []time.Duration{0, 0, 0, time.Hour} {
			if err := db.CreateLoginToken(ctx, digest("login"+string(rune('0'+i))), alice, t0, t0.Add(expires)); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []int{2, 1, 0} {
			if n, err := db.DeleteExpiredLoginTokens(ctx, cutoff, 2); err != nil || n != want {
				t.Fatalf("login tokens: deleted %d, err %v; want %d", n, err, want)
			}
		}
		if _, err := db.LoginTokenUser(ctx, digest("login3"), t0); err != nil {
			t.Fatalf("unexpired login token: %v", err)
		}
	})
}
