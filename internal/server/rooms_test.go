package server_test

import (
	"context"
	"fmt"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/storage/storagetest"
)

// syncUntil syncs c from since until ok accepts a response, and returns
// that response. Every sync long-polls, so the loop waits on the server's
// notifier, not on a clock; it gives up after a bounded number of syncs.
func syncUntil(t *testing.T, c *mautrix.Client, since string, ok func(*mautrix.RespSync) bool) *mautrix.RespSync {
	t.Helper()
	for range 20 {
		resp, err := c.SyncRequest(context.Background(), 10000, since, "", false, event.PresenceOnline)
		if err != nil {
			t.Fatalf("sync: %v", err)
		}
		if ok(resp) {
			return resp
		}
		since = resp.NextBatch
	}
	t.Fatal("sync never showed what the test waited for")
	return nil
}

func timelineBodies(resp *mautrix.RespSync, room id.RoomID) []string {
	var out []string
	if jr, ok := resp.Rooms.Join[room]; ok {
		for _, ev := range jr.Timeline.Events {
			if ev.Type == event.EventMessage {
				_ = ev.Content.ParseRaw(ev.Type)
				out = append(out, ev.Content.AsMessage().Body)
			}
		}
	}
	return out
}

func TestRoomConversationWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)
			alice := register(t, srv.URL, "alice", "alice password", "ALICE")
			bob := register(t, srv.URL, "bob", "bob password", "BOB")

			created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{
				Name: "Tea", Topic: "brewing", Preset: "private_chat", Invite: []id.UserID{bob.UserID},
			})
			if err != nil {
				t.Fatalf("createRoom: %v", err)
			}
			room := created.RoomID

			// Bob sees the invite, with the room's name in the stripped state.
			bobSync := syncUntil(t, bob, "", func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Invite[room]; return ok })
			var sawName bool
			for _, ev := range bobSync.Rooms.Invite[room].State.Events {
				if ev.Type == event.StateRoomName {
					sawName = true
				}
			}
			if !sawName {
				t.Error("invite_state lacks m.room.name")
			}

			if _, err := bob.JoinRoomByID(ctx, room); err != nil {
				t.Fatalf("join: %v", err)
			}
			joined, err := bob.JoinedRooms(ctx)
			if err != nil || len(joined.JoinedRooms) != 1 || joined.JoinedRooms[0] != room {
				t.Fatalf("joined_rooms = %v, %v", joined, err)
			}

			// Alice's initial sync shows the room with its state.
			aliceSync := syncUntil(t, alice, "", func(r *mautrix.RespSync) bool { _, ok := r.Rooms.Join[room]; return ok })
			jr := aliceSync.Rooms.Join[room]
			state := map[event.Type]bool{}
			for _, ev := range append(jr.State.Events, jr.Timeline.Events...) {
				state[ev.Type] = true
			}
			for _, typ := range []event.Type{event.StateCreate, event.StatePowerLevels, event.StateJoinRules, event.StateRoomName, event.StateTopic} {
				if !state[typ] {
					t.Errorf("initial sync lacks %s", typ.Type)
				}
			}

			// A message from Bob reaches Alice's incremental sync.
			resp, err := bob.SendText(ctx, room, "hello alice")
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			got := syncUntil(t, alice, aliceSync.NextBatch, func(r *mautrix.RespSync) bool { return len(timelineBodies(r, room)) > 0 })
			if bodies := timelineBodies(got, room); len(bodies) != 1 || bodies[0] != "hello alice" {
				t.Errorf("alice's timeline = %v", bodies)
			}
			if ev := got.Rooms.Join[room].Timeline.Events; ev[len(ev)-1].ID != resp.EventID {
				t.Errorf("event ID %s, sent %s", ev[len(ev)-1].ID, resp.EventID)
			}

			// The event can be read back; non-members cannot read it.
			if _, err := alice.GetEvent(ctx, room, resp.EventID); err != nil {
				t.Errorf("get event: %v", err)
			}
			carol := register(t, srv.URL, "carol", "carol password", "CAROL")
			if _, err := carol.GetEvent(ctx, room, resp.EventID); errcode(err) != "M_NOT_FOUND" {
				t.Errorf("non-member reading an event: %v", err)
			}
			if _, err := carol.SendText(ctx, room, "let me in"); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("non-member sending: %v", err)
			}

			// Members and state.
			members, err := alice.JoinedMembers(ctx, room)
			if err != nil || len(members.Joined) != 2 {
				t.Errorf("joined members = %v, %v", members, err)
			}
			var name struct {
				Name string `json:"name"`
			}
			if err := bob.StateEvent(ctx, room, event.StateRoomName, "", &name); err != nil || name.Name != "Tea" {
				t.Errorf("name state = %q, %v", name.Name, err)
			}
		})
	}
}

func TestSendIsIdempotentPerTransactionID(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)
			alice := register(t, srv.URL, "alice", "alice password", "ALICE")
			created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
			if err != nil {
				t.Fatal(err)
			}
			content := map[string]any{"msgtype": "m.text", "body": "once"}
			first, err := alice.SendMessageEvent(ctx, created.RoomID, event.EventMessage, content, mautrix.ReqSendEvent{TransactionID: "txn1"})
			if err != nil {
				t.Fatal(err)
			}
			again, err := alice.SendMessageEvent(ctx, created.RoomID, event.EventMessage, content, mautrix.ReqSendEvent{TransactionID: "txn1"})
			if err != nil || again.EventID != first.EventID {
				t.Fatalf("retry gave %v, %v; want %s", again, err, first.EventID)
			}
			other, err := alice.SendMessageEvent(ctx, created.RoomID, event.EventMessage, content, mautrix.ReqSendEvent{TransactionID: "txn2"})
			if err != nil || other.EventID == first.EventID {
				t.Fatalf("new transaction gave %v, %v", other, err)
			}
			msgs, err := alice.Messages(ctx, created.RoomID, "", "", mautrix.DirectionBackward, nil, 50)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ev := range msgs.Chunk {
				if ev.Type == event.EventMessage {
					n++
					if ev.ID == first.EventID && ev.Unsigned.TransactionID != "txn1" {
						t.Errorf("own event lacks transaction_id: %+v", ev.Unsigned)
					}
				}
			}
			if n != 2 {
				t.Errorf("%d messages stored, want 2", n)
			}
		})
	}
}

func TestConcurrentSendersLoseNothing(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := openRegistration(t, engine)
			alice := register(t, srv.URL, "alice", "alice password", "ALICE")
			var roomIDs []id.RoomID
			for range 3 {
				created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
				if err != nil {
					t.Fatal(err)
				}
				roomIDs = append(roomIDs, created.RoomID)
			}
			const perRoom, writers = 20, 4
			errs := make(chan error, writers*len(roomIDs))
			for _, room := range roomIDs {
				for w := range writers {
					go func() {
						for i := range perRoom / writers {
							if _, err := alice.SendText(ctx, room, fmt.Sprintf("w%d-%d", w, i)); err != nil {
								errs <- err
								return
							}
						}
						errs <- nil
					}()
				}
			}
			for range writers * len(roomIDs) {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			for _, room := range roomIDs {
				msgs, err := alice.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 100)
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				count := 0
				for _, ev := range msgs.Chunk { // newest first
					if ev.Type != event.EventMessage {
						continue
					}
					count++
					_ = ev.Content.ParseRaw(ev.Type)
					seen[ev.Content.AsMessage().Body] = true
				}
				if len(seen) != perRoom || count != perRoom {
					t.Errorf("room %s has %d messages (%d distinct), want %d", room, count, len(seen), perRoom)
				}
			}
		})
	}
}
