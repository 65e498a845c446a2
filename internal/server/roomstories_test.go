package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// aliceAndBob starts an open-registration server with two users.
func aliceAndBob(t *testing.T, engine string) (*servertest.Server, *mautrix.Client, *mautrix.Client) {
	t.Helper()
	srv := openRegistration(t, engine)
	return srv, register(t, srv.URL, "alice", "alice password", "A"), register(t, srv.URL, "bob", "bob password", "B")
}

// createRoom creates a room with body as the createRoom request.
func createRoom(t *testing.T, c *mautrix.Client, body map[string]any) id.RoomID {
	t.Helper()
	res := do(t, c, "POST", body, "createRoom")
	if res.status != 200 {
		t.Fatalf("createRoom %v: %d %v", body, res.status, res.body)
	}
	return id.RoomID(res.body["room_id"].(string))
}

func sendText(t *testing.T, c *mautrix.Client, room id.RoomID, body string) id.EventID {
	t.Helper()
	resp, err := c.SendText(context.Background(), room, body)
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return resp.EventID
}

func setHistoryVisibility(t *testing.T, c *mautrix.Client, room id.RoomID, vis string) {
	t.Helper()
	res := do(t, c, "PUT", map[string]any{"history_visibility": vis}, "rooms", room, "state", "m.room.history_visibility", "")
	if res.status != 200 {
		t.Fatalf("set history visibility: %d %v", res.status, res.body)
	}
}

// doQuery is do for a GET with query parameters.
func doQuery(t *testing.T, c *mautrix.Client, query map[string]string, path ...any) result {
	t.Helper()
	url := c.BuildURLWithQuery(append(mautrix.ClientURLPath{"v3"}, path...), query)
	contents, err := c.MakeRequest(context.Background(), "GET", url, nil, nil)
	res := result{status: 200}
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		res.status = httpErr.Response.StatusCode
	} else if err != nil {
		t.Fatalf("GET %v: %v", path, err)
	}
	if len(contents) > 0 && contents[0] == '{' {
		if err := json.Unmarshal(contents, &res.body); err != nil {
			t.Fatalf("GET %v: %v", path, err)
		}
	}
	return res
}

// messageBodies pages backwards through a room and returns the bodies of
// its m.room.message events, oldest first, or the error code.
func messageBodies(t *testing.T, c *mautrix.Client, room id.RoomID) ([]string, string) {
	t.Helper()
	res := doQuery(t, c, map[string]string{"dir": "b", "limit": "100"}, "rooms", room, "messages")
	if res.status != 200 {
		return nil, res.errcode()
	}
	var out []string
	chunk, _ := res.body["chunk"].([]any)
	for i := len(chunk) - 1; i >= 0; i-- {
		ev := chunk[i].(map[string]any)
		if ev["type"] == "m.room.message" {
			body, _ := ev["content"].(map[string]any)["body"].(string) // "" once redacted
			out = append(out, body)
		}
	}
	return out, ""
}

