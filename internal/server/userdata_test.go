package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/storage/storagetest"
)

// registered returns a logged-in client for a new user.
func registered(t *testing.T, url, name string) *mautrix.Client {
	t.Helper()
	c := newClient(t, url)
	resp, err := c.RegisterDummy(context.Background(), &mautrix.ReqRegister{Username: name, Password: "pw"})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	c.SetCredentials(resp.UserID, resp.AccessToken)
	return c
}

func TestProfilesAccountDataFiltersWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)
			alice := registered(t, srv.URL, "alice")
			bob := registered(t, srv.URL, "bob")

			t.Run("a new user's display name is the localpart", func(t *testing.T) {
				p, err := bob.GetProfile(ctx, alice.UserID)
				if err != nil || p.DisplayName != "alice" {
					t.Fatalf("%+v %v", p, err)
				}
			})
			t.Run("alice sets her display name and avatar; bob sees them", func(t *testing.T) {
				if err := alice.SetDisplayName(ctx, "Alice Liddell"); err != nil {
					t.Fatal(err)
				}
				if err := alice.SetAvatarURL(ctx, id.ContentURI{Homeserver: "axon.test", FileID: "abc"}); err != nil {
					t.Fatal(err)
				}
				p, err := bob.GetProfile(ctx, alice.UserID)
				if err != nil || p.DisplayName != "Alice Liddell" || p.AvatarURL.String() != "mxc://axon.test/abc" {
					t.Fatalf("%+v %v", p, err)
				}
			})
			t.Run("bob cannot change alice's profile", func(t *testing.T) {
				_, err := bob.MakeRequest(ctx, http.MethodPut, bob.BuildClientURL("v3", "profile", alice.UserID, "displayname"),
					map[string]string{"displayname": "Mallory"}, nil)
				if errcode(err) != "M_FORBIDDEN" {
					t.Fatalf("%v", err)
				}
			})
			t.Run("bad profile values", func(t *testing.T) {
				_, err := alice.MakeRequest(ctx, http.MethodPut, alice.BuildClientURL("v3", "profile", alice.UserID, "displayname"),
					map[string]string{"displayname": strings.Repeat("x", 257)}, nil)
				if errcode(err) != "M_BAD_JSON" {
					t.Fatalf("long name: %v", err)
				}
				_, err = alice.MakeRequest(ctx, http.MethodPut, alice.BuildClientURL("v3", "profile", alice.UserID, "Not A Key"),
					map[string]string{"Not A Key": "x"}, nil)
				if errcode(err) != "M_INVALID_PARAM" {
					t.Fatalf("bad key: %v", err)
				}
			})
			t.Run("extended profile fields", func(t *testing.T) {
				_, err := alice.MakeRequest(ctx, http.MethodPut, alice.BuildClientURL("v3", "profile", alice.UserID, "m.tz"),
					map[string]string{"m.tz": "Europe/London"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				var got map[string]string
				if _, err := bob.MakeRequest(ctx, http.MethodGet, bob.BuildClientURL("v3", "profile", alice.UserID, "m.tz"), nil, &got); err != nil || got["m.tz"] != "Europe/London" {
					t.Fatalf("%v %v", got, err)
				}
				if _, err := alice.MakeRequest(ctx, http.MethodDelete, alice.BuildClientURL("v3", "profile", alice.UserID, "m.tz"), nil, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := bob.MakeRequest(ctx, http.MethodGet, bob.BuildClientURL("v3", "profile", alice.UserID, "m.tz"), nil, nil); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("deleted field: %v", err)
				}
			})
			t.Run("unknown users have no profile", func(t *testing.T) {
				if _, err := bob.GetProfile(ctx, "@nobody:axon.test"); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("%v", err)
				}
			})

			t.Run("account data round-trips, per user", func(t *testing.T) {
				if err := alice.SetAccountData(ctx, "im.example.settings", map[string]any{"theme": "dark", "scale": 1.5}); err != nil {
					t.Fatal(err)
				}
				var got map[string]any
				if err := alice.GetAccountData(ctx, "im.example.settings", &got); err != nil || got["theme"] != "dark" || got["scale"] != 1.5 {
					t.Fatalf("%v %v", got, err)
				}
				_, err := bob.MakeRequest(ctx, http.MethodGet, bob.BuildClientURL("v3", "user", alice.UserID, "account_data", "im.example.settings"), nil, nil)
				if errcode(err) != "M_FORBIDDEN" {
					t.Fatalf("bob read alice's account data: %v", err)
				}
				if err := bob.GetAccountData(ctx, "im.example.settings", &got); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("bob's own missing data: %v", err)
				}
			})
			t.Run("server-managed types are refused", func(t *testing.T) {
				err := alice.SetAccountData(ctx, "m.push_rules", map[string]any{})
				var httpErr mautrix.HTTPError
				if !errorsAs(err, &httpErr) || httpErr.Response.StatusCode != http.StatusMethodNotAllowed {
					t.Fatalf("%v", err)
				}
			})
			t.Run("room account data and tags", func(t *testing.T) {
				room := id.RoomID("!room:axon.test")
				if err := alice.SetRoomAccountData(ctx, room, "im.example.draft", map[string]string{"text": "hi"}); err != nil {
					t.Fatal(err)
				}
				var draft map[string]string
				if err := alice.GetRoomAccountData(ctx, room, "im.example.draft", &draft); err != nil || draft["text"] != "hi" {
					t.Fatalf("%v %v", draft, err)
				}
				if err := alice.AddTag(ctx, room, "m.favourite", 0.25); err != nil {
					t.Fatal(err)
				}
				tags, err := alice.GetTags(ctx, room)
				if err != nil || tags.Tags["m.favourite"].Order != "0.25" {
					t.Fatalf("%+v %v", tags, err)
				}
				if err := alice.RemoveTag(ctx, room, "m.favourite"); err != nil {
					t.Fatal(err)
				}
				if tags, _ := alice.GetTags(ctx, room); len(tags.Tags) != 0 {
					t.Fatalf("tag not removed: %+v", tags)
				}
			})

			t.Run("filters", func(t *testing.T) {
				limit := 10
				resp, err := alice.CreateFilter(ctx, &mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Limit: limit}}})
				if err != nil || resp.FilterID == "" {
					t.Fatalf("%+v %v", resp, err)
				}
				var got map[string]any
				if _, err := alice.MakeRequest(ctx, http.MethodGet, alice.BuildClientURL("v3", "user", alice.UserID, "filter", resp.FilterID), nil, &got); err != nil || got["room"] == nil {
					t.Fatalf("%v %v", got, err)
				}
				_, err = alice.MakeRequest(ctx, http.MethodPost, alice.BuildClientURL("v3", "user", alice.UserID, "filter"),
					map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": "ten"}}}, nil)
				if errcode(err) != "M_BAD_JSON" {
					t.Fatalf("invalid filter: %v", err)
				}
				if _, err := bob.MakeRequest(ctx, http.MethodGet, bob.BuildClientURL("v3", "user", bob.UserID, "filter", resp.FilterID), nil, nil); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("bob sees alice's filter: %v", err)
				}
			})

			t.Run("capabilities", func(t *testing.T) {
				caps, err := alice.Capabilities(ctx)
				if err != nil || caps.RoomVersions == nil || caps.RoomVersions.Default != "11" || !caps.ChangePassword.Enabled {
					t.Fatalf("%+v %v", caps, err)
				}
			})
		})
	}
}

func errorsAs(err error, target *mautrix.HTTPError) bool { return errors.As(err, target) }
