package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// syncOnce is one sync that returns at once and leaves presence alone.
func syncOnce(t *testing.T, c *mautrix.Client, req mautrix.ReqSync) *mautrix.RespSync {
	t.Helper()
	req.SetPresence = event.PresenceOffline
	resp, err := c.FullSyncRequest(context.Background(), req)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return resp
}

// syncUntilWith is syncUntil with the options of req (filter,
// use_state_after); presence is left alone.
func syncUntilWith(t *testing.T, c *mautrix.Client, req mautrix.ReqSync, ok func(*mautrix.RespSync) bool) *mautrix.RespSync {
	t.Helper()
	req.Timeout = 10000
	for range 20 {
		resp := syncOnce(t, c, req)
		if ok(resp) {
			return resp
		}
		req.Since = resp.NextBatch
	}
	t.Fatal("sync never showed what the test waited for")
	return nil
}

// lazyFilter uploads a filter lazy-loading members, with or without the
// redundant ones.
func lazyFilter(t *testing.T, c *mautrix.Client, redundant bool) string {
	t.Helper()
	resp, err := c.CreateFilter(context.Background(), &mautrix.Filter{Room: &mautrix.RoomFilter{
		State: &mautrix.FilterPart{LazyLoadMembers: true, IncludeRedundantMembers: redundant},
	}})
	if err != nil {
		t.Fatalf("create filter: %v", err)
	}
	return resp.FilterID
}

// stateMembers lists the users whose member events a room's state
// section carries.
func stateMembers(resp *mautrix.RespSync, room id.RoomID) []string {
	var out []string
	for _, ev := range resp.Rooms.Join[room].State.Events {
		if ev.Type == event.StateMember {
			out = append(out, *ev.StateKey)
		}
	}
	slices.Sort(out)
	return out
}

func hasBody(resp *mautrix.RespSync, room id.RoomID, body string) bool {
	return slices.Contains(timelineBodies(resp, room), body)
}

func sendTexts(t *testing.T, c *mautrix.Client, room id.RoomID, prefix string, n int) {
	t.Helper()
	for i := range n {
		sendText(t, c, room, fmt.Sprintf("%s %d", prefix, i))
	}
}

func joinRoom(t *testing.T, c *mautrix.Client, room id.RoomID) {
	t.Helper()
	if _, err := c.JoinRoomByID(context.Background(), room); err != nil {
		t.Fatalf("join: %v", err)
	}
}