func TestHistoryVisibility(t *testing.T) {
	// For each setting: what a user who joins after the first message sees
	// of it, and what a user who was only invited sees.
	cases := []struct {
		vis                  string
		joinerSeesEarlier    bool
		outsiderCanRead      bool
		inviteeSeesAfterward bool
	}{
		{"world_readable", true, true, true},
		{"shared", true, false, true},
		{"invited", false, false, true},
		{"joined", false, false, false},
	}
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv, alice, bob := aliceAndBob(t, engine)
			carol := register(t, srv.URL, "carol", "carol password", "C")
			for _, tc := range cases {
				t.Run(tc.vis, func(t *testing.T) {
					room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
					setHistoryVisibility(t, alice, room, tc.vis)
					early := sendText(t, alice, room, "before anyone")
					if res := do(t, alice, "POST", map[string]any{"user_id": carol.UserID}, "rooms", room, "invite"); res.status != 200 {
						t.Fatalf("invite: %v", res.body)
					}
					sendText(t, alice, room, "while carol is invited")
					if _, err := bob.JoinRoomByID(context.Background(), room); err != nil {
						t.Fatal(err)
					}
					sendText(t, alice, room, "after bob joined")

					// bob, joined: /event and /messages agree on the earlier message.
					_, err := bob.GetEvent(context.Background(), room, early)
					if (err == nil) != tc.joinerSeesEarlier {
						t.Errorf("bob reading the earlier event: %v", err)
					}
					if res := doQuery(t, bob, nil, "rooms", room, "context", early); (res.status == 200) != tc.joinerSeesEarlier {
						t.Errorf("bob's /context of the earlier event: %d", res.status)
					}
					bodies, _ := messageBodies(t, bob, room)
					if got := len(bodies) == 3; got != tc.joinerSeesEarlier {
						t.Errorf("bob's /messages: %v", bodies)
					}
					// Initial sync: the same rule.
					sync := syncUntil(t, bob, "", func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Join[room]; return ok })
					sawEarly := false
					for _, ev := range sync.Rooms.Join[room].Timeline.Events {
						sawEarly = sawEarly || ev.ID == early
					}
					if sawEarly != tc.joinerSeesEarlier {
						t.Errorf("bob's initial sync shows the earlier event: %v", sawEarly)
					}

					// An outsider: only world_readable rooms can be read.
					outsider := register(t, srv.URL, fmt.Sprintf("dave%s", tc.vis[:3]), "dave password", "D")
					_, code := messageBodies(t, outsider, room)
					if (code == "") != tc.outsiderCanRead {
						t.Errorf("outsider /messages: %q", code)
					}
					if res := doQuery(t, outsider, nil, "rooms", room, "state"); (res.status == 200) != tc.outsiderCanRead {
						t.Errorf("outsider /state: %d", res.status)
					}
					if _, err := outsider.GetEvent(context.Background(), room, early); (err == nil) != tc.outsiderCanRead {
						t.Errorf("outsider /event: %v", err)
					}
					if res := doQuery(t, outsider, nil, "rooms", room, "context", early); (res.status == 200) != tc.outsiderCanRead {
						t.Errorf("outsider /context: %d", res.status)
					}
					if res := doQuery(t, outsider, nil, "rooms", room, "members"); (res.status == 200) != tc.outsiderCanRead {
						t.Errorf("outsider /members: %d", res.status)
					}
					// carol, invited but not joined, peeks at nothing except through
					// her membership: she sees what was sent while she was invited
					// only once she joins.
					if _, err := carol.JoinRoomByID(context.Background(), room); err != nil {
						t.Fatal(err)
					}
					bodies, _ = messageBodies(t, carol, room)
					sawInvited := false
					for _, b := range bodies {
						sawInvited = sawInvited || b == "while carol is invited"
					}
					if sawInvited != tc.inviteeSeesAfterward {
						t.Errorf("carol sees messages from her invite: %v (%v)", sawInvited, bodies)
					}
				})
			}
		})
	}
}

func TestLeftUsersSeeTheRoomAsTheyLeftIt(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			if _, err := bob.JoinRoomByID(context.Background(), room); err != nil {
				t.Fatal(err)
			}
			sendText(t, alice, room, "while bob is here")
			if _, err := bob.LeaveRoom(context.Background(), room); err != nil {
				t.Fatal(err)
			}
			after := sendText(t, alice, room, "after bob left")
			do(t, alice, "PUT", map[string]any{"name": "renamed"}, "rooms", room, "state", "m.room.name", "")

			bodies, code := messageBodies(t, bob, room)
			if code != "" || len(bodies) != 1 || bodies[0] != "while bob is here" {
				t.Errorf("bob's /messages after leaving: %v %q", bodies, code)
			}
			if _, err := bob.GetEvent(context.Background(), room, after); errcode(err) != "M_NOT_FOUND" {
				t.Errorf("bob reading a later event: %v", err)
			}
			if res := do(t, bob, "GET", nil, "rooms", room, "state", "m.room.name", ""); res.status != 404 {
				t.Errorf("bob sees state set after he left: %d %v", res.status, res.body)
			}
			if res := do(t, bob, "GET", nil, "rooms", room, "joined_members"); res.status != 403 {
				t.Errorf("joined_members after leaving: %d", res.status)
			}
			if _, err := bob.SendText(context.Background(), room, "still here?"); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("sending after leaving: %v", err)
			}
		})
	}
}

