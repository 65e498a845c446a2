package server_test

import (
	"context"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// guestServer allows guests; registration of regular users is open too.
func guestServer(t *testing.T, engine string) *servertest.Server {
	cfg := servertest.Config(t, engine)
	cfg.AllowGuestAccess = true
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.LoginViaExistingSession.Enabled = true // so that /login/get_token exists for guests to be refused
	return servertest.Start(t, cfg)
}

// registerGuest registers a guest with mautrix and returns a client
// logged in as it.
func registerGuest(t *testing.T, url string, req *mautrix.ReqRegister) (*mautrix.Client, *mautrix.RespRegister) {
	t.Helper()
	c := newClient(t, url)
	resp, _, err := c.RegisterGuest(context.Background(), req)
	if err != nil {
		t.Fatalf("register guest: %v", err)
	}
	c.SetCredentials(resp.UserID, resp.AccessToken)
	c.DeviceID = resp.DeviceID
	return c, resp
}

const registerPath = "/_matrix/client/v3/register"

func TestGuestRegistrationDisabledByDefault(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	srv := servertest.Start(t, cfg)
	res := rawJSON(t, "POST", srv.URL+registerPath+"?kind=guest", "", map[string]any{})
	if res.status != http.StatusForbidden || res.errcode() != "M_GUEST_ACCESS_FORBIDDEN" {
		t.Fatalf("guest registration: %d %v", res.status, res.body)
	}
}

func TestGuests(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := guestServer(t, engine)

			// Everything but the device name is ignored, as the spec says.
			guest, resp := registerGuest(t, srv.URL, &mautrix.ReqRegister{
				Username: "mallory", Password: "pw", DeviceID: "CHOSEN", InitialDeviceDisplayName: "Kiosk",
				RefreshToken: true, InhibitLogin: true,
			})
			if resp.UserID != "@1:axon.test" || resp.DeviceID != "guest_device" || resp.AccessToken == "" || resp.RefreshToken != "" || resp.ExpiresInMS != 0 {
				t.Fatalf("guest registration %+v", resp)
			}
			_, second := registerGuest(t, srv.URL, &mautrix.ReqRegister{})
			if second.UserID != "@2:axon.test" {
				t.Fatalf("second guest %s, want @2:axon.test", second.UserID)
			}

			t.Run("whoami says guest", func(t *testing.T) {
				res := whoami(t, srv.URL, resp.AccessToken)
				if res.status != 200 || res.body["is_guest"] != true || str(res, "user_id") != "@1:axon.test" || str(res, "device_id") != "guest_device" {
					t.Fatalf("whoami %d %v", res.status, res.body)
				}
			})

			t.Run("guests use what the guest access module lists", func(t *testing.T) {
				devices, err := guest.GetDevicesInfo(ctx)
				if err != nil || len(devices.Devices) != 1 || devices.Devices[0].DisplayName != "Kiosk" {
					t.Fatalf("devices %+v, %v", devices, err)
				}
				if err := guest.SetDeviceInfo(ctx, "guest_device", &mautrix.ReqDeviceInfo{DisplayName: "Library"}); err != nil {
					t.Fatalf("rename device: %v", err)
				}
				if err := guest.SetDisplayName(ctx, "Visitor"); err != nil {
					t.Fatalf("set displayname: %v", err)
				}
				if name, err := guest.GetDisplayName(ctx, guest.UserID); err != nil || name.DisplayName != "Visitor" {
					t.Fatalf("displayname %+v, %v", name, err)
				}
				if _, err := guest.Capabilities(ctx); err != nil {
					t.Fatalf("capabilities: %v", err)
				}
			})

			t.Run("everything else is closed to guests", func(t *testing.T) {
				forbidden := func(what string, err error) {
					t.Helper()
					if errcode(err) != "M_GUEST_ACCESS_FORBIDDEN" {
						t.Errorf("%s: %v, want M_GUEST_ACCESS_FORBIDDEN", what, err)
					}
				}
				forbidden("avatar_url", guest.SetAvatarURL(ctx, id.ContentURI{Homeserver: "axon.test", FileID: "abc"}))
				forbidden("account data", guest.SetAccountData(ctx, "org.example.x", map[string]any{}))
				_, err := guest.CreateFilter(ctx, &mautrix.Filter{})
				forbidden("filter", err)
				forbidden("delete device", guest.DeleteDevice(ctx, "guest_device", &mautrix.ReqDeleteDevice{}))
				forbidden("delete_devices", guest.DeleteDevices(ctx, &mautrix.ReqDeleteDevices{Devices: []id.DeviceID{"guest_device"}}))
				_, err = guest.LogoutAll(ctx)
				forbidden("logout/all", err)
				for _, path := range []string{"/_matrix/client/v3/account/password", "/_matrix/client/v3/account/deactivate", "/_matrix/client/v1/login/get_token"} {
					res := rawJSON(t, "POST", srv.URL+path, resp.AccessToken, map[string]any{})
					if res.status != http.StatusForbidden || res.errcode() != "M_GUEST_ACCESS_FORBIDDEN" {
						t.Errorf("POST %s: %d %v", path, res.status, res.body)
					}
				}
				res := rawJSON(t, "GET", srv.URL+"/_synapse/admin/v1/registration_tokens", resp.AccessToken, nil)
				if res.status != http.StatusForbidden {
					t.Errorf("admin API: %d %v", res.status, res.body)
				}
			})

			t.Run("a guest logs out", func(t *testing.T) {
				other, _ := registerGuest(t, srv.URL, &mautrix.ReqRegister{})
				if _, err := other.Logout(ctx); err != nil {
					t.Fatalf("logout: %v", err)
				}
				if !loggedOut(other) {
					t.Fatal("token still works after logout")
				}
			})

			t.Run("numeric user IDs are for guests", func(t *testing.T) {
				res := rawJSON(t, "POST", srv.URL+registerPath, "", map[string]any{"username": "42", "password": "pw"})
				if res.status != http.StatusBadRequest || res.errcode() != "M_INVALID_USERNAME" {
					t.Fatalf("register 42: %d %v", res.status, res.body)
				}
			})
		})
	}
}

