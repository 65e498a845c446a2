package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// tokenServer starts an open-registration server with these token
// settings.
func tokenServer(t *testing.T, engine string, lifetimes config.TokenLifetimes, lves config.LoginViaExistingSession) *servertest.Server {
	cfg := servertest.Config(t, engine)
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.TokenLifetimes = lifetimes
	cfg.LoginViaExistingSession = lves
	return servertest.Start(t, cfg)
}

func passwordLoginBody(user, pw string, refresh bool) map[string]any {
	return map[string]any{
		"type":          "m.login.password",
		"identifier":    map[string]any{"type": "m.id.user", "user": user},
		"password":      pw,
		"refresh_token": refresh,
	}
}

func str(r result, key string) string { s, _ := r.body[key].(string); return s }

func softLogout(r result) bool { b, _ := r.body["soft_logout"].(bool); return b }

// tokens is one session's access and refresh token.
type tokens struct{ access, refresh string }

func loginWithRefresh(t *testing.T, url, user, pw string) tokens {
	t.Helper()
	res := rawJSON(t, "POST", url+"/_matrix/client/v3/login", "", passwordLoginBody(user, pw, true))
	if res.status != 200 || str(res, "refresh_token") == "" || res.body["expires_in_ms"] == nil {
		t.Fatalf("login with refresh_token: %d %v", res.status, res.body)
	}
	return tokens{str(res, "access_token"), str(res, "refresh_token")}
}

func refresh(t *testing.T, url, refreshToken string) result {
	t.Helper()
	return rawJSON(t, "POST", url+"/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": refreshToken})
}

func mustRefresh(t *testing.T, url, refreshToken string) tokens {
	t.Helper()
	res := refresh(t, url, refreshToken)
	if res.status != 200 || str(res, "access_token") == "" || str(res, "refresh_token") == "" {
		t.Fatalf("refresh: %d %v", res.status, res.body)
	}
	return tokens{str(res, "access_token"), str(res, "refresh_token")}
}

func whoami(t *testing.T, url, token string) result {
	t.Helper()
	return rawJSON(t, "GET", url+"/_matrix/client/v3/account/whoami", token, nil)
}

// mustBeRefused checks a refresh token is refused as unknown.
func mustBeRefused(t *testing.T, url, refreshToken, what string) {
	t.Helper()
	if res := refresh(t, url, refreshToken); res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" {
		t.Fatalf("%s: refresh %d %v, want 401 M_UNKNOWN_TOKEN", what, res.status, res.body)
	}
}