func TestGappySyncSendsTheStateItMissed(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat", "name": "first name"})
			if _, err := bob.JoinRoomByID(context.Background(), room); err != nil {
				t.Fatal(err)
			}
			first := syncUntil(t, bob, "", func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Join[room]; return ok })

			do(t, alice, "PUT", map[string]any{"name": "second name"}, "rooms", room, "state", "m.room.name", "")
			for i := range 15 {
				sendText(t, alice, room, fmt.Sprintf("filler %d", i))
			}
			// A timeline limit of 5 cannot hold the rename: it must come as state.
			filter := `{"room":{"timeline":{"limit":5}}}`
			resp, err := bob.FullSyncRequest(context.Background(), mautrix.ReqSync{Since: first.NextBatch, FilterID: filter, Timeout: 0})
			if err != nil {
				t.Fatal(err)
			}
			jr, ok := resp.Rooms.Join[room]
			if !ok {
				t.Fatal("room missing from incremental sync")
			}
			if !jr.Timeline.Limited || len(jr.Timeline.Events) != 5 || jr.Timeline.PrevBatch == "" {
				t.Fatalf("timeline: limited=%v events=%d prev_batch=%q", jr.Timeline.Limited, len(jr.Timeline.Events), jr.Timeline.PrevBatch)
			}
			var name string
			for _, ev := range jr.State.Events {
				if ev.Type == event.StateRoomName {
					_ = ev.Content.ParseRaw(ev.Type)
					name = ev.Content.AsRoomName().Name
				}
				if ev.Type == event.StateMember || ev.Type == event.StateCreate {
					t.Errorf("unchanged state %s resent in a gappy sync", ev.Type.Type)
				}
			}
			if name != "second name" {
				t.Errorf("state delta name = %q", name)
			}
			// prev_batch continues backwards exactly where the timeline starts.
			msgs, err := bob.Messages(context.Background(), room, jr.Timeline.PrevBatch, "", mautrix.DirectionBackward, nil, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs.Chunk) == 0 || msgs.Chunk[0].Type != event.EventMessage {
				t.Fatalf("page before the timeline: %+v", msgs.Chunk)
			}
			_ = msgs.Chunk[0].Content.ParseRaw(event.EventMessage)
			if b := msgs.Chunk[0].Content.AsMessage().Body; b != "filler 9" {
				t.Errorf("event before the timeline is %q, want filler 9", b)
			}
		})
	}
}

func TestRedactionIsVisibleEverywhere(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			if _, err := bob.JoinRoomByID(ctx, room); err != nil {
				t.Fatal(err)
			}
			secret := sendText(t, bob, room, "oops, a password")
			mine := sendText(t, alice, room, "alice's words")

			// Bob (power 0) may redact his own event, not alice's.
			if _, err := bob.RedactEvent(ctx, room, mine); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("bob redacting alice's event: %v", err)
			}
			red, err := bob.RedactEvent(ctx, room, secret, mautrix.ReqRedact{Reason: "typo"})
			if err != nil {
				t.Fatal(err)
			}
			for who, c := range map[string]*mautrix.Client{"alice": alice, "bob": bob} {
				ev, err := c.GetEvent(ctx, room, secret)
				if err != nil {
					t.Fatal(err)
				}
				if len(ev.Content.Raw) != 0 || ev.Unsigned.RedactedBecause == nil || ev.Unsigned.RedactedBecause.ID != red.EventID {
					t.Errorf("%s's /event: content %v, redacted_because %v", who, ev.Content.Raw, ev.Unsigned.RedactedBecause)
				}
			}
			sync := syncUntil(t, alice, "", func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Join[room]; return ok })
			for _, ev := range sync.Rooms.Join[room].Timeline.Events {
				if ev.ID == secret && len(ev.Content.Raw) != 0 {
					t.Errorf("sync shows redacted content %v", ev.Content.Raw)
				}
			}
			bodies, _ := messageBodies(t, alice, room)
			for _, b := range bodies {
				if b == "oops, a password" {
					t.Error("/messages shows redacted content")
				}
			}
		})
	}
}

