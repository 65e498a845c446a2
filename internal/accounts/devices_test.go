package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// loggedIn registers alice with password "pw" and logs her in on the given
// devices, warming the token cache; it returns the sessions.
func loggedIn(t *testing.T, svc *accounts.Service, devices ...string) []accounts.Session {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.Register(ctx, accounts.NewAccount{Localpart: "alice", Password: "pw", NoSession: true}); err != nil {
		t.Fatal(err)
	}
	var out []accounts.Session
	for _, d := range devices {
		s, err := svc.Login(ctx, accounts.LoginRequest{User: "alice", Password: "pw", DeviceID: d})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, s.AccessToken); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func works(svc *accounts.Service, s accounts.Session) bool {
	_, err := svc.Authenticate(context.Background(), s.AccessToken)
	return err == nil
}

func TestDeviceManagement(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, _ := newService(t, opts)
		ss := loggedIn(t, svc, "A", "B", "C")

		if err := svc.RenameDevice(ctx, ss[0].UserID, "A", "phone"); err != nil {
			t.Fatal(err)
		}
		if err := svc.RenameDevice(ctx, ss[0].UserID, "Z", "x"); !errors.Is(err, accounts.ErrUnknownDevice) {
			t.Fatalf("rename unknown: %v", err)
		}
		if err := svc.RenameDevice(ctx, ss[0].UserID, "A", strings.Repeat("é", accounts.MaxDeviceDisplayNameLength+1)); !errors.Is(err, accounts.ErrDeviceNameTooLong) {
			t.Fatalf("long name: %v", err)
		}
		if err := svc.RenameDevice(ctx, ss[0].UserID, "A", strings.Repeat("é", accounts.MaxDeviceDisplayNameLength)); err != nil {
			t.Fatalf("name at the limit: %v", err)
		}
		if _, err := svc.Device(ctx, ss[0].UserID, "Z"); !errors.Is(err, accounts.ErrUnknownDevice) {
			t.Fatalf("get unknown: %v", err)
		}

		// Deleting devices revokes their (cached) tokens at once.
		if err := svc.DeleteDevices(ctx, ss[0].UserID, []string{"A", "B", "nope"}); err != nil {
			t.Fatal(err)
		}
		if works(svc, ss[0]) || works(svc, ss[1]) || !works(svc, ss[2]) {
			t.Fatal("wrong sessions revoked")
		}
		ds, err := svc.Devices(ctx, ss[0].UserID)
		if err != nil || len(ds) != 1 || ds[0].DeviceID != "C" {
			t.Fatalf("devices %+v %v", ds, err)
		}
	})
}

func TestLastSeenIsKeptInMemoryAndFlushed(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, db := newService(t, opts)
		ss := loggedIn(t, svc, "A", "B")
		alice := accounts.Requester{UserID: ss[0].UserID, DeviceID: "A"}

		svc.RecordSeen(alice, "192.0.2.1", "first")
		svc.RecordSeen(alice, "192.0.2.7", strings.Repeat("u", 10_000))
		svc.RecordSeen(accounts.Requester{UserID: ss[0].UserID}, "192.0.2.9", "no device") // ignored

		// Served from memory before any write.
		d, err := svc.Device(ctx, alice.UserID, "A")
		if err != nil || d.LastSeen.IsZero() || d.LastSeenIP != "192.0.2.7" || len(d.LastSeenUserAgent) > 512 {
			t.Fatalf("device %+v %v", d, err)
		}
		if stored, _ := db.GetDevice(ctx, alice.UserID, "A"); !stored.LastSeen.IsZero() {
			t.Fatalf("written per request: %+v", stored)
		}
		if ds, _ := svc.Devices(ctx, alice.UserID); ds[0].LastSeenIP != "192.0.2.7" || !ds[1].LastSeen.IsZero() {
			t.Fatalf("devices %+v", ds)
		}

		if err := svc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		stored, _ := db.GetDevice(ctx, alice.UserID, "A")
		if stored.LastSeenIP != "192.0.2.7" || stored.LastSeen.UnixMilli() != d.LastSeen.UnixMilli() {
			t.Fatalf("flushed %+v", stored)
		}

		// Close writes what is pending and stops recording.
		svc.RecordSeen(accounts.Requester{UserID: alice.UserID, DeviceID: "B"}, "198.51.100.1", "b")
		if err := svc.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if stored, _ := db.GetDevice(ctx, alice.UserID, "B"); stored.LastSeenIP != "198.51.100.1" {
			t.Fatalf("not flushed on close: %+v", stored)
		}
		svc.RecordSeen(alice, "203.0.113.1", "after close")
		if d, _ := svc.Device(ctx, alice.UserID, "A"); d.LastSeenIP != "192.0.2.7" {
			t.Fatalf("recorded after close: %+v", d)
		}
	})
}