func TestLazyLoadedMembersAcrossSyncs(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, ephemeralConfig(t, engine))
			alice := register(t, srv.URL, "alice", "alice password", "PHONE")
			bob := register(t, srv.URL, "bob", "bob password", "BOB")
			carol := register(t, srv.URL, "carol", "carol password", "CAROL")
			// A named room: no heroes, whose member events would come along.
			room := createRoom(t, alice, map[string]any{"preset": "public_chat", "name": "Lazy"})
			joinRoom(t, bob, room)
			joinRoom(t, carol, room)
			sendTexts(t, alice, room, "alice", 12)
			// An unnamed room: its summary names bob as a hero, so his
			// member event comes along though he never spoke.
			unnamed := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			joinRoom(t, bob, unnamed)
			sendTexts(t, alice, unnamed, "alone", 12)
			lazy, redundant := lazyFilter(t, alice, false), lazyFilter(t, alice, true)

			// Initial sync: only the members of the timeline's senders
			// (alice alone) and one's own.
			first := syncOnce(t, alice, mautrix.ReqSync{FilterID: lazy})
			if members := stateMembers(first, room); !slices.Equal(members, []string{alice.UserID.String()}) {
				t.Errorf("initial sync's members: %v", members)
			}
			if members := stateMembers(first, unnamed); !slices.Equal(members, []string{alice.UserID.String(), bob.UserID.String()}) {
				t.Errorf("members in the unnamed room: %v", members)
			}
			if heroes := first.Rooms.Join[unnamed].Summary.Heroes; !slices.Equal(heroes, []id.UserID{bob.UserID}) {
				t.Errorf("heroes %v", heroes)
			}
			laptop := login(t, srv.URL, "alice", "alice password", "LAPTOP")
			laptopStart := syncOnce(t, laptop, mautrix.ReqSync{FilterID: lazy}).NextBatch

			// Bob speaks: his member event comes along, once per device.
			sendText(t, bob, room, "hi")
			got := syncUntilWith(t, alice, mautrix.ReqSync{Since: first.NextBatch, FilterID: lazy}, func(r *mautrix.RespSync) bool { return hasBody(r, room, "hi") })
			if members := stateMembers(got, room); !slices.Equal(members, []string{bob.UserID.String()}) {
				t.Errorf("bob's first message came with members %v", members)
			}
			sendText(t, bob, room, "again")
			got = syncUntilWith(t, alice, mautrix.ReqSync{Since: got.NextBatch, FilterID: lazy}, func(r *mautrix.RespSync) bool { return hasBody(r, room, "again") })
			if members := stateMembers(got, room); len(members) != 0 {
				t.Errorf("bob's member event sent again to the same device: %v", members)
			}
			onLaptop := syncUntilWith(t, laptop, mautrix.ReqSync{Since: laptopStart, FilterID: lazy}, func(r *mautrix.RespSync) bool { return hasBody(r, room, "again") })
			if members := stateMembers(onLaptop, room); !slices.Equal(members, []string{bob.UserID.String()}) {
				t.Errorf("the laptop never got bob's member event: %v", members)
			}

			// include_redundant_members: every time.
			sendText(t, bob, room, "third")
			got = syncUntilWith(t, alice, mautrix.ReqSync{Since: got.NextBatch, FilterID: redundant}, func(r *mautrix.RespSync) bool { return hasBody(r, room, "third") })
			if members := stateMembers(got, room); !slices.Equal(members, []string{bob.UserID.String()}) {
				t.Errorf("with redundant members: %v", members)
			}

			// A gappy sync: carol's member event comes along though it did
			// not change in the gap, because this device never got it.
			sendTexts(t, carol, room, "carol", 12)
			gappy := syncOnce(t, alice, mautrix.ReqSync{Since: got.NextBatch, FilterID: lazy})
			if jr := gappy.Rooms.Join[room]; !jr.Timeline.Limited {
				t.Fatal("the sync after twelve messages is not limited")
			}
			if members := stateMembers(gappy, room); !slices.Equal(members, []string{carol.UserID.String()}) {
				t.Errorf("gappy sync's members: %v", members)
			}
			sendTexts(t, carol, room, "more", 12)
			gappy = syncOnce(t, alice, mautrix.ReqSync{Since: gappy.NextBatch, FilterID: lazy})
			if members := stateMembers(gappy, room); len(members) != 0 {
				t.Errorf("carol's member event sent again in a gappy sync: %v", members)
			}
		})
	}
}

// stateAfter returns a room's state_after events by (type, state key).
func stateAfter(t *testing.T, resp *mautrix.RespSync, room id.RoomID) map[string]*event.Event {
	t.Helper()
	jr, ok := resp.Rooms.Join[room]
	if !ok {
		t.Fatalf("room %s not in the sync", room)
	}
	if jr.StateAfter == nil {
		t.Fatal("no state_after")
	}
	out := map[string]*event.Event{}
	for _, ev := range jr.StateAfter.Events {
		out[ev.Type.Type+"|"+*ev.StateKey] = ev
	}
	return out
}

// rawRoom returns a room's entry in a section of a sync as sent.
func rawRoom(t *testing.T, srv *servertest.Server, c *mautrix.Client, query string, section string, room id.RoomID) map[string]any {
	t.Helper()
	res := rawJSON(t, http.MethodGet, srv.URL+"/_matrix/client/v3/sync?timeout=0&set_presence=offline&"+query, c.AccessToken, nil)
	if res.status != http.StatusOK {
		t.Fatalf("sync %s: %d %v", query, res.status, res.body)
	}
	rooms, _ := res.body["rooms"].(map[string]any)
	sec, _ := rooms[section].(map[string]any)
	entry, _ := sec[room.String()].(map[string]any)
	if entry == nil {
		t.Fatalf("room not in rooms.%s of %v", section, res.body)
	}
	return entry
}

func setTopic(t *testing.T, c *mautrix.Client, room id.RoomID, topic string) id.EventID {
	t.Helper()
	resp, err := c.SendStateEvent(context.Background(), room, event.StateTopic, "", map[string]any{"topic": topic})
	if err != nil {
		t.Fatalf("set topic: %v", err)
	}
	return resp.EventID
}