func TestMembershipChanges(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat", "room_alias_name": "town"})

			// Join by alias, with extra content kept in the member event.
			res := do(t, bob, "POST", map[string]any{"foo": "bar"}, "join", "#town:axon.test")
			if res.status != 200 || res.body["room_id"] != string(room) {
				t.Fatalf("join by alias: %d %v", res.status, res.body)
			}
			var member map[string]any
			if err := alice.StateEvent(ctx, room, event.StateMember, bob.UserID.String(), &member); err != nil || member["foo"] != "bar" || member["displayname"] != "bob" {
				t.Errorf("bob's member event: %v %v", member, err)
			}
			before := syncUntil(t, bob, "", func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Join[room]; return ok })

			// Kick: bob's sync moves the room to leave.
			if _, err := alice.KickUser(ctx, room, &mautrix.ReqKickUser{UserID: bob.UserID, Reason: "spam"}); err != nil {
				t.Fatal(err)
			}
			after := syncUntil(t, bob, before.NextBatch, func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Leave[room]; return ok })
			if _, still := after.Rooms.Join[room]; still {
				t.Error("kicked room still in join")
			}
			// Ban, then a join is refused; unban lets bob back in.
			if _, err := alice.BanUser(ctx, room, &mautrix.ReqBanUser{UserID: bob.UserID}); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.JoinRoomByID(ctx, room); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("banned user joined: %v", err)
			}
			if _, err := alice.UnbanUser(ctx, room, &mautrix.ReqUnbanUser{UserID: bob.UserID}); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.JoinRoomByID(ctx, room); err != nil {
				t.Errorf("join after unban: %v", err)
			}
			// Bob (power 0) cannot kick alice.
			if _, err := bob.KickUser(ctx, room, &mautrix.ReqKickUser{UserID: alice.UserID}); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("bob kicking alice: %v", err)
			}
			// Forgetting needs leaving first.
			if res := do(t, bob, "POST", map[string]any{}, "rooms", room, "forget"); res.status != 400 {
				t.Errorf("forget while joined: %d %v", res.status, res.body)
			}
			if _, err := bob.LeaveRoom(ctx, room); err != nil {
				t.Fatal(err)
			}
			if res := do(t, bob, "POST", map[string]any{}, "rooms", room, "forget"); res.status != 200 {
				t.Errorf("forget after leaving: %d %v", res.status, res.body)
			}
			if res := do(t, bob, "POST", map[string]any{"user_id": "not a user"}, "rooms", room, "invite"); res.status != 400 {
				t.Errorf("invite of a malformed user ID: %d", res.status)
			}
			if res := do(t, bob, "POST", map[string]any{}, "rooms", "!unknown:axon.test", "join"); res.status != 404 {
				t.Errorf("join of an unknown room: %d %v", res.status, res.body)
			}
		})
	}
}

func TestDeactivatedUsersLeaveTheirRoomsAndProfilesFollow(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			if _, err := bob.JoinRoomByID(ctx, room); err != nil {
				t.Fatal(err)
			}
			// A new display name reaches the member event.
			if err := bob.SetDisplayName(ctx, "Robert"); err != nil {
				t.Fatal(err)
			}
			var member map[string]any
			if err := alice.StateEvent(ctx, room, event.StateMember, bob.UserID.String(), &member); err != nil || member["displayname"] != "Robert" {
				t.Errorf("member event after rename: %v %v", member, err)
			}
			res := uiaDance(t, bob, "bob", "bob password", "POST", map[string]any{}, "account", "deactivate")
			if res.status != 200 {
				t.Fatalf("deactivate: %d %v", res.status, res.body)
			}
			if err := alice.StateEvent(ctx, room, event.StateMember, bob.UserID.String(), &member); err != nil || member["membership"] != "leave" {
				t.Errorf("deactivated user's membership: %v %v", member, err)
			}
		})
	}
}