func TestRefreshTokens(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := tokenServer(t, engine, config.TokenLifetimes{RefreshableAccessTokenLifetime: new(time.Hour)}, config.LoginViaExistingSession{})
			url := srv.URL

			t.Run("register and login hand out refresh tokens only to clients asking for them", func(t *testing.T) {
				c := newClient(t, url)
				resp, err := c.RegisterDummy(ctx, &mautrix.ReqRegister{Username: "alice", Password: "correct horse", RefreshToken: true})
				if err != nil {
					t.Fatal(err)
				}
				if resp.RefreshToken == "" || resp.ExpiresInMS != time.Hour.Milliseconds() {
					t.Fatalf("register response %+v", resp)
				}
				res := rawJSON(t, "POST", url+"/_matrix/client/v3/login", "", passwordLoginBody("alice", "correct horse", false))
				if res.status != 200 || res.body["refresh_token"] != nil || res.body["expires_in_ms"] != nil {
					t.Fatalf("login without refresh_token: %d %v", res.status, res.body)
				}
				if n, _ := loginWithRefreshBody(t, url).body["expires_in_ms"].(float64); int64(n) != time.Hour.Milliseconds() {
					t.Fatalf("expires_in_ms %v", n)
				}
			})

			t.Run("refresh rotates; the old refresh token works until the new tokens are used", func(t *testing.T) {
				first := loginWithRefresh(t, url, "alice", "correct horse")
				second := mustRefresh(t, url, first.refresh)
				// The answer was "lost": the old refresh token may be retried.
				third := mustRefresh(t, url, first.refresh)
				if res := whoami(t, url, third.access); res.status != 200 || str(res, "user_id") != "@alice:axon.test" {
					t.Fatalf("whoami with refreshed token: %d %v", res.status, res.body)
				}
				// Using the new access token revoked the old refresh token, the
				// access token issued with it, and the abandoned second pair.
				mustBeRefused(t, url, first.refresh, "old refresh token after the new access token was used")
				mustBeRefused(t, url, second.refresh, "abandoned refresh token")
				for name, tok := range map[string]string{"first": first.access, "second": second.access} {
					if res := whoami(t, url, tok); res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" {
						t.Fatalf("%s access token after rotation: %d %v", name, res.status, res.body)
					}
				}
				// Refreshing with the new refresh token (without using its access
				// token) also revokes the one before.
				fourth := mustRefresh(t, url, third.refresh)
				mustRefresh(t, url, fourth.refresh)
				mustBeRefused(t, url, third.refresh, "refresh token whose successor was refreshed")
			})

			t.Run("unknown and missing refresh tokens", func(t *testing.T) {
				res := refresh(t, url, "syr_bm9ib2R5_nothing_000000")
				if res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" || softLogout(res) {
					t.Fatalf("unknown: %d %v", res.status, res.body)
				}
				if res := rawJSON(t, "POST", url+"/_matrix/client/v3/refresh", "", map[string]any{}); res.status != 400 || res.errcode() != "M_MISSING_PARAM" {
					t.Fatalf("missing: %d %v", res.status, res.body)
				}
			})

			t.Run("logout, device deletion, password change and deactivation remove refresh tokens", func(t *testing.T) {
				register(t, url, "bob", "correct horse", "")
				gone := loginWithRefresh(t, url, "bob", "correct horse")
				if res := rawJSON(t, "POST", url+"/_matrix/client/v3/logout", gone.access, map[string]any{}); res.status != 200 {
					t.Fatalf("logout: %d %v", res.status, res.body)
				}
				mustBeRefused(t, url, gone.refresh, "after logout")

				all := loginWithRefresh(t, url, "bob", "correct horse")
				if res := rawJSON(t, "POST", url+"/_matrix/client/v3/logout/all", all.access, map[string]any{}); res.status != 200 {
					t.Fatalf("logout/all: %d %v", res.status, res.body)
				}
				mustBeRefused(t, url, all.refresh, "after logout/all")

				mine := login(t, url, "bob", "correct horse", "MINE")
				deleted := loginWithRefresh(t, url, "bob", "correct horse")
				who := whoami(t, url, deleted.access)
				res := uiaDance(t, mine, "bob", "correct horse", "DELETE", map[string]any{}, "devices", str(who, "device_id"))
				if res.status != 200 {
					t.Fatalf("delete device: %d %v", res.status, res.body)
				}
				mustBeRefused(t, url, deleted.refresh, "after device deletion")

				kept := loginWithRefresh(t, url, "bob", "correct horse")
				other := loginWithRefresh(t, url, "bob", "correct horse")
				keptClient := newClient(t, url)
				keptClient.SetCredentials("@bob:axon.test", kept.access)
				res = uiaDance(t, keptClient, "bob", "correct horse", "POST", map[string]any{"new_password": "battery staple"}, "account", "password")
				if res.status != 200 {
					t.Fatalf("password change: %d %v", res.status, res.body)
				}
				mustBeRefused(t, url, other.refresh, "other session after password change")
				kept = mustRefresh(t, url, kept.refresh) // the session that changed it lives on

				if !loggedOut(mine) {
					t.Fatal("the other device survived the password change")
				}
				keptClient.SetCredentials("@bob:axon.test", kept.access)
				res = uiaDance(t, keptClient, "bob", "battery staple", "POST", map[string]any{}, "account", "deactivate")
				if res.status != 200 {
					t.Fatalf("deactivate: %d %v", res.status, res.body)
				}
				mustBeRefused(t, url, kept.refresh, "after deactivation")
			})
		})
	}
}

func loginWithRefreshBody(t *testing.T, url string) result {
	t.Helper()
	return rawJSON(t, "POST", url+"/_matrix/client/v3/login", "", passwordLoginBody("alice", "correct horse", true))
}

