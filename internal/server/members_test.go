package server_test

import (
	"context"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/storage/storagetest"
)

// membersAt lists the state keys of GET /members?at=token, sorted, and
// checks every event belongs to the room.
func membersAt(t *testing.T, c *mautrix.Client, room id.RoomID, token string) []string {
	t.Helper()
	resp, err := c.Members(context.Background(), room, mautrix.ReqMembers{At: token})
	if err != nil {
		t.Fatalf("members at %q: %v", token, err)
	}
	var out []string
	for _, ev := range resp.Chunk {
		if ev.RoomID != room || ev.Type != event.StateMember {
			t.Errorf("members at %q: unexpected %s in %s", token, ev.Type.Type, ev.RoomID)
		}
		out = append(out, *ev.StateKey)
	}
	slices.Sort(out)
	return out
}

// Complement's TestGetRoomMembersAtPoint: the prev_batch of an initial
// sync names a point before bob joined.
func TestMembersAtInitialSyncPrevBatch(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			sendText(t, alice, room, "Hello world!")
			first := syncOnce(t, alice, mautrix.ReqSync{})
			jr, ok := first.Rooms.Join[room]
			if !ok {
				t.Fatal("room missing from the initial sync")
			}
			joinRoom(t, bob, room)
			sendText(t, bob, room, "Hello back")
			got := membersAt(t, alice, room, jr.Timeline.PrevBatch)
			if want := []string{alice.UserID.String()}; !slices.Equal(got, want) {
				t.Errorf("members at prev_batch %q = %v, want %v", jr.Timeline.PrevBatch, got, want)
			}
		})
	}
}

// bodiesOf lists the message bodies and member state keys of a /messages
// chunk, in its order.
func bodiesOf(msgs *mautrix.RespMessages) []string {
	var out []string
	for _, ev := range msgs.Chunk {
		_ = ev.Content.ParseRaw(ev.Type)
		switch ev.Type {
		case event.EventMessage:
			out = append(out, ev.Content.AsMessage().Body)
		case event.StateMember:
			out = append(out, *ev.StateKey+" "+string(ev.Content.AsMember().Membership))
		}
	}
	return out
}

// Tokens from /messages name the same points as sync's: the members at a
// page's end are those after the page's oldest event (backwards) or its
// newest (forwards), whatever changed in the room since.
func TestMembersAtPaginationTokens(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, bob := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			sendText(t, alice, room, "a1")
			joinRoom(t, bob, room)
			sendText(t, bob, room, "b1")
			sendText(t, bob, room, "b2")
			aliceOnly := []string{alice.UserID.String()}
			both := []string{alice.UserID.String(), bob.UserID.String()}

			newest, err := alice.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 2)
			if err != nil {
				t.Fatal(err)
			}
			if got := bodiesOf(newest); !slices.Equal(got, []string{"b2", "b1"}) {
				t.Fatalf("newest page: %v", got)
			}
			joinPage, err := alice.Messages(ctx, room, newest.End, "", mautrix.DirectionBackward, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := bodiesOf(joinPage); !slices.Equal(got, []string{bob.UserID.String() + " join"}) {
				t.Fatalf("page before b1: %v", got)
			}
			forward, err := alice.Messages(ctx, room, joinPage.End, "", mautrix.DirectionForward, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := bodiesOf(forward); !slices.Equal(got, []string{bob.UserID.String() + " join"}) {
				t.Fatalf("forwards from before the join: %v", got)
			}

			// Membership changes after a token do not show at it.
			if _, err := bob.LeaveRoom(ctx, room); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				what, token string
				want        []string
			}{
				{"start of the newest page", newest.Start, both},
				{"end of the newest page (after the join)", newest.End, both},
				{"end of the join's page (before it)", joinPage.End, aliceOnly},
				{"end of the forward page (after the join)", forward.End, both},
			} {
				if got := membersAt(t, alice, room, tc.token); !slices.Equal(got, tc.want) {
					t.Errorf("%s %q: %v, want %v", tc.what, tc.token, got, tc.want)
				}
			}
			joined, err := alice.Members(ctx, room, mautrix.ReqMembers{At: newest.End, Membership: event.MembershipJoin})
			if err != nil || len(joined.Chunk) != 2 {
				t.Errorf("joined at the newest page's end: %v %v", joined, err)
			}
			now, err := alice.Members(ctx, room, mautrix.ReqMembers{Membership: event.MembershipJoin})
			if err != nil || len(now.Chunk) != 1 {
				t.Errorf("joined now: %v %v", now, err)
			}

			// Paginating forwards from the beginning starts before the
			// room's first event, where it has no state: 404 as in Synapse.
			oldest, err := alice.Messages(ctx, room, "", "", mautrix.DirectionForward, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			if res := doQuery(t, alice, map[string]string{"at": oldest.Start}, "rooms", room, "members"); res.status != 404 || res.errcode() != "M_NOT_FOUND" {
				t.Errorf("members at %q, before the room: %d %v", oldest.Start, res.status, res.body)
			}
			if got := membersAt(t, alice, room, oldest.End); len(got) != 0 {
				t.Errorf("members after the create event alone: %v", got)
			}
		})
	}
}

func TestMembersAtRejectsBadTokens(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			_, alice, _ := aliceAndBob(t, engine)
			room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
			// Synapse answers 400 too ("Invalid stream token", M_UNKNOWN);
			// Axon names the parameter's fault as for /messages' from.
			for _, at := range []string{"garbage", "s", "s-1", "sx_1", "t3-5", "s1_2_3_4_5_6_7_8"} {
				res := doQuery(t, alice, map[string]string{"at": at}, "rooms", room, "members")
				if res.status != 400 || res.errcode() != "M_INVALID_PARAM" {
					t.Errorf("at=%q: %d %v", at, res.status, res.body)
				}
			}
		})
	}
}