func TestAliasesAndDirectory(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"visibility": "public", "name": "Lobby", "topic": "say hi"})
			other := createRoom(t, alice, map[string]any{})

			if res := do(t, alice, "PUT", map[string]any{"room_id": room}, "directory", "room", "#lobby:axon.test"); res.status != 200 {
				t.Fatalf("create alias: %d %v", res.status, res.body)
			}
			if res := do(t, alice, "PUT", map[string]any{"room_id": other}, "directory", "room", "#lobby:axon.test"); res.status != 409 {
				t.Errorf("taken alias: %d %v", res.status, res.body)
			}
			if res := do(t, bob, "PUT", map[string]any{"room_id": room}, "directory", "room", "#bobs:axon.test"); res.status != 403 {
				t.Errorf("alias by a non-member: %d", res.status)
			}
			got, err := bob.ResolveAlias(ctx, "#lobby:axon.test")
			if err != nil || got.RoomID != room {
				t.Errorf("resolve: %v %v", got, err)
			}
			// The canonical alias must point to the room.
			if res := do(t, alice, "PUT", map[string]any{"alias": "#nowhere:axon.test"}, "rooms", room, "state", "m.room.canonical_alias", ""); res.errcode() != "M_BAD_ALIAS" {
				t.Errorf("canonical alias to nowhere: %d %v", res.status, res.body)
			}
			if res := do(t, alice, "PUT", map[string]any{"alias": "#lobby:axon.test"}, "rooms", room, "state", "m.room.canonical_alias", ""); res.status != 200 {
				t.Errorf("canonical alias: %d %v", res.status, res.body)
			}
			// The directory lists the public room with its name and topic.
			res := do(t, bob, "GET", nil, "publicRooms")
			chunk, _ := res.body["chunk"].([]any)
			if len(chunk) != 1 || chunk[0].(map[string]any)["name"] != "Lobby" || chunk[0].(map[string]any)["canonical_alias"] != "#lobby:axon.test" {
				t.Errorf("publicRooms: %v", res.body)
			}
			res = do(t, bob, "POST", map[string]any{"filter": map[string]any{"generic_search_term": "nothing like it"}}, "publicRooms")
			if chunk, _ := res.body["chunk"].([]any); len(chunk) != 0 {
				t.Errorf("search matched: %v", res.body)
			}
			// Deleting the alias also drops it from the canonical alias.
			if res := do(t, alice, "DELETE", nil, "directory", "room", "#lobby:axon.test"); res.status != 200 {
				t.Fatalf("delete alias: %d %v", res.status, res.body)
			}
			var canonical map[string]any
			if err := alice.StateEvent(ctx, room, event.StateCanonicalAlias, "", &canonical); err != nil || canonical["alias"] != nil {
				t.Errorf("canonical alias after delete: %v %v", canonical, err)
			}
			if _, err := bob.ResolveAlias(ctx, "#lobby:axon.test"); errcode(err) != "M_NOT_FOUND" {
				t.Errorf("deleted alias resolves: %v", err)
			}
		})
	}
}

func TestEventContext(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)
			alice := register(t, srv.URL, "alice", "alice password", "A")
			room := createRoom(t, alice, map[string]any{})
			var ids []id.EventID
			for i := range 7 {
				ids = append(ids, sendText(t, alice, room, fmt.Sprintf("m%d", i)))
			}
			res := doQuery(t, alice, map[string]string{"limit": "4"}, "rooms", room, "context", ids[3])
			if res.status != 200 {
				t.Fatalf("context: %d %v", res.status, res.body)
			}
			before, _ := res.body["events_before"].([]any)
			after, _ := res.body["events_after"].([]any)
			ev, _ := res.body["event"].(map[string]any)
			if ev["event_id"] != string(ids[3]) || len(before) != 2 || len(after) != 2 {
				t.Fatalf("context: event %v, %d before, %d after", ev["event_id"], len(before), len(after))
			}
			if before[0].(map[string]any)["event_id"] != string(ids[2]) || after[0].(map[string]any)["event_id"] != string(ids[4]) {
				t.Errorf("neighbours in the wrong order: %v / %v", before, after)
			}
		})
	}
}

