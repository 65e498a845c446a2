package rooms_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

const (
	alice = "@alice:bench.test"
	bob   = "@bob:bench.test"
	carol = "@carol:bench.test"
)

// posOf is the stream position of an event alice can see.
func posOf(t *testing.T, svc *rooms.Service, room, eventID string) int64 {
	t.Helper()
	ev, err := svc.EventFor(context.Background(), alice, room, eventID)
	if err != nil {
		t.Fatal(err)
	}
	return ev.Pos
}

func say(t *testing.T, svc *rooms.Service, room, sender, body string) string {
	t.Helper()
	content := fmt.Appendf(nil, `{"msgtype":"m.text","body":%q}`, body)
	id, err := svc.Send(context.Background(), room, rooms.Proto{Type: "m.room.message", Sender: sender, Content: content}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func membership(t *testing.T, svc *rooms.Service, room, user, m string) string {
	t.Helper()
	id, err := svc.ChangeMembership(context.Background(), rooms.MembershipChange{Sender: user, RoomID: room, Target: user, Membership: m})
	if err != nil {
		t.Fatalf("%s %s: %v", user, m, err)
	}
	return id
}

// membersAt renders Members(user, at) as "user=membership" pairs, sorted.
func membersAt(svc *rooms.Service, user, room string, at int64) (string, error) {
	evs, err := svc.Members(context.Background(), user, room, at, nil)
	if err != nil {
		return "", err
	}
	var out []string
	for _, ev := range evs {
		var c struct{ Membership string }
		_ = json.Unmarshal(contentOf(ev), &c)
		out = append(out, *ev.StateKey+"="+c.Membership)
	}
	slices.Sort(out)
	return fmt.Sprint(out), nil
}

func contentOf(ev *rooms.Event) json.RawMessage {
	var pdu struct{ Content json.RawMessage }
	_ = json.Unmarshal(ev.PDU, &pdu)
	return pdu.Content
}

// A position is the point after every event at or before it: /members?at
// gives the state after the room's last event up to there.
func TestMembersAtAPosition(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			svc := newService(t, engine)
			// Another room first, so that positions before the room are not
			// all empty; the room's create event comes right after it.
			createRoom(t, svc)
			first := svc.StreamPosition() + 1
			room := createRoom(t, svc)
			say(t, svc, room, alice, "before bob")
			joined := posOf(t, svc, room, membership(t, svc, room, bob, "join"))
			say(t, svc, room, bob, "hello")
			left := posOf(t, svc, room, membership(t, svc, room, bob, "leave"))
			say(t, svc, room, alice, "after bob")

			for _, tc := range []struct {
				at   int64
				want string
			}{
				{first, "[]"}, // after the create event alone: nobody yet
				{first + 1, "[@alice:bench.test=join]"},
				{joined - 1, "[@alice:bench.test=join]"},
				{joined, "[@alice:bench.test=join @bob:bench.test=join]"},
				{left - 1, "[@alice:bench.test=join @bob:bench.test=join]"},
				{left, "[@alice:bench.test=join @bob:bench.test=leave]"},
				{-1, "[@alice:bench.test=join @bob:bench.test=leave]"},
				{1 << 40, "[@alice:bench.test=join @bob:bench.test=leave]"},
			} {
				if got, err := membersAt(svc, alice, room, tc.at); err != nil || got != tc.want {
					t.Errorf("members at %d: %s %v, want %s", tc.at, got, err, tc.want)
				}
			}
			// Before the room's first event there is no state to give
			// (Synapse: 404 "Can't find event for token").
			for _, at := range []int64{0, first - 1} {
				if got, err := membersAt(svc, alice, room, at); !errors.Is(err, rooms.ErrNotFound) {
					t.Errorf("members at %d, before the room: %s %v", at, got, err)
				}
			}
			// Bob, gone, reads up to his leave whatever the token asks.
			if got, err := membersAt(svc, bob, room, left+1); err != nil || got != "[@alice:bench.test=join @bob:bench.test=leave]" {
				t.Errorf("bob after leaving: %s %v", got, err)
			}
			if got, err := membersAt(svc, bob, room, joined); err != nil || got != "[@alice:bench.test=join @bob:bench.test=join]" {
				t.Errorf("bob while he was in: %s %v", got, err)
			}
		})
	}
}