func TestUseStateAfter(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, ephemeralConfig(t, engine))
			alice, bob, room := twoInARoom(t, srv)
			setTopic(t, alice, room, "one")
			two := setTopic(t, alice, room, "two")

			// Initial sync: the whole state at the end of the timeline,
			// including state events the timeline carries too.
			init := syncOnce(t, bob, mautrix.ReqSync{UseStateAfter: true})
			st := stateAfter(t, init, room)
			if ev := st["m.room.topic|"]; ev == nil || ev.ID != two {
				t.Errorf("state_after's topic: %v", ev)
			}
			if st["m.room.create|"] == nil || st["m.room.member|"+bob.UserID.String()] == nil {
				t.Errorf("state_after lacks the create event or bob's membership: %v", st)
			}
			if !slices.ContainsFunc(init.Rooms.Join[room].Timeline.Events, func(ev *event.Event) bool { return ev.ID == two }) {
				t.Error("the topic event is not in the timeline")
			}
			classic := syncOnce(t, bob, mautrix.ReqSync{})
			for _, ev := range classic.Rooms.Join[room].State.Events {
				if ev.ID == two {
					t.Error("the classic state section repeats a timeline event")
				}
			}
			if entry := rawRoom(t, srv, bob, "use_state_after=true", "join", room); entry["state"] != nil || entry["state_after"] == nil {
				t.Errorf("state and state_after: %v, %v", entry["state"], entry["state_after"])
			}

			// Incremental without a gap: the change, in the timeline and
			// in state_after.
			three := setTopic(t, alice, room, "three")
			got := syncUntilWith(t, bob, mautrix.ReqSync{Since: init.NextBatch, UseStateAfter: true}, func(r *mautrix.RespSync) bool {
				_, ok := r.Rooms.Join[room]
				return ok
			})
			if st := stateAfter(t, got, room); len(st) != 1 || st["m.room.topic|"] == nil || st["m.room.topic|"].ID != three {
				t.Errorf("state_after of a topic change: %v", st)
			}
			// A message alone: state_after is there, and empty.
			sendText(t, alice, room, "hello")
			entry := rawRoom(t, srv, bob, "use_state_after=true&since="+url.QueryEscape(got.NextBatch), "join", room)
			if entry["state"] != nil || fmt.Sprint(entry["state_after"]) != "map[events:[]]" {
				t.Errorf("after a message: state %v, state_after %v", entry["state"], entry["state_after"])
			}

			// A gappy sync: state_after has the change in the gap and the
			// one at the end of the timeline; the classic state only the
			// first.
			before := got.NextBatch
			if _, err := alice.SendStateEvent(ctx, room, event.StateRoomName, "", map[string]any{"name": "M"}); err != nil {
				t.Fatal(err)
			}
			sendTexts(t, alice, room, "filler", 12)
			four := setTopic(t, alice, room, "four")
			gappy := syncOnce(t, bob, mautrix.ReqSync{Since: before, UseStateAfter: true})
			if !gappy.Rooms.Join[room].Timeline.Limited {
				t.Fatal("not limited")
			}
			st = stateAfter(t, gappy, room)
			if len(st) != 2 || st["m.room.name|"] == nil || st["m.room.topic|"] == nil || st["m.room.topic|"].ID != four {
				t.Errorf("gappy state_after: %v", st)
			}
			classic = syncOnce(t, bob, mautrix.ReqSync{Since: before})
			if evs := classic.Rooms.Join[room].State.Events; len(evs) != 1 || evs[0].Type != event.StateRoomName {
				t.Errorf("gappy classic state: %v", evs)
			}

			// A room left: state_after too.
			if _, err := bob.LeaveRoom(ctx, room); err != nil {
				t.Fatal(err)
			}
			left := rawRoom(t, srv, bob, "use_state_after=true&since="+url.QueryEscape(gappy.NextBatch), "leave", room)
			if left["state"] != nil || left["state_after"] == nil {
				t.Errorf("left room: state %v, state_after %v", left["state"], left["state_after"])
			}

			if r := rawJSON(t, http.MethodGet, srv.URL+"/_matrix/client/v3/sync?timeout=0&use_state_after=yes", bob.AccessToken, nil); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_PARAM" {
				t.Errorf("use_state_after=yes: %d %v", r.status, r.body)
			}
		})
	}
}