func TestAutoJoinRooms(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := servertest.Config(t, engine)
			cfg.EnableRegistration = true
			cfg.EnableRegistrationWithoutVerification = true
			cfg.AutoJoin.Rooms = []string{"#welcome:axon.test"}
			cfg.AutoJoin.Autocreate = true
			cfg.AutoJoin.Preset = "public_chat"
			srv := servertest.Start(t, cfg)

			// The first user creates the room; the second is joined to it.
			first := register(t, srv.URL, "first", "first password", "F")
			second := register(t, srv.URL, "second", "second password", "S")
			room, err := second.ResolveAlias(ctx, "#welcome:axon.test")
			if err != nil {
				t.Fatalf("auto-created alias: %v", err)
			}
			for _, c := range []*mautrix.Client{first, second} {
				joined, err := c.JoinedRooms(ctx)
				if err != nil || len(joined.JoinedRooms) != 1 || joined.JoinedRooms[0] != room.RoomID {
					t.Errorf("%s joined %v, %v", c.UserID, joined, err)
				}
			}
		})
	}
}

func TestIgnoredUsersAreNotPassedOn(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			if err := alice.SetAccountData(ctx, "m.ignored_user_list", map[string]any{"ignored_users": map[string]any{bob.UserID.String(): map[string]any{}}}); err != nil {
				t.Fatal(err)
			}
			// An invite from bob never reaches alice's sync.
			invited := createRoom(t, bob, map[string]any{"invite": []string{alice.UserID.String()}})
			sync := syncUntil(t, alice, "", func(*mautrix.RespSync) bool { return true })
			if _, ok := sync.Rooms.Invite[invited]; ok {
				t.Error("invite from an ignored user in sync")
			}
			// In a shared room, bob's messages are left out of sync and /messages.
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			if _, err := bob.JoinRoomByID(ctx, room); err != nil {
				t.Fatal(err)
			}
			sendText(t, bob, room, "you cannot hear me")
			sendText(t, alice, room, "quiet in here")
			sync = syncUntil(t, alice, "", func(r *mautrix.RespSync) bool { return len(timelineBodies(r, room)) > 0 })
			if bodies := timelineBodies(sync, room); len(bodies) != 1 || bodies[0] != "quiet in here" {
				t.Errorf("alice's timeline: %v", bodies)
			}
			if bodies, _ := messageBodies(t, alice, room); len(bodies) != 1 {
				t.Errorf("alice's /messages: %v", bodies)
			}
			if bodies, _ := messageBodies(t, bob, room); len(bodies) != 2 {
				t.Errorf("bob's /messages: %v", bodies)
			}
		})
	}
}

func TestStateAndMembershipEdgeCases(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)
			alice := register(t, srv.URL, "alice", "alice password", "A")
			carol := register(t, srv.URL, "carol", "carol password", "C")
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})

			// Setting the same state twice gives the same event.
			first := do(t, alice, "PUT", map[string]any{"topic": "same"}, "rooms", room, "state", "m.room.topic", "")
			second := do(t, alice, "PUT", map[string]any{"topic": "same"}, "rooms", room, "state", "m.room.topic", "")
			if first.status != 200 || first.body["event_id"] != second.body["event_id"] {
				t.Errorf("repeated state: %v / %v", first.body, second.body)
			}
			// A second m.room.create is a bad request.
			if res := do(t, alice, "PUT", map[string]any{}, "rooms", room, "state", "m.room.create", ""); res.status != 400 {
				t.Errorf("second create: %d %v", res.status, res.body)
			}
			// Kicking someone who is not in the room is refused.
			if _, err := alice.KickUser(ctx, room, &mautrix.ReqKickUser{UserID: carol.UserID}); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("kick of a non-member: %v", err)
			}
			// Unknown rooms: reads are forbidden (not telling which exist).
			if _, code := messageBodies(t, carol, "!nowhere:axon.test"); code != "M_FORBIDDEN" {
				t.Errorf("messages of an unknown room: %q", code)
			}
			// Oversized events are refused with M_TOO_LARGE.
			big := make([]byte, 70000)
			for i := range big {
				big[i] = 'a'
			}
			if _, err := alice.SendText(ctx, room, string(big)); errcode(err) != "M_TOO_LARGE" {
				t.Errorf("oversized event: %v", err)
			}
			// Bad content is refused, and the room still works.
			if res := do(t, alice, "PUT", []int{1}, "rooms", room, "send", "m.room.message", "t1"); res.status != 400 {
				t.Errorf("array content: %d", res.status)
			}
			sendText(t, alice, room, "still fine")
		})
	}
}