func TestChangePassword(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, _ := newService(t, opts)
		ss := loggedIn(t, svc, "A", "B", "C")
		userID := ss[0].UserID

		if got, err := svc.CheckPassword(ctx, "ALICE", "pw"); err != nil || got != userID {
			t.Fatalf("check: %q %v", got, err)
		}
		if _, err := svc.CheckPassword(ctx, "alice", "wrong"); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := svc.CheckPassword(ctx, "nobody", "pw"); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("unknown user: %v", err)
		}

		// Keeping the other sessions.
		if err := svc.ChangePassword(ctx, accounts.PasswordChange{UserID: userID, NewPassword: "pw2"}); err != nil {
			t.Fatal(err)
		}
		if !works(svc, ss[1]) {
			t.Fatal("session revoked without logout_devices")
		}
		// Logging them out, from device A.
		err := svc.ChangePassword(ctx, accounts.PasswordChange{UserID: userID, NewPassword: "pw3", LogoutDevices: true,
			DeviceID: "A", AccessToken: ss[0].AccessToken})
		if err != nil {
			t.Fatal(err)
		}
		if !works(svc, ss[0]) || works(svc, ss[1]) || works(svc, ss[2]) {
			t.Fatal("wrong sessions revoked")
		}
		if _, err := svc.CheckPassword(ctx, "alice", "pw2"); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("old password: %v", err)
		}
		if _, err := svc.Login(ctx, accounts.LoginRequest{User: "alice", Password: "pw3"}); err != nil {
			t.Fatalf("login with new password: %v", err)
		}
	})
}

func TestDeactivate(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, db := newService(t, opts)
		ss := loggedIn(t, svc, "A", "B")
		userID := ss[0].UserID
		var hooked []string
		svc.OnDeactivate(func(ctx context.Context, u string, erase bool) error {
			if erase {
				hooked = append(hooked, u)
			}
			return nil
		})
		svc.OnDeactivate(func(ctx context.Context, u string, erase bool) error { return errors.New("profile store down") })
		svc.RecordSeen(accounts.Requester{UserID: userID, DeviceID: "A"}, "192.0.2.1", "x")

		err := svc.Deactivate(ctx, userID, true)
		if !errors.Is(err, accounts.ErrAfterDeactivation) {
			t.Fatalf("hook error not reported: %v", err)
		}
		if len(hooked) != 1 || hooked[0] != userID {
			t.Fatalf("hooks saw %v", hooked)
		}
		if works(svc, ss[0]) || works(svc, ss[1]) {
			t.Fatal("session survived deactivation")
		}
		if erased, _ := db.UserErased(ctx, userID); !erased {
			t.Fatal("erase not recorded")
		}
		if _, err := svc.Login(ctx, accounts.LoginRequest{User: "alice", Password: "pw"}); !errors.Is(err, accounts.ErrUserDeactivated) {
			t.Fatalf("login after deactivation: %v", err)
		}
		if _, err := svc.CheckPassword(ctx, "alice", "pw"); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("re-authentication after deactivation: %v", err)
		}
		if err := svc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