func TestPresenceOfNewlyJoinedMembers(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := ephemeralConfig(t, engine)
			// No one stops being currently active during the test, so
			// presence changes only when the test changes it.
			cfg.Presence.LastActiveGranularity = time.Hour
			srv := servertest.Start(t, cfg)
			alice := register(t, srv.URL, "alice", "alice password", "ALICE")
			bob := register(t, srv.URL, "bob", "bob password", "BOB")
			carol := register(t, srv.URL, "carol", "carol password", "CAROL")
			for _, c := range []*mautrix.Client{alice, bob, carol} {
				if err := c.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceOnline}); err != nil {
					t.Fatal(err)
				}
			}
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})

			// Joining a room brings the presence of its members.
			start := syncOnce(t, bob, mautrix.ReqSync{}).NextBatch
			joinRoom(t, bob, room)
			got := syncOnce(t, bob, mautrix.ReqSync{Since: start})
			if p, ok := presenceOf(got, alice.UserID); !ok || p.Presence != event.PresenceOnline {
				t.Errorf("bob's sync after joining: alice's presence %v, %v", p, ok)
			}
			if _, ok := presenceOf(syncOnce(t, bob, mautrix.ReqSync{Since: got.NextBatch}), alice.UserID); ok {
				t.Error("alice's presence sent again")
			}

			// Someone joining one's room brings theirs.
			start = syncOnce(t, alice, mautrix.ReqSync{}).NextBatch
			joinRoom(t, carol, room)
			got = syncOnce(t, alice, mautrix.ReqSync{Since: start})
			if p, ok := presenceOf(got, carol.UserID); !ok || p.Presence != event.PresenceOnline {
				t.Errorf("alice's sync after carol joined: carol's presence %v, %v", p, ok)
			}
			if _, ok := presenceOf(got, bob.UserID); ok {
				t.Error("bob's unchanged presence sent to alice")
			}
			if _, ok := presenceOf(syncOnce(t, alice, mautrix.ReqSync{Since: got.NextBatch}), carol.UserID); ok {
				t.Error("carol's presence sent again")
			}
		})
	}
}

func hasState(jr *mautrix.SyncJoinedRoom, typ event.Type) bool {
	return slices.ContainsFunc(jr.State.Events, func(ev *event.Event) bool { return ev.Type == typ })
}

func TestNewlyJoinedRoomsInIncrementalSync(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			start := syncOnce(t, bob, mautrix.ReqSync{}).NextBatch

			// A room with a long history: the timeline is limited and the
			// state holds what came before it.
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			sendTexts(t, alice, room, "before", 12)
			joinRoom(t, bob, room)
			got := syncOnce(t, bob, mautrix.ReqSync{Since: start})
			jr, ok := got.Rooms.Join[room]
			if !ok {
				t.Fatal("the room bob joined is not in his sync")
			}
			evs := jr.Timeline.Events
			if !jr.Timeline.Limited || len(evs) == 0 || evs[len(evs)-1].Type != event.StateMember {
				t.Errorf("timeline: limited %v, %d events", jr.Timeline.Limited, len(evs))
			}
			for _, typ := range []event.Type{event.StateCreate, event.StatePowerLevels, event.StateJoinRules} {
				if !hasState(jr, typ) {
					t.Errorf("state lacks %s", typ.Type)
				}
			}

			// A profile change is no new join: just the event.
			if err := bob.SetDisplayName(ctx, "Bobby"); err != nil {
				t.Fatal(err)
			}
			got = syncUntilWith(t, bob, mautrix.ReqSync{Since: got.NextBatch}, func(r *mautrix.RespSync) bool {
				_, ok := r.Rooms.Join[room]
				return ok
			})
			if jr := got.Rooms.Join[room]; jr.Timeline.Limited || len(jr.State.Events) != 0 || len(jr.Timeline.Events) != 1 {
				t.Errorf("after a profile change: limited %v, %d state and %d timeline events",
					jr.Timeline.Limited, len(jr.State.Events), len(jr.Timeline.Events))
			}

			// Left and joined again between two syncs: joined, afresh.
			if _, err := bob.LeaveRoom(ctx, room); err != nil {
				t.Fatal(err)
			}
			joinRoom(t, bob, room)
			again := syncOnce(t, bob, mautrix.ReqSync{Since: got.NextBatch})
			if _, ok := again.Rooms.Leave[room]; ok {
				t.Error("the room is in the leave section")
			}
			if jr, ok := again.Rooms.Join[room]; !ok || !hasState(jr, event.StateCreate) {
				t.Errorf("rejoined room: %v, with full state: %v", ok, ok && hasState(jr, event.StateCreate))
			}

			// A new room with little history: all of it, not limited.
			small := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			joinRoom(t, bob, small)
			got = syncOnce(t, bob, mautrix.ReqSync{Since: again.NextBatch})
			jr, ok = got.Rooms.Join[small]
			if !ok || jr.Timeline.Limited || len(jr.Timeline.Events) == 0 || jr.Timeline.Events[0].Type != event.StateCreate {
				t.Errorf("small room: in sync %v, timeline %+v", ok, jr)
			}
		})
	}
}