func TestUnreadCountsInSync(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			if _, err := bob.JoinRoomByID(ctx, room); err != nil {
				t.Fatal(err)
			}
			sendText(t, alice, room, "just chatting")
			mention, err := alice.SendMessageEvent(ctx, room, event.EventMessage, map[string]any{
				"msgtype": "m.text", "body": "bob, look", "m.mentions": map[string]any{"user_ids": []string{bob.UserID.String()}},
			})
			if err != nil {
				t.Fatal(err)
			}
			counted := func(r *mautrix.RespSync) bool {
				jr, ok := r.Rooms.Join[room]
				return ok && jr.UnreadNotifications != nil && jr.UnreadNotifications.NotificationCount == 2
			}
			sync := syncUntil(t, bob, "", counted)
			if hl := sync.Rooms.Join[room].UnreadNotifications.HighlightCount; hl != 1 {
				t.Errorf("highlight_count = %d, want 1", hl)
			}
			// Initial sync carries the push rules even though bob changed none.
			var sawRules bool
			for _, ev := range sync.AccountData.Events {
				sawRules = sawRules || ev.Type.Type == "m.push_rules"
			}
			if !sawRules {
				t.Error("initial sync lacks m.push_rules")
			}
			// A read receipt at the mention clears both counts.
			if err := bob.SendReceipt(ctx, room, mention.EventID, event.ReceiptTypeRead, nil); err != nil {
				t.Fatal(err)
			}
			cleared := syncUntil(t, bob, sync.NextBatch, func(r *mautrix.RespSync) bool {
				jr, ok := r.Rooms.Join[room]
				return ok && jr.UnreadNotifications != nil && jr.UnreadNotifications.NotificationCount == 0
			})
			if hl := cleared.Rooms.Join[room].UnreadNotifications.HighlightCount; hl != 0 {
				t.Errorf("highlight_count after the receipt = %d", hl)
			}
		})
	}
}

func TestGuestsJoinOnlyWhereGuestAccessAllows(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := guestServer(t, engine)
			alice := register(t, srv.URL, "alice", "alice password", "A")
			guest, _ := registerGuest(t, srv.URL, &mautrix.ReqRegister{})
			closed := createRoom(t, alice, map[string]any{"preset": "public_chat"}) // guest_access forbidden
			if _, err := guest.JoinRoomByID(ctx, closed); errcode(err) != "M_GUEST_ACCESS_FORBIDDEN" {
				t.Errorf("guest joining a room without guest access: %v", err)
			}
			open := createRoom(t, alice, map[string]any{"preset": "public_chat", "initial_state": []map[string]any{
				{"type": "m.room.guest_access", "state_key": "", "content": map[string]any{"guest_access": "can_join"}},
			}})
			if _, err := guest.JoinRoomByID(ctx, open); err != nil {
				t.Fatalf("guest joining a can_join room: %v", err)
			}
			if _, err := guest.SendText(ctx, open, "hello from a guest"); err != nil {
				t.Errorf("guest sending: %v", err)
			}
			syncUntil(t, guest, "", func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Join[open]; return ok })
			// Guests cannot create rooms.
			if res := do(t, guest, "POST", map[string]any{}, "createRoom"); res.errcode() != "M_GUEST_ACCESS_FORBIDDEN" {
				t.Errorf("guest createRoom: %v", res.body)
			}
			// Closing guest access makes the guest leave.
			do(t, alice, "PUT", map[string]any{"guest_access": "forbidden"}, "rooms", open, "state", "m.room.guest_access", "")
			var member map[string]any
			if err := alice.StateEvent(ctx, open, event.StateMember, guest.UserID.String(), &member); err != nil || member["membership"] != "leave" {
				t.Errorf("guest membership after guest access closed: %v %v", member, err)
			}
		})
	}
}

