package accounts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestRegisterGuestNumbersGuests(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, db := newService(t, opts)
		// Guest tokens never expire, even when other access tokens do.
		svc.SetLifetimes(accounts.Lifetimes{NonrefreshableAccessToken: new(time.Minute)})
		// A numeric user from before (e.g. migrated from Synapse).
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@5:example.org"}, nil, nil); err != nil {
			t.Fatal(err)
		}

		first, err := svc.RegisterGuest(ctx, "Browser tab")
		if err != nil {
			t.Fatal(err)
		}
		if first.UserID != "@6:example.org" || first.DeviceID != accounts.GuestDeviceID || first.Expires || first.RefreshToken != "" {
			t.Fatalf("first guest %+v", first)
		}
		who, err := svc.Authenticate(ctx, first.AccessToken)
		if err != nil || !who.Guest || who.UserID != first.UserID {
			t.Fatalf("guest token: %+v, %v", who, err)
		}
		devs, err := svc.Devices(ctx, first.UserID)
		if err != nil || len(devs) != 1 || devs[0].DisplayName != "Browser tab" {
			t.Fatalf("guest devices %+v, %v", devs, err)
		}

		// Someone takes the next number behind the service's back: the
		// collision makes it look again.
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@7:example.org"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		second, err := svc.RegisterGuest(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if second.UserID != "@8:example.org" {
			t.Fatalf("second guest %s, want @8:example.org", second.UserID)
		}
	})
}

func TestUpgradeGuest(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, db := newService(t, opts)
		guest, err := svc.RegisterGuest(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		// Cached now; the upgrade must drop it from the cache.
		if _, err := svc.Authenticate(ctx, guest.AccessToken); err != nil {
			t.Fatal(err)
		}

		s, err := svc.UpgradeGuest(ctx, accounts.GuestUpgrade{UserID: guest.UserID, Password: "correct horse", DeviceID: "LAPTOP", ConsentVersion: "1.0"})
		if err != nil {
			t.Fatal(err)
		}
		if s.UserID != guest.UserID || s.DeviceID != "LAPTOP" || s.AccessToken == "" {
			t.Fatalf("session %+v", s)
		}
		if _, err := svc.Authenticate(ctx, guest.AccessToken); !errors.Is(err, accounts.ErrUnknownToken) {
			t.Fatalf("guest token after upgrade: %v", err)
		}
		who, err := svc.Authenticate(ctx, s.AccessToken)
		if err != nil || who.Guest || who.UserID != guest.UserID {
			t.Fatalf("new token: %+v, %v", who, err)
		}
		if _, err := svc.Login(ctx, accounts.LoginRequest{User: guest.UserID, Password: "correct horse"}); err != nil {
			t.Fatalf("login with the new password: %v", err)
		}
		if v, err := db.ConsentVersion(ctx, guest.UserID); err != nil || v != "1.0" {
			t.Fatalf("consent %q, %v", v, err)
		}

		if _, err := svc.UpgradeGuest(ctx, accounts.GuestUpgrade{UserID: guest.UserID, Password: "again"}); !errors.Is(err, accounts.ErrNotGuest) {
			t.Fatalf("second upgrade: %v", err)
		}
	})
}

func TestUpgradeGuestWithoutLogin(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, _ := newService(t, opts)
		guest, err := svc.RegisterGuest(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		s, err := svc.UpgradeGuest(ctx, accounts.GuestUpgrade{UserID: guest.UserID, Password: "pw", NoSession: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.AccessToken != "" || s.DeviceID != "" || s.UserID != guest.UserID {
			t.Fatalf("inhibited login returned a session: %+v", s)
		}
		if _, err := svc.Authenticate(ctx, guest.AccessToken); !errors.Is(err, accounts.ErrUnknownToken) {
			t.Fatalf("guest token after upgrade: %v", err)
		}
	})
}
