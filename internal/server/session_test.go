package server_test

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestSessionLifetimeBoundsTokens(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := tokenServer(t, engine, config.TokenLifetimes{
				RefreshableAccessTokenLifetime: new(time.Hour),
				SessionLifetime:                new(2 * time.Hour),
			}, config.LoginViaExistingSession{})
			register(t, srv.URL, "alice", "correct horse", "")

			// Without refresh tokens, the access token lasts the session.
			resp, err := newClient(t, srv.URL).Login(ctx, &mautrix.ReqLogin{
				Type:       mautrix.AuthTypePassword,
				Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"},
				Password:   "correct horse",
			})
			if err != nil || resp.ExpiresInMS != (2*time.Hour).Milliseconds() || resp.RefreshToken != "" {
				t.Fatalf("login without refresh: %+v %v", resp, err)
			}
			// With them, refreshable_access_token_lifetime applies, and a
			// refresh never gives more than what is left of the session.
			tok := loginWithRefresh(t, srv.URL, "alice", "correct horse")
			res := refresh(t, srv.URL, tok.refresh)
			if n, _ := res.body["expires_in_ms"].(float64); res.status != 200 || int64(n) != time.Hour.Milliseconds() {
				t.Fatalf("refresh: %d %v", res.status, res.body)
			}
		})
	}
}

func TestSessionLifetimeEndsTheSession(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			lifetime := time.Second
			srv := tokenServer(t, engine, config.TokenLifetimes{
				RefreshableAccessTokenLifetime: new(time.Hour),
				SessionLifetime:                &lifetime,
			}, config.LoginViaExistingSession{})
			register(t, srv.URL, "bob", "correct horse", "")
			tok := loginWithRefresh(t, srv.URL, "bob", "correct horse")

			// The session ends a second after the login; wait for the
			// server to say so, with a generous bound.
			var res result
			for deadline := time.Now().Add(30 * time.Second); ; {
				res = whoami(t, srv.URL, tok.access)
				if res.status != 200 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			// As in Synapse, a soft logout: the client logs in again on the
			// same device.
			if res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" || !softLogout(res) {
				t.Fatalf("access token after the session: %d %v", res.status, res.body)
			}
			// The admin API recognises an expired token too.
			if res := rawJSON(t, "GET", overrideURL(srv.URL, "@bob:axon.test"), tok.access, nil); res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" || !softLogout(res) {
				t.Fatalf("admin API with the expired token: %d %v", res.status, res.body)
			}
			// Refreshing cannot extend the session.
			if res := refresh(t, srv.URL, tok.refresh); res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" || !softLogout(res) {
				t.Fatalf("refresh after the session: %d %v", res.status, res.body)
			}
			// The expired token may still log out.
			if res := rawJSON(t, "POST", srv.URL+"/_matrix/client/v3/logout", tok.access, map[string]any{}); res.status != 200 {
				t.Fatalf("logout: %d %v", res.status, res.body)
			}
		})
	}
}

func TestLoginOnAKnownDeviceRevokesItsTokens(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := tokenServer(t, engine, config.TokenLifetimes{RefreshableAccessTokenLifetime: new(time.Hour)}, config.LoginViaExistingSession{})
			laptop := register(t, srv.URL, "carol", "correct horse", "LAPTOP")
			first := rawJSON(t, "POST", srv.URL+"/_matrix/client/v3/login", "", withAuth(map[string]any{
				"type":                        "m.login.password",
				"identifier":                  map[string]any{"type": "m.id.user", "user": "carol"},
				"password":                    "correct horse",
				"device_id":                   "PHONE",
				"initial_device_display_name": "Carol's phone",
				"refresh_token":               true,
			}, nil))
			if first.status != 200 {
				t.Fatalf("first login: %d %v", first.status, first.body)
			}
			if res := whoami(t, srv.URL, str(first, "access_token")); res.status != 200 {
				t.Fatalf("whoami: %d %v", res.status, res.body)
			}

			phone := newClient(t, srv.URL)
			resp, err := phone.Login(ctx, &mautrix.ReqLogin{
				Type:                     mautrix.AuthTypePassword,
				Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"},
				Password:                 "correct horse",
				DeviceID:                 "PHONE",
				InitialDeviceDisplayName: "renamed?",
				StoreCredentials:         true,
			})
			if err != nil || resp.DeviceID != "PHONE" {
				t.Fatalf("second login on PHONE: %+v %v", resp, err)
			}
			// The device's earlier tokens are invalid at once: a hard
			// logout of that session, not an expiry.
			if res := whoami(t, srv.URL, str(first, "access_token")); res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" || softLogout(res) {
				t.Fatalf("old access token: %d %v", res.status, res.body)
			}
			mustBeRefused(t, srv.URL, str(first, "refresh_token"), "old refresh token after a new login on its device")
			if _, err := phone.Whoami(ctx); err != nil {
				t.Fatalf("new session: %v", err)
			}
			if _, err := laptop.Whoami(ctx); err != nil {
				t.Fatalf("another device: %v", err)
			}
			// One PHONE device, still with the name it was created with.
			dev, err := phone.GetDeviceInfo(ctx, id.DeviceID("PHONE"))
			if err != nil || dev.DisplayName != "Carol's phone" {
				t.Fatalf("device %+v %v", dev, err)
			}
			devices, err := phone.GetDevicesInfo(ctx)
			if err != nil || len(devices.Devices) != 2 {
				t.Fatalf("devices %+v %v", devices, err)
			}
		})
	}
}