func TestRestrictedRoomJoins(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			space := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			room := createRoom(t, alice, map[string]any{"preset": "private_chat", "room_version": "10", "initial_state": []map[string]any{{
				"type": "m.room.join_rules", "state_key": "",
				"content": map[string]any{"join_rule": "restricted", "allow": []map[string]any{{"type": "m.room_membership", "room_id": space}}},
			}}})
			// Not in the space: refused.
			if _, err := bob.JoinRoomByID(ctx, room); errcode(err) != "M_FORBIDDEN" {
				t.Fatalf("join without space membership: %v", err)
			}
			// In the space: allowed, authorised by alice (through the state endpoint too).
			if _, err := bob.JoinRoomByID(ctx, space); err != nil {
				t.Fatal(err)
			}
			if res := do(t, bob, "PUT", map[string]any{"membership": "join"}, "rooms", room, "state", "m.room.member", bob.UserID); res.status != 200 {
				t.Fatalf("restricted join: %d %v", res.status, res.body)
			}
			var member map[string]any
			if err := alice.StateEvent(ctx, room, event.StateMember, bob.UserID.String(), &member); err != nil ||
				member["membership"] != "join" || member["join_authorised_via_users_server"] != alice.UserID.String() {
				t.Errorf("bob's member event: %v %v", member, err)
			}
		})
	}
}

func TestUserDirectorySearch(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv, alice, bob := aliceAndBob(t, engine)
			carol := register(t, srv.URL, "carol", "carol password", "C")
			register(t, srv.URL, "dave", "dave password", "D")
			if err := bob.SetDisplayName(ctx, "Bobby Tables"); err != nil {
				t.Fatal(err)
			}
			// alice shares a private room with bob; carol is in a public room;
			// dave is in nothing.
			private := createRoom(t, alice, map[string]any{"invite": []string{bob.UserID.String()}})
			if _, err := bob.JoinRoomByID(ctx, private); err != nil {
				t.Fatal(err)
			}
			createRoom(t, carol, map[string]any{"preset": "public_chat"})
			search := func(term string) []string {
				resp, err := alice.SearchUserDirectory(ctx, term, 10)
				if err != nil {
					t.Fatalf("search %q: %v", term, err)
				}
				var ids []string
				for _, u := range resp.Results {
					ids = append(ids, u.UserID.String())
				}
				return ids
			}
			if got := search("tables"); len(got) != 1 || got[0] != bob.UserID.String() {
				t.Errorf("search by display name: %v", got)
			}
			if got := search("carol"); len(got) != 1 {
				t.Errorf("user in a public room not found: %v", got)
			}
			if got := search("dave"); len(got) != 0 {
				t.Errorf("user sharing nothing found: %v", got)
			}
		})
	}
}

func TestAbsurdLimitsAreClamped(t *testing.T) {
	_, alice, _ := aliceAndBob(t, "sqlite3")
	room := createRoom(t, alice, map[string]any{})
	sendText(t, alice, room, "one")
	for _, limit := range []string{"-5", "0", "99999999999"} {
		res := doQuery(t, alice, map[string]string{"dir": "b", "limit": limit}, "rooms", room, "messages")
		if res.status != 200 {
			t.Errorf("limit %s: %d %v", limit, res.status, res.body)
		}
	}
	if res := doQuery(t, alice, map[string]string{"dir": "b", "limit": "ten"}, "rooms", room, "messages"); res.errcode() != "M_INVALID_PARAM" {
		t.Errorf("non-integer limit: %v", res.body)
	}
	if res := doQuery(t, alice, map[string]string{"since": "not-a-token"}, "sync"); res.errcode() != "M_INVALID_PARAM" {
		t.Errorf("bad since token: %v", res.body)
	}
}
