package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func openRegistration(t *testing.T, engine string) *servertest.Server {
	cfg := servertest.Config(t, engine)
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	return servertest.Start(t, cfg)
}

func newClient(t *testing.T, url string) *mautrix.Client {
	t.Helper()
	c, err := mautrix.NewClient(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func errcode(err error) string {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.RespError != nil {
		return httpErr.RespError.ErrCode
	}
	return ""
}

func TestRegisterAndLoginWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)

			t.Run("alice registers with the dummy stage and is logged in", func(t *testing.T) {
				alice := newClient(t, srv.URL)
				resp, err := alice.RegisterDummy(ctx, &mautrix.ReqRegister{Username: "Alice", Password: "correct horse", DeviceID: "ALICEPHONE"})
				if err != nil {
					t.Fatal(err)
				}
				if resp.UserID != "@alice:axon.test" || resp.DeviceID != "ALICEPHONE" || resp.AccessToken == "" {
					t.Fatalf("register response %+v", resp)
				}
				alice.SetCredentials(resp.UserID, resp.AccessToken)
				who, err := alice.Whoami(ctx)
				if err != nil || who.UserID != "@alice:axon.test" || who.DeviceID != "ALICEPHONE" {
					t.Fatalf("whoami %+v %v", who, err)
				}
			})

			t.Run("the name is then taken", func(t *testing.T) {
				_, err := newClient(t, srv.URL).RegisterDummy(ctx, &mautrix.ReqRegister{Username: "alice", Password: "x"})
				if errcode(err) != "M_USER_IN_USE" {
					t.Fatalf("err %v", err)
				}
				if _, err := newClient(t, srv.URL).RegisterAvailable(ctx, "alice"); errcode(err) != "M_USER_IN_USE" {
					t.Fatalf("available: %v", err)
				}
				if avail, err := newClient(t, srv.URL).RegisterAvailable(ctx, "zoe"); err != nil || !avail.Available {
					t.Fatalf("zoe available: %+v %v", avail, err)
				}
			})

			t.Run("alice logs in on a second device, by localpart in any case", func(t *testing.T) {
				for _, user := range []string{"alice", "ALICE", "@alice:axon.test"} {
					c := newClient(t, srv.URL)
					resp, err := c.Login(ctx, &mautrix.ReqLogin{
						Type:       mautrix.AuthTypePassword,
						Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user},
						Password:   "correct horse",
					})
					if err != nil || resp.UserID != "@alice:axon.test" || resp.DeviceID == "" {
						t.Fatalf("login as %q: %+v %v", user, resp, err)
					}
				}
			})

			t.Run("a wrong password is refused", func(t *testing.T) {
				_, err := newClient(t, srv.URL).Login(ctx, &mautrix.ReqLogin{
					Type:       mautrix.AuthTypePassword,
					Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"},
					Password:   "wrong",
				})
				if errcode(err) != "M_FORBIDDEN" {
					t.Fatalf("err %v", err)
				}
			})

			t.Run("logout revokes the token at once", func(t *testing.T) {
				c := newClient(t, srv.URL)
				if _, err := c.Login(ctx, &mautrix.ReqLogin{
					Type: mautrix.AuthTypePassword, Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"},
					Password: "correct horse", StoreCredentials: true,
				}); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Whoami(ctx); err != nil { // warms the token cache
					t.Fatal(err)
				}
				if _, err := c.Logout(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Whoami(ctx); errcode(err) != "M_UNKNOWN_TOKEN" {
					t.Fatalf("token still works after logout: %v", err)
				}
			})

			t.Run("logout/all revokes every device", func(t *testing.T) {
				var clients []*mautrix.Client
				for range 2 {
					c := newClient(t, srv.URL)
					if _, err := c.Login(ctx, &mautrix.ReqLogin{
						Type: mautrix.AuthTypePassword, Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"},
						Password: "correct horse", StoreCredentials: true,
					}); err != nil {
						t.Fatal(err)
					}
					clients = append(clients, c)
				}
				if _, err := clients[0].LogoutAll(ctx); err != nil {
					t.Fatal(err)
				}
				for i, c := range clients {
					if _, err := c.Whoami(ctx); errcode(err) != "M_UNKNOWN_TOKEN" {
						t.Fatalf("device %d still logged in: %v", i, err)
					}
				}
			})
		})
	}
}

func TestRegistrationRules(t *testing.T) {
	ctx := context.Background()
	srv := openRegistration(t, "sqlite3")

	t.Run("first request gets the flows", func(t *testing.T) {
		_, uiaResp, err := newClient(t, srv.URL).Register(ctx, &mautrix.ReqRegister{Username: "bob", Password: "pw"})
		if err != nil || uiaResp == nil || uiaResp.Session == "" || len(uiaResp.Flows) == 0 || uiaResp.Flows[0].Stages[0] != mautrix.AuthTypeDummy {
			t.Fatalf("uia %+v err %v", uiaResp, err)
		}
	})
	t.Run("invalid names", func(t *testing.T) {
		for _, name := range []string{"bad name", "_reserved", "12345", "ümlaut"} {
			_, err := newClient(t, srv.URL).RegisterDummy(ctx, &mautrix.ReqRegister{Username: name, Password: "pw"})
			if errcode(err) != "M_INVALID_USERNAME" {
				t.Errorf("%q: %v", name, err)
			}
		}
	})
	t.Run("inhibit_login", func(t *testing.T) {
		resp, err := newClient(t, srv.URL).RegisterDummy(ctx, &mautrix.ReqRegister{Username: "carol", Password: "pw", InhibitLogin: true})
		if err != nil || resp.UserID != "@carol:axon.test" || resp.AccessToken != "" {
			t.Fatalf("%+v %v", resp, err)
		}
	})
	t.Run("guests are refused", func(t *testing.T) {
		_, _, err := newClient(t, srv.URL).RegisterGuest(ctx, &mautrix.ReqRegister{})
		if errcode(err) != "M_GUEST_ACCESS_FORBIDDEN" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("no token", func(t *testing.T) {
		if _, err := newClient(t, srv.URL).Whoami(ctx); errcode(err) != "M_MISSING_TOKEN" {
			t.Fatalf("%v", err)
		}
	})
}

func TestRegistrationClosedByDefault(t *testing.T) {
	srv := servertest.Start(t, servertest.Config(t, "sqlite3"))
	_, err := newClient(t, srv.URL).RegisterDummy(context.Background(), &mautrix.ReqRegister{Username: "eve", Password: "pw"})
	if errcode(err) != "M_FORBIDDEN" {
		t.Fatalf("registration not closed: %v", err)
	}
}

func TestPasswordPolicyOnRegistration(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.Password.Policy.Enabled = true
	cfg.Password.Policy.MinimumLength = 10
	srv := servertest.Start(t, cfg)
	_, err := newClient(t, srv.URL).RegisterDummy(context.Background(), &mautrix.ReqRegister{Username: "frank", Password: "short"})
	if errcode(err) != "M_PASSWORD_TOO_SHORT" {
		t.Fatalf("%v", err)
	}
}

func TestRegistrationNeedingUnsupportedVerificationRefusesToStart(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.EnableRegistration = true
	cfg.RegistrationVerifiers = []string{"enable_registration_captcha"}
	err := servertest.StartErr(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "enable_registration_captcha") {
		t.Fatalf("err %v", err)
	}
}