// The state at a point is readable only where the history visibility lets
// the user read the room's events.
func TestMembersAtFollowsHistoryVisibility(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			svc := newService(t, engine)
			room, err := svc.CreateRoom(context.Background(), rooms.CreateRequest{Creator: alice, Preset: rooms.PresetPublicChat,
				InitialState: []rooms.StateEvent{{Type: "m.room.history_visibility", Content: json.RawMessage(`{"history_visibility":"joined"}`)}}})
			if err != nil {
				t.Fatal(err)
			}
			before := posOf(t, svc, room, say(t, svc, room, alice, "private"))
			joined := posOf(t, svc, room, membership(t, svc, room, carol, "join"))
			if got, err := membersAt(svc, carol, room, before); !errors.Is(err, rooms.ErrForbidden) {
				t.Errorf("carol before she joined a joined-only room: %s %v", got, err)
			}
			if got, err := membersAt(svc, carol, room, joined); err != nil || got != "[@alice:bench.test=join @carol:bench.test=join]" {
				t.Errorf("carol at her join: %s %v", got, err)
			}
			if got, err := membersAt(svc, alice, room, before); err != nil || got != "[@alice:bench.test=join]" {
				t.Errorf("alice, a member then: %s %v", got, err)
			}
		})
	}
}

// prev_batch is the point before the timeline, except for a fresh
// timeline holding the whole room, where it is the sync's position; the
// state section is taken before the timeline either way.
func TestSyncRoomPrevBatch(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			svc := newService(t, engine)
			room := createRoom(t, svc)
			say(t, svc, room, alice, "one")
			upTo := svc.StreamPosition()
			ctx := context.Background()

			whole, err := svc.SyncRoom(ctx, rooms.SliceRequest{User: alice, RoomID: room, UpTo: upTo, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if whole.Limited || len(whole.Timeline) != 7 || whole.PrevBatch != upTo || len(whole.State) != 0 {
				t.Errorf("whole room: limited=%v events=%d prev_batch=%d (want %d) state=%d",
					whole.Limited, len(whole.Timeline), whole.PrevBatch, upTo, len(whole.State))
			}
			if got, err := membersAt(svc, alice, room, whole.PrevBatch); err != nil || got != "[@alice:bench.test=join]" {
				t.Errorf("members at the whole room's prev_batch: %s %v", got, err)
			}

			part, err := svc.SyncRoom(ctx, rooms.SliceRequest{User: alice, RoomID: room, UpTo: upTo, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !part.Limited || len(part.Timeline) != 2 || part.PrevBatch != part.Timeline[0].Pos-1 || len(part.State) != 5 {
				t.Errorf("limited: limited=%v events=%d prev_batch=%d state=%d", part.Limited, len(part.Timeline), part.PrevBatch, len(part.State))
			}

			joined := posOf(t, svc, room, membership(t, svc, room, bob, "join"))
			say(t, svc, room, bob, "two")
			next, err := svc.SyncRoom(ctx, rooms.SliceRequest{User: alice, RoomID: room, Since: upTo, UpTo: svc.StreamPosition(), Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if next.Limited || len(next.Timeline) != 2 || next.PrevBatch != joined-1 {
				t.Errorf("incremental: limited=%v events=%d prev_batch=%d, want %d", next.Limited, len(next.Timeline), next.PrevBatch, joined-1)
			}
			if got, err := membersAt(svc, alice, room, next.PrevBatch); err != nil || got != "[@alice:bench.test=join]" {
				t.Errorf("members at the incremental prev_batch: %s %v", got, err)
			}
		})
	}
}