// upgrade runs the dummy flow of POST /register with body and returns the
// final answer (or the first one, when that is not a challenge).
func upgrade(t *testing.T, url string, body map[string]any) result {
	t.Helper()
	first := rawJSON(t, "POST", url+registerPath, "", body)
	if first.status != http.StatusUnauthorized {
		return first
	}
	return rawJSON(t, "POST", url+registerPath, "", withAuth(body, map[string]any{"type": "m.login.dummy", "session": first.session()}))
}

func TestGuestUpgrade(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := guestServer(t, engine)
			guest, resp := registerGuest(t, srv.URL, &mautrix.ReqRegister{})
			if err := guest.SetDisplayName(ctx, "Visitor"); err != nil {
				t.Fatal(err)
			}
			_, other := registerGuest(t, srv.URL, &mautrix.ReqRegister{})
			regular := register(t, srv.URL, "alice", "correct horse", "")

			refused := []struct {
				name   string
				body   map[string]any
				status int
				code   string
			}{
				{"another guest's name", map[string]any{"username": "2", "password": "pw", "guest_access_token": resp.AccessToken}, 403, "M_FORBIDDEN"},
				{"a regular user's token", map[string]any{"username": "alice", "password": "pw", "guest_access_token": regular.AccessToken}, 403, "M_FORBIDDEN"},
				{"an unknown token", map[string]any{"username": "1", "password": "pw", "guest_access_token": "syt_nonsense"}, 401, "M_UNKNOWN_TOKEN"},
				{"no password", map[string]any{"username": "1", "guest_access_token": resp.AccessToken}, 400, "M_MISSING_PARAM"},
			}
			for _, c := range refused {
				if res := upgrade(t, srv.URL, c.body); res.status != c.status || res.errcode() != c.code {
					t.Errorf("%s: %d %v, want %d %s", c.name, res.status, res.body, c.status, c.code)
				}
			}

			res := upgrade(t, srv.URL, map[string]any{
				"username": "1", "password": "new password", "guest_access_token": resp.AccessToken,
				"device_id": "LAPTOP", "initial_device_display_name": "Laptop",
			})
			if res.status != 200 || str(res, "user_id") != "@1:axon.test" || str(res, "device_id") != "LAPTOP" || str(res, "access_token") == "" {
				t.Fatalf("upgrade: %d %v", res.status, res.body)
			}
			if w := whoami(t, srv.URL, str(res, "access_token")); w.status != 200 || w.body["is_guest"] != false || str(w, "user_id") != "@1:axon.test" {
				t.Fatalf("whoami after upgrade: %d %v", w.status, w.body)
			}
			// The guest's token went with the guest; the profile stayed.
			if !loggedOut(guest) {
				t.Fatal("the guest token still works after the upgrade")
			}
			upgraded := login(t, srv.URL, "1", "new password", "PHONE")
			if name, err := upgraded.GetDisplayName(ctx, upgraded.UserID); err != nil || name.DisplayName != "Visitor" {
				t.Fatalf("displayname after upgrade %+v, %v", name, err)
			}
			// No longer a guest: everything is open.
			if err := upgraded.SetAccountData(ctx, "org.example.x", map[string]any{}); err != nil {
				t.Fatalf("account data after upgrade: %v", err)
			}
			// The other guest is untouched.
			if w := whoami(t, srv.URL, other.AccessToken); w.status != 200 || w.body["is_guest"] != true {
				t.Fatalf("other guest: %d %v", w.status, w.body)
			}
		})
	}
}

func TestGuestRegistrationIsRateLimited(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.Listeners[0].XForwarded = true
	cfg.AllowGuestAccess = true
	// Guests need allow_guest_access only, not enable_registration, as in Synapse.
	cfg.RateLimits = config.RateLimits{Registration: slow(2)}
	srv := servertest.Start(t, cfg)
	for i := range 2 {
		if r := send(t, srv, "192.0.2.1", http.MethodPost, registerPath+"?kind=guest", map[string]any{}); r.status != 200 {
			t.Fatalf("guest %d: %d %v", i, r.status, r.body)
		}
	}
	mustBeLimited(t, send(t, srv, "192.0.2.1", http.MethodPost, registerPath+"?kind=guest", map[string]any{}), "third guest")
	if r := send(t, srv, "192.0.2.2", http.MethodPost, registerPath+"?kind=guest", map[string]any{}); r.status != 200 {
		t.Fatalf("guest from another address: %d %v", r.status, r.body)
	}
	// Regular registration stays closed.
	if r := send(t, srv, "192.0.2.3", http.MethodPost, registerPath, map[string]any{"username": "bob", "password": "pw"}); r.status != http.StatusForbidden {
		t.Fatalf("regular registration: %d %v", r.status, r.body)
	}
}