func TestExpiredAccessTokenIsASoftLogout(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			lifetime := time.Second
			srv := tokenServer(t, engine, config.TokenLifetimes{RefreshableAccessTokenLifetime: &lifetime}, config.LoginViaExistingSession{})
			register(t, srv.URL, "carol", "correct horse", "")
			tok := loginWithRefresh(t, srv.URL, "carol", "correct horse")

			// The token expires a second after it was issued; wait for that,
			// with a generous bound.
			var res result
			for deadline := time.Now().Add(30 * time.Second); ; {
				res = whoami(t, srv.URL, tok.access)
				if res.status != 200 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if res.status != 401 || res.errcode() != "M_UNKNOWN_TOKEN" || !softLogout(res) {
				t.Fatalf("expired token: %d %v, want 401 M_UNKNOWN_TOKEN with soft_logout true", res.status, res.body)
			}
			// The session lives on: its refresh token still works.
			next := refresh(t, srv.URL, tok.refresh)
			if next.status != 200 || str(next, "access_token") == "" {
				t.Fatalf("refresh after expiry: %d %v", next.status, next.body)
			}
			if n, _ := next.body["expires_in_ms"].(float64); int64(n) != lifetime.Milliseconds() {
				t.Fatalf("expires_in_ms %v", next.body["expires_in_ms"])
			}
			// An expired token may still log out, as in Synapse.
			if res := rawJSON(t, "POST", srv.URL+"/_matrix/client/v3/logout", tok.access, map[string]any{}); res.status != 200 {
				t.Fatalf("logout with expired token: %d %v", res.status, res.body)
			}
			mustBeRefused(t, srv.URL, str(next, "refresh_token"), "after logout")
		})
	}
}

func TestNonrefreshableAccessTokenLifetime(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := tokenServer(t, engine, config.TokenLifetimes{NonrefreshableAccessTokenLifetime: new(time.Hour)}, config.LoginViaExistingSession{})
			register(t, srv.URL, "dave", "correct horse", "")
			// Refresh tokens are off (refreshable_access_token_lifetime null):
			// the client's request for one is ignored.
			res := rawJSON(t, "POST", srv.URL+"/_matrix/client/v3/login", "", passwordLoginBody("dave", "correct horse", true))
			if n, _ := res.body["expires_in_ms"].(float64); res.status != 200 || res.body["refresh_token"] != nil || int64(n) != time.Hour.Milliseconds() {
				t.Fatalf("login: %d %v", res.status, res.body)
			}
		})
	}
}

func getLoginToken(t *testing.T, url, access string, auth any) result {
	t.Helper()
	body := map[string]any{}
	if auth != nil {
		body["auth"] = auth
	}
	return rawJSON(t, "POST", url+"/_matrix/client/v1/login/get_token", access, body)
}

func tokenLogin(t *testing.T, url, token string) result {
	t.Helper()
	return rawJSON(t, "POST", url+"/_matrix/client/v3/login", "", map[string]any{"type": "m.login.token", "token": token})
}

func TestLoginTokens(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := tokenServer(t, engine, config.TokenLifetimes{RefreshableAccessTokenLifetime: new(time.Hour)},
				config.LoginViaExistingSession{Enabled: true, RequireUIAuth: true, TokenTimeout: time.Hour})
			url := srv.URL
			alice := register(t, url, "alice", "correct horse", "PHONE")

			t.Run("advertised in GET /login and the capability", func(t *testing.T) {
				flows, err := newClient(t, url).GetLoginFlows(ctx)
				if err != nil || !flows.HasFlow(mautrix.AuthTypeToken) {
					t.Fatalf("flows %+v %v", flows, err)
				}
				res := rawJSON(t, "GET", url+"/_matrix/client/v3/login", "", nil)
				b, _ := json.Marshal(res.body["flows"])
				if string(b) != `[{"type":"m.login.password"},{"get_login_token":true,"type":"m.login.token"}]` {
					t.Fatalf("flows %s", b)
				}
				caps, err := alice.Capabilities(ctx)
				if err != nil || caps.GetLoginToken == nil || !caps.GetLoginToken.Enabled {
					t.Fatalf("capabilities %+v %v", caps, err)
				}
			})

			var token string
			t.Run("get_token needs User-Interactive Authentication every time", func(t *testing.T) {
				ch := getLoginToken(t, url, alice.AccessToken, nil)
				flows, _ := json.Marshal(ch.body["flows"])
				if ch.status != 401 || ch.session() == "" || string(flows) != `[{"stages":["m.login.password"]}]` {
					t.Fatalf("challenge: %d %v", ch.status, ch.body)
				}
				if res := getLoginToken(t, url, alice.AccessToken, passwordAuth("alice", "wrong", ch.session())); res.status != 401 || res.errcode() != "M_FORBIDDEN" {
					t.Fatalf("wrong password: %d %v", res.status, res.body)
				}
				res := getLoginToken(t, url, alice.AccessToken, passwordAuth("alice", "correct horse", ch.session()))
				token = str(res, "login_token")
				if n, _ := res.body["expires_in_ms"].(float64); res.status != 200 || token == "" || int64(n) != time.Hour.Milliseconds() {
					t.Fatalf("get_token: %d %v", res.status, res.body)
				}
				// The completed session is not reusable.
				if res := getLoginToken(t, url, alice.AccessToken, passwordAuth("alice", "correct horse", ch.session())); res.status == 200 {
					t.Fatalf("reused UIA session: %d %v", res.status, res.body)
				}
				if res := getLoginToken(t, url, "", nil); res.status != 401 || res.errcode() != "M_MISSING_TOKEN" {
					t.Fatalf("no access token: %d %v", res.status, res.body)
				}
			})

			t.Run("a login token logs in once", func(t *testing.T) {
				c := newClient(t, url)
				resp, err := c.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypeToken, Token: token, RefreshToken: true, StoreCredentials: true})
				if err != nil {
					t.Fatal(err)
				}
				if resp.UserID != "@alice:axon.test" || resp.DeviceID == "PHONE" || resp.RefreshToken == "" {
					t.Fatalf("login response %+v", resp)
				}
				if who, err := c.Whoami(ctx); err != nil || who.UserID != "@alice:axon.test" {
					t.Fatalf("whoami %+v %v", who, err)
				}
				_, err = newClient(t, url).Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypeToken, Token: token})
				if errcode(err) != "M_FORBIDDEN" {
					t.Fatalf("second use: %v", err)
				}
				if res := tokenLogin(t, url, "syl_bm9ib2R5_nothing_000000"); res.status != 403 || res.errcode() != "M_FORBIDDEN" {
					t.Fatalf("unknown token: %d %v", res.status, res.body)
				}
				if res := tokenLogin(t, url, ""); res.status != 400 || res.errcode() != "M_MISSING_PARAM" {
					t.Fatalf("no token: %d %v", res.status, res.body)
				}
			})
		})
	}
}

