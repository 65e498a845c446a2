package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/server"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// result is the outcome of one raw request: its status and JSON body.
type result struct {
	status int
	body   map[string]any
}

func (r result) errcode() string { s, _ := r.body["errcode"].(string); return s }

func (r result) session() string { s, _ := r.body["session"].(string); return s }

// do sends a request with c's credentials and returns what came back,
// success or not (the UIA dance needs the bodies of 401 responses).
func do(t *testing.T, c *mautrix.Client, method string, body any, path ...any) result {
	t.Helper()
	return doURL(t, c, method, body, c.BuildClientURL(append([]any{"v3"}, path...)...))
}

// doURL is do for any client API URL (unstable endpoints).
func doURL(t *testing.T, c *mautrix.Client, method string, body any, url string) result {
	t.Helper()
	contents, err := c.MakeRequest(context.Background(), method, url, body, nil)
	res := result{status: http.StatusOK}
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		res.status = httpErr.Response.StatusCode
	} else if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if len(contents) > 0 {
		if err := json.Unmarshal(contents, &res.body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, url, contents, err)
		}
	}
	return res
}

// passwordAuth is an m.login.password auth dict.
func passwordAuth(user, pw, session string) map[string]any {
	return map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   pw,
		"session":    session,
	}
}

// withAuth returns body (a JSON object as a map) with auth added.
func withAuth(body map[string]any, auth any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	if auth != nil {
		out["auth"] = auth
	}
	return out
}

// uiaDance makes the request without auth, checks the 401 challenge offers
// the password stage, then completes it and returns the final result.
func uiaDance(t *testing.T, c *mautrix.Client, user, pw, method string, body map[string]any, path ...any) result {
	t.Helper()
	ch := do(t, c, method, withAuth(body, nil), path...)
	flows, _ := json.Marshal(ch.body["flows"])
	if ch.status != http.StatusUnauthorized || ch.session() == "" || string(flows) != `[{"stages":["m.login.password"]}]` {
		t.Fatalf("%s %v challenge: %d %v", method, path, ch.status, ch.body)
	}
	return do(t, c, method, withAuth(body, passwordAuth(user, pw, ch.session())), path...)
}

func login(t *testing.T, url, user, pw, deviceID string) *mautrix.Client {
	t.Helper()
	c := newClient(t, url)
	if _, err := c.Login(context.Background(), &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user},
		Password:   pw, DeviceID: id.DeviceID(deviceID), StoreCredentials: true,
	}); err != nil {
		t.Fatalf("login %s on %s: %v", user, deviceID, err)
	}
	return c
}

func loggedOut(c *mautrix.Client) bool {
	_, err := c.Whoami(context.Background())
	return errcode(err) == "M_UNKNOWN_TOKEN"
}