func TestLoginTokenExpiryWithoutUIA(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			timeout := 500 * time.Millisecond
			srv := tokenServer(t, engine, config.TokenLifetimes{},
				config.LoginViaExistingSession{Enabled: true, RequireUIAuth: false, TokenTimeout: timeout})
			bob := register(t, srv.URL, "bob", "correct horse", "")
			res := getLoginToken(t, srv.URL, bob.AccessToken, nil)
			token := str(res, "login_token")
			if n, _ := res.body["expires_in_ms"].(float64); res.status != 200 || token == "" || int64(n) != timeout.Milliseconds() {
				t.Fatalf("get_token without UIA: %d %v", res.status, res.body)
			}
			// Synapse's fixed limit: one token a minute per user.
			if res := getLoginToken(t, srv.URL, bob.AccessToken, nil); res.status != http.StatusTooManyRequests || res.errcode() != "M_LIMIT_EXCEEDED" {
				t.Fatalf("second token within a minute: %d %v", res.status, res.body)
			}
			// Once the timeout has surely passed on the server's clock, the
			// token is refused.
			time.Sleep(timeout + 200*time.Millisecond)
			if res := tokenLogin(t, srv.URL, token); res.status != 403 || res.errcode() != "M_FORBIDDEN" {
				t.Fatalf("expired login token: %d %v", res.status, res.body)
			}
		})
	}
}

func TestGetLoginTokenDisabledByDefault(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)
			c := register(t, srv.URL, "erin", "correct horse", "")
			if res := getLoginToken(t, srv.URL, c.AccessToken, nil); res.status != 404 || res.errcode() != "M_UNRECOGNIZED" {
				t.Fatalf("get_token disabled: %d %v", res.status, res.body)
			}
			caps, err := c.Capabilities(ctx)
			if err != nil || caps.GetLoginToken == nil || caps.GetLoginToken.Enabled {
				t.Fatalf("capabilities %+v %v", caps, err)
			}
			res := rawJSON(t, "GET", srv.URL+"/_matrix/client/v3/login", "", nil)
			if b, _ := json.Marshal(res.body["flows"]); string(b) != `[{"type":"m.login.password"}]` {
				t.Fatalf("flows %s", b)
			}
			if res := tokenLogin(t, srv.URL, "syl_bm9ib2R5_nothing_000000"); res.status != 403 || res.errcode() != "M_FORBIDDEN" {
				t.Fatalf("token login: %d %v", res.status, res.body)
			}
		})
	}
}