func register(t *testing.T, url, user, pw, deviceID string) *mautrix.Client {
	t.Helper()
	c := newClient(t, url)
	resp, err := c.RegisterDummy(context.Background(), &mautrix.ReqRegister{Username: user, Password: pw, DeviceID: id.DeviceID(deviceID)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetCredentials(resp.UserID, resp.AccessToken)
	c.DeviceID = resp.DeviceID
	return c
}

func deviceServer(t *testing.T, engine string) *servertest.Server {
	cfg := servertest.Config(t, engine)
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.Password.Policy = password.Policy{Enabled: true, MinimumLength: 8}
	return servertest.Start(t, cfg)
}

func TestDevicesWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	const pw = "correct horse"
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := deviceServer(t, engine)
			phone := register(t, srv.URL, "alice", pw, "PHONE")
			laptop := login(t, srv.URL, "alice", pw, "LAPTOP")
			laptop.UserAgent = "axon-test-laptop"
			bob := register(t, srv.URL, "bob", "bob's password", "BOBPHONE")

			t.Run("devices are listed with their last use", func(t *testing.T) {
				before := time.Now().Add(-time.Second).UnixMilli()
				if _, err := laptop.Whoami(ctx); err != nil {
					t.Fatal(err)
				}
				resp, err := phone.GetDevicesInfo(ctx)
				if err != nil || len(resp.Devices) != 2 {
					t.Fatalf("devices %+v %v", resp, err)
				}
				lap := resp.Devices[0]
				if lap.DeviceID != "LAPTOP" || lap.LastSeenIP != "127.0.0.1" || lap.LastSeenTS < before || lap.LastSeenTS > time.Now().UnixMilli() {
					t.Fatalf("laptop %+v", lap)
				}
				// The user agent is for administrators only, as in Synapse.
				if raw := mustJSON(t, do(t, phone, http.MethodGet, nil, "devices").body); strings.Contains(raw, "axon-test-laptop") || strings.Contains(raw, "user_agent") {
					t.Fatalf("user agent exposed: %s", raw)
				}
				if d, err := phone.GetDeviceInfo(ctx, "PHONE"); err != nil || d.LastSeenTS == 0 {
					t.Fatalf("phone %+v %v", d, err)
				}
				// Bob sees only his own.
				if resp, err := bob.GetDevicesInfo(ctx); err != nil || len(resp.Devices) != 1 || resp.Devices[0].DeviceID != "BOBPHONE" {
					t.Fatalf("bob's devices %+v %v", resp, err)
				}
			})

			t.Run("a device is renamed", func(t *testing.T) {
				if err := phone.SetDeviceInfo(ctx, "LAPTOP", &mautrix.ReqDeviceInfo{DisplayName: "Work laptop"}); err != nil {
					t.Fatal(err)
				}
				if d, err := laptop.GetDeviceInfo(ctx, "LAPTOP"); err != nil || d.DisplayName != "Work laptop" {
					t.Fatalf("renamed %+v %v", d, err)
				}
				if err := phone.SetDeviceInfo(ctx, "NOSUCH", &mautrix.ReqDeviceInfo{DisplayName: "x"}); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("rename unknown: %v", err)
				}
				if _, err := phone.GetDeviceInfo(ctx, "NOSUCH"); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("get unknown: %v", err)
				}
				// Another user's device is unknown too.
				if err := bob.SetDeviceInfo(ctx, "LAPTOP", &mautrix.ReqDeviceInfo{DisplayName: "mine"}); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("rename someone else's: %v", err)
				}
				if r := do(t, phone, http.MethodPut, map[string]any{"display_name": strings.Repeat("x", 101)}, "devices", "LAPTOP"); r.status != 400 || r.errcode() != "M_TOO_LARGE" {
					t.Fatalf("long name: %d %v", r.status, r.body)
				}
				if r := do(t, phone, http.MethodPut, map[string]any{"display_name": 7}, "devices", "LAPTOP"); r.status != 400 || r.errcode() != "M_BAD_JSON" {
					t.Fatalf("non-string name: %d %v", r.status, r.body)
				}
				if d, _ := laptop.GetDeviceInfo(ctx, "LAPTOP"); d.DisplayName != "Work laptop" {
					t.Fatalf("name changed by a refused request: %+v", d)
				}
			})

			t.Run("deleting a device needs the password", func(t *testing.T) {
				ch := do(t, phone, http.MethodDelete, map[string]any{}, "devices", "LAPTOP")
				if ch.status != 401 || ch.session() == "" || ch.errcode() != "" {
					t.Fatalf("challenge %d %v", ch.status, ch.body)
				}
				wrong := do(t, phone, http.MethodDelete, withAuth(nil, passwordAuth("alice", "wrong", ch.session())), "devices", "LAPTOP")
				if wrong.status != 401 || wrong.errcode() != "M_FORBIDDEN" || wrong.session() != ch.session() || wrong.body["flows"] == nil {
					t.Fatalf("wrong password: %d %v", wrong.status, wrong.body)
				}
				if loggedOut(laptop) {
					t.Fatal("laptop logged out by a failed attempt")
				}
				ok := do(t, phone, http.MethodDelete, withAuth(nil, passwordAuth("@alice:axon.test", pw, ch.session())), "devices", "LAPTOP")
				if ok.status != 200 {
					t.Fatalf("right password: %d %v", ok.status, ok.body)
				}
				if !loggedOut(laptop) || loggedOut(phone) {
					t.Fatal("wrong device logged out")
				}
				// The completed session cannot be replayed.
				laptop2 := login(t, srv.URL, "alice", pw, "LAPTOP2")
				replay := do(t, phone, http.MethodDelete, withAuth(nil, passwordAuth("alice", pw, ch.session())), "devices", "LAPTOP2")
				if replay.status != 400 || replay.errcode() != "M_UNKNOWN" || loggedOut(laptop2) {
					t.Fatalf("replay: %d %v", replay.status, replay.body)
				}
				// The mautrix helper with auth in one go works too.
				if err := phone.DeleteDevice(ctx, "LAPTOP2", &mautrix.ReqDeleteDevice{Auth: passwordAuth("alice", pw, "")}); err != nil {
					t.Fatal(err)
				}
				if !loggedOut(laptop2) {
					t.Fatal("LAPTOP2 still logged in")
				}
			})

			t.Run("delete_devices deletes several at once", func(t *testing.T) {
				a := login(t, srv.URL, "alice", pw, "TABLET")
				b := login(t, srv.URL, "alice", pw, "TV")
				r := uiaDance(t, phone, "alice", pw, http.MethodPost, map[string]any{"devices": []string{"TABLET", "TV", "NEVER-EXISTED"}}, "delete_devices")
				if r.status != 200 {
					t.Fatalf("%d %v", r.status, r.body)
				}
				if !loggedOut(a) || !loggedOut(b) || loggedOut(phone) {
					t.Fatal("wrong devices logged out")
				}
				resp, _ := phone.GetDevicesInfo(ctx)
				if len(resp.Devices) != 1 || resp.Devices[0].DeviceID != "PHONE" {
					t.Fatalf("devices left %+v", resp.Devices)
				}
			})

			t.Run("a session authorises only the request it began with", func(t *testing.T) {
				victim := login(t, srv.URL, "alice", pw, "VICTIM")
				other := login(t, srv.URL, "alice", pw, "OTHER")
				ch := do(t, phone, http.MethodDelete, nil, "devices", "OTHER")
				// Used for another device.
				r := do(t, phone, http.MethodDelete, withAuth(nil, passwordAuth("alice", pw, ch.session())), "devices", "VICTIM")
				if r.status != 403 || r.errcode() != "M_FORBIDDEN" {
					t.Fatalf("another path: %d %v", r.status, r.body)
				}
				// Used on another endpoint.
				r = do(t, phone, http.MethodPost, withAuth(map[string]any{"devices": []string{"VICTIM"}}, passwordAuth("alice", pw, ch.session())), "delete_devices")
				if r.status != 403 || r.errcode() != "M_FORBIDDEN" {
					t.Fatalf("another endpoint: %d %v", r.status, r.body)
				}
				// Used by another user, with their own password.
				r = do(t, bob, http.MethodDelete, withAuth(nil, passwordAuth("bob", "bob's password", ch.session())), "devices", "OTHER")
				if r.status != 403 || r.errcode() != "M_FORBIDDEN" {
					t.Fatalf("another user: %d %v", r.status, r.body)
				}
				// delete_devices sessions are bound to the list of devices.
				ch2 := do(t, phone, http.MethodPost, map[string]any{"devices": []string{"OTHER"}}, "delete_devices")
				r = do(t, phone, http.MethodPost, withAuth(map[string]any{"devices": []string{"OTHER", "VICTIM"}}, passwordAuth("alice", pw, ch2.session())), "delete_devices")
				if r.status != 403 || r.errcode() != "M_FORBIDDEN" {
					t.Fatalf("another body: %d %v", r.status, r.body)
				}
				// A registration session is no good either.
				_, reg, _ := newClient(t, srv.URL).Register(ctx, &mautrix.ReqRegister{Username: "carol", Password: pw})
				r = do(t, phone, http.MethodDelete, withAuth(nil, passwordAuth("alice", pw, reg.Session)), "devices", "VICTIM")
				if r.status != 403 {
					t.Fatalf("registration session: %d %v", r.status, r.body)
				}
				// Alice proving she is bob does not authorise her request.
				r = do(t, phone, http.MethodDelete, withAuth(nil, passwordAuth("bob", "bob's password", ch.session())), "devices", "OTHER")
				if r.status != 403 || r.errcode() != "M_FORBIDDEN" {
					t.Fatalf("someone else's password: %d %v", r.status, r.body)
				}
				if loggedOut(victim) || loggedOut(other) || loggedOut(bob) {
					t.Fatal("a refused request deleted a device")
				}
				// The original session still does its own job.
				r = do(t, phone, http.MethodDelete, withAuth(nil, passwordAuth("alice", pw, ch.session())), "devices", "OTHER")
				if r.status != 200 || !loggedOut(other) || loggedOut(victim) {
					t.Fatalf("own request: %d %v", r.status, r.body)
				}
			})

			t.Run("bad input is refused and changes nothing", func(t *testing.T) {
				keep := login(t, srv.URL, "alice", pw, "KEEP")
				ch := do(t, phone, http.MethodDelete, nil, "devices", "KEEP")
				auth := func(fields map[string]any) map[string]any {
					a := passwordAuth("alice", pw, ch.session())
					for k, v := range fields {
						if v == nil {
							delete(a, k)
						} else {
							a[k] = v
						}
					}
					return a
				}
				cases := []struct {
					name   string
					body   any
					status int
					code   string
				}{
					{"unknown session", map[string]any{"auth": auth(map[string]any{"session": "made-up"})}, 400, "M_UNKNOWN"},
					{"stage not offered", map[string]any{"auth": map[string]any{"type": "m.login.dummy", "session": ch.session()}}, 400, "M_UNRECOGNIZED"},
					{"unknown stage", map[string]any{"auth": map[string]any{"type": "m.login.magic", "session": ch.session()}}, 400, "M_UNRECOGNIZED"},
					{"non-string password", map[string]any{"auth": auth(map[string]any{"password": 1234})}, 400, "M_INVALID_PARAM"},
					{"missing password", map[string]any{"auth": auth(map[string]any{"password": nil})}, 400, "M_MISSING_PARAM"},
					{"absurd password", map[string]any{"auth": auth(map[string]any{"password": strings.Repeat("p", 100_000)})}, 400, "M_INVALID_PARAM"},
					{"absurd user", map[string]any{"auth": auth(map[string]any{"identifier": map[string]any{"type": "m.id.user", "user": strings.Repeat("a", 100_000)}})}, 400, "M_INVALID_PARAM"},
					{"third-party identifier", map[string]any{"auth": auth(map[string]any{"identifier": map[string]any{"type": "m.id.thirdparty", "medium": "email", "address": "a@b"}})}, 400, "M_UNKNOWN"},
					{"non-string session", map[string]any{"auth": auth(map[string]any{"session": 5})}, 400, "M_BAD_JSON"},
					{"auth not an object", map[string]any{"auth": "password"}, 400, "M_BAD_JSON"},
				}
				for _, c := range cases {
					r := do(t, phone, http.MethodDelete, c.body, "devices", "KEEP")
					if r.status != c.status || r.errcode() != c.code {
						t.Errorf("%s: %d %v, want %d %s", c.name, r.status, r.body, c.status, c.code)
					}
				}
				for _, c := range []struct {
					name string
					body any
				}{
					{"no devices", map[string]any{"auth": auth(nil)}},
					{"devices not a list", map[string]any{"devices": "KEEP", "auth": auth(nil)}},
					{"device IDs not strings", map[string]any{"devices": []any{1, 2}, "auth": auth(nil)}},
				} {
					if r := do(t, phone, http.MethodPost, c.body, "delete_devices"); r.status != 400 || r.errcode() != "M_BAD_JSON" {
						t.Errorf("delete_devices %s: %d %v", c.name, r.status, r.body)
					}
				}
				if loggedOut(keep) {
					t.Fatal("bad input deleted a device")
				}
				// The session survived all of it.
				if r := do(t, phone, http.MethodDelete, map[string]any{"auth": auth(nil)}, "devices", "KEEP"); r.status != 200 || !loggedOut(keep) {
					t.Fatalf("final: %d %v", r.status, r.body)
				}
			})

			t.Run("a password change logs out the other sessions", func(t *testing.T) {
				other1 := login(t, srv.URL, "alice", pw, "OTHER1")
				other2 := login(t, srv.URL, "alice", pw, "OTHER2")
				// Checked before authentication.
				if r := do(t, phone, http.MethodPost, map[string]any{"new_password": "short"}, "account", "password"); r.status != 400 || r.errcode() != "M_PASSWORD_TOO_SHORT" {
					t.Fatalf("weak password: %d %v", r.status, r.body)
				}
				if r := do(t, phone, http.MethodPost, map[string]any{}, "account", "password"); r.status != 400 || r.errcode() != "M_MISSING_PARAM" {
					t.Fatalf("no password: %d %v", r.status, r.body)
				}
				if r := do(t, phone, http.MethodPost, map[string]any{"new_password": strings.Repeat("x", 513)}, "account", "password"); r.status != 400 || r.errcode() != "M_INVALID_PARAM" {
					t.Fatalf("absurd password: %d %v", r.status, r.body)
				}
				if r := do(t, phone, http.MethodPost, map[string]any{"new_password": 12345678}, "account", "password"); r.status != 400 || r.errcode() != "M_BAD_JSON" {
					t.Fatalf("non-string password: %d %v", r.status, r.body)
				}
				if r := do(t, newClient(t, srv.URL), http.MethodPost, map[string]any{"new_password": "a new password"}, "account", "password"); r.status != 401 || r.errcode() != "M_MISSING_TOKEN" {
					t.Fatalf("no access token: %d %v", r.status, r.body)
				}
				// Wrong current password: nothing changes.
				ch := do(t, phone, http.MethodPost, map[string]any{"new_password": "a new password"}, "account", "password")
				r := do(t, phone, http.MethodPost, map[string]any{"new_password": "a new password", "auth": passwordAuth("alice", "nope", ch.session())}, "account", "password")
				if r.status != 401 || r.errcode() != "M_FORBIDDEN" || loggedOut(other1) {
					t.Fatalf("wrong password: %d %v", r.status, r.body)
				}

				r = do(t, phone, http.MethodPost, map[string]any{"new_password": "a new password", "auth": passwordAuth("alice", pw, ch.session())}, "account", "password")
				if r.status != 200 {
					t.Fatalf("change: %d %v", r.status, r.body)
				}
				if loggedOut(phone) || !loggedOut(other1) || !loggedOut(other2) {
					t.Fatal("wrong sessions revoked")
				}
				if resp, _ := phone.GetDevicesInfo(ctx); len(resp.Devices) != 1 || resp.Devices[0].DeviceID != "PHONE" {
					t.Fatalf("devices left %+v", resp.Devices)
				}
				if _, err := newClient(t, srv.URL).Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
					Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"}, Password: pw}); errcode(err) != "M_FORBIDDEN" {
					t.Fatalf("old password still works: %v", err)
				}

				// logout_devices: false keeps them.
				third := login(t, srv.URL, "alice", "a new password", "THIRD")
				r = uiaDance(t, phone, "alice", "a new password", http.MethodPost, map[string]any{"new_password": "another password", "logout_devices": false}, "account", "password")
				if r.status != 200 || loggedOut(third) {
					t.Fatalf("logout_devices false: %d %v", r.status, r.body)
				}
			})

			t.Run("deactivation revokes everything and blocks login", func(t *testing.T) {
				const cur = "another password"
				other := login(t, srv.URL, "alice", cur, "LAST")
				if r := do(t, phone, http.MethodPost, map[string]any{"erase": "yes"}, "account", "deactivate"); r.status != 400 || r.errcode() != "M_BAD_JSON" {
					t.Fatalf("non-bool erase: %d %v", r.status, r.body)
				}
				// A deletion session cannot deactivate.
				ch := do(t, phone, http.MethodDelete, nil, "devices", "LAST")
				if r := do(t, phone, http.MethodPost, map[string]any{"auth": passwordAuth("alice", cur, ch.session())}, "account", "deactivate"); r.status != 403 || loggedOut(phone) {
					t.Fatalf("foreign session: %d %v", r.status, r.body)
				}
				r := uiaDance(t, phone, "alice", cur, http.MethodPost, map[string]any{"erase": true}, "account", "deactivate")
				if r.status != 200 || r.body["id_server_unbind_result"] != "no-support" {
					t.Fatalf("deactivate: %d %v", r.status, r.body)
				}
				if !loggedOut(phone) || !loggedOut(other) {
					t.Fatal("a session survived deactivation")
				}
				_, err := newClient(t, srv.URL).Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
					Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"}, Password: cur})
				var httpErr mautrix.HTTPError
				if errcode(err) != "M_USER_DEACTIVATED" || !errors.As(err, &httpErr) || httpErr.Response.StatusCode != 403 {
					t.Fatalf("login after deactivation: %v", err)
				}
				if loggedOut(bob) {
					t.Fatal("bob logged out")
				}
				// erase: true removes the profile; the account stays reserved.
				if _, err := newClient(t, srv.URL).GetProfile(ctx, "@alice:axon.test"); err != nil {
					t.Fatalf("profile of an erased user: %v", err)
				}
				var fields map[string]any
				if _, err := newClient(t, srv.URL).MakeRequest(ctx, http.MethodGet, newClient(t, srv.URL).BuildClientURL("v3", "profile", "@alice:axon.test"), nil, &fields); err != nil || len(fields) != 0 {
					t.Fatalf("erased profile still has fields: %v %v", fields, err)
				}
			})
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLastSeenSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := servertest.Config(t, engine)
			cfg.EnableRegistration = true
			cfg.EnableRegistrationWithoutVerification = true
			srv := servertest.Start(t, cfg)
			c := register(t, srv.URL, "dora", "dora's password", "DORA")
			if _, err := c.Whoami(ctx); err != nil {
				t.Fatal(err)
			}
			seen, err := c.GetDeviceInfo(ctx, "DORA")
			if err != nil || seen.LastSeenTS == 0 {
				t.Fatalf("before restart %+v %v", seen, err)
			}
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}

			// The server wrote what it kept in memory on its way out.
			db := storagetest.Open(t, server.StorageOptions(cfg.Database))
			d, err := db.GetDevice(ctx, "@dora:axon.test", "DORA")
			if err != nil || d.LastSeen.UnixMilli() != seen.LastSeenTS || d.LastSeenIP != "127.0.0.1" || d.LastSeenUserAgent == "" {
				t.Fatalf("stored %+v %v, served %+v", d, err, seen)
			}
		})
	}
}

func TestPasswordChangeDisabled(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.Password.Enabled = false
	srv := servertest.Start(t, cfg)
	c := register(t, srv.URL, "erin", "erin's password", "ERIN")
	r := do(t, c, http.MethodPost, map[string]any{"new_password": "a new password"}, "account", "password")
	if r.status != 403 || r.errcode() != "M_FORBIDDEN" {
		t.Fatalf("%d %v", r.status, r.body)
	}
	// With passwords disabled no stage can re-authenticate: no flows.
	r = do(t, c, http.MethodDelete, nil, "devices", "ERIN")
	if r.status != 401 || mustJSON(t, r.body["flows"]) != "[]" {
		t.Fatalf("flows %d %v", r.status, r.body)
	}
}
