package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/presence"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
	"github.com/axonhs/axon/internal/streams"
)

// ephemeralConfig has open registration and a sync-online timeout no
// test can outlast, so a user set online stays online throughout.
func ephemeralConfig(t *testing.T, engine string) *config.Config {
	t.Helper()
	cfg := servertest.Config(t, engine)
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.Presence.SyncOnlineTimeout = time.Hour
	return cfg
}

// twoInARoom registers alice and bob and puts them in a room alice made.
func twoInARoom(t *testing.T, srv *servertest.Server) (alice, bob *mautrix.Client, room id.RoomID) {
	t.Helper()
	ctx := context.Background()
	alice = register(t, srv.URL, "alice", "alice password", "ALICE")
	bob = register(t, srv.URL, "bob", "bob password", "BOB")
	created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatalf("createRoom: %v", err)
	}
	if _, err := bob.JoinRoomByID(ctx, created.RoomID); err != nil {
		t.Fatalf("join: %v", err)
	}
	return alice, bob, created.RoomID
}

// ephemeral returns the room's ephemeral events of type typ in a sync.
func ephemeral(resp *mautrix.RespSync, room id.RoomID, typ event.Type) []*event.Event {
	jr, ok := resp.Rooms.Join[room]
	if !ok {
		return nil
	}
	var out []*event.Event
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type == typ.Type {
			_ = ev.Content.ParseRaw(ev.Type)
			out = append(out, ev)
		}
	}
	return out
}

// typingIs reports whether a sync carries an m.typing event for room
// listing exactly users.
func typingIs(resp *mautrix.RespSync, room id.RoomID, users ...id.UserID) bool {
	for _, ev := range ephemeral(resp, room, event.EphemeralEventTyping) {
		got := ev.Content.AsTyping().UserIDs
		same := len(got) == len(users)
		for i := 0; same && i < len(got); i++ {
			same = got[i] == users[i]
		}
		if same {
			return true
		}
	}
	return false
}

// receipt finds user's receipt of type typ on eventID in a sync.
func receipt(resp *mautrix.RespSync, room id.RoomID, eventID id.EventID, typ event.ReceiptType, user id.UserID) (event.ReadReceipt, bool) {
	for _, ev := range ephemeral(resp, room, event.EphemeralEventReceipt) {
		if r, ok := (*ev.Content.AsReceipt())[eventID][typ][user]; ok {
			return r, true
		}
	}
	return event.ReadReceipt{}, false
}

func hasReceiptType(resp *mautrix.RespSync, room id.RoomID, typ event.ReceiptType) bool {
	for _, ev := range ephemeral(resp, room, event.EphemeralEventReceipt) {
		for _, byType := range *ev.Content.AsReceipt() {
			if _, ok := byType[typ]; ok {
				return true
			}
		}
	}
	return false
}

// presenceOf finds user's m.presence event in a sync.
func presenceOf(resp *mautrix.RespSync, user id.UserID) (*event.PresenceEventContent, bool) {
	for _, ev := range resp.Presence.Events {
		if ev.Type.Type == event.EphemeralEventPresence.Type && ev.Sender == user {
			_ = ev.Content.ParseRaw(ev.Type)
			return ev.Content.AsPresence(), true
		}
	}
	return nil, false
}

// initialSync is a sync without a token that leaves presence alone.
func initialSync(t *testing.T, c *mautrix.Client) *mautrix.RespSync {
	t.Helper()
	resp, err := c.FullSyncRequest(context.Background(), mautrix.ReqSync{SetPresence: event.PresenceOffline})
	if err != nil {
		t.Fatalf("initial sync: %v", err)
	}
	return resp
}

// ephemeralJSON returns a room's ephemeral events as the server sent them.
func ephemeralJSON(t *testing.T, srv *servertest.Server, c *mautrix.Client, since string, room id.RoomID) []map[string]any {
	t.Helper()
	res := rawJSON(t, http.MethodGet, srv.URL+"/_matrix/client/v3/sync?timeout=0&set_presence=offline&since="+url.QueryEscape(since), c.AccessToken, nil)
	var body struct {
		Rooms struct {
			Join map[string]struct {
				Ephemeral struct {
					Events []map[string]any `json:"events"`
				} `json:"ephemeral"`
			} `json:"join"`
		} `json:"rooms"`
	}
	b, _ := json.Marshal(res.body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	return body.Rooms.Join[room.String()].Ephemeral.Events
}

func TestTypingWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, ephemeralConfig(t, engine))
			alice, bob, room := twoInARoom(t, srv)
			start := initialSync(t, bob).NextBatch

			if _, err := alice.UserTyping(ctx, room, true, 2*time.Minute); err != nil {
				t.Fatalf("typing: %v", err)
			}
			got := syncUntil(t, bob, start, func(r *mautrix.RespSync) bool { return typingIs(r, room, alice.UserID) })
			if !typingIs(initialSync(t, bob), room, alice.UserID) {
				t.Error("an initial sync does not show alice typing")
			}
			evs := ephemeralJSON(t, srv, bob, start, room)
			if len(evs) != 1 || evs[0]["type"] != "m.typing" || evs[0]["room_id"] != nil {
				t.Errorf("ephemeral events down /sync: %v", evs)
			}

			if _, err := alice.UserTyping(ctx, room, false, 0); err != nil {
				t.Fatalf("stop typing: %v", err)
			}
			got = syncUntil(t, bob, got.NextBatch, func(r *mautrix.RespSync) bool { return typingIs(r, room) })

			// A notification ends by itself when its timeout passes.
			if _, err := alice.UserTyping(ctx, room, true, time.Millisecond); err != nil {
				t.Fatalf("typing: %v", err)
			}
			syncUntil(t, bob, got.NextBatch, func(r *mautrix.RespSync) bool { return typingIs(r, room) })

			// Only for oneself, only in one's rooms.
			if r := do(t, alice, http.MethodPut, map[string]any{"typing": true}, "rooms", room, "typing", bob.UserID); r.status != http.StatusForbidden || r.errcode() != "M_FORBIDDEN" {
				t.Errorf("typing for bob: %d %v", r.status, r.body)
			}
			carol := register(t, srv.URL, "carol", "carol password", "CAROL")
			if _, err := carol.UserTyping(ctx, room, true, time.Second); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("typing in a room one is not in: %v", err)
			}
			if r := do(t, alice, http.MethodPut, map[string]any{"timeout": 1000}, "rooms", room, "typing", alice.UserID); r.errcode() != "M_MISSING_PARAM" {
				t.Errorf("no typing key: %d %v", r.status, r.body)
			}
		})
	}
}

func TestTypingStreamRestartsWithTheServer(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := ephemeralConfig(t, engine)
			srv := servertest.Start(t, cfg)
			alice, bob, room := twoInARoom(t, srv)
			start := initialSync(t, bob).NextBatch
			if _, err := alice.UserTyping(ctx, room, true, 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			before := syncUntil(t, bob, start, func(r *mautrix.RespSync) bool { return typingIs(r, room, alice.UserID) })
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}

			// The restarted server has forgotten who was typing. Bob's token
			// is ahead of its typing stream, so he is told at once.
			srv = servertest.Start(t, cfg)
			for _, c := range []*mautrix.Client{alice, bob} {
				c.HomeserverURL, _ = url.Parse(srv.URL)
			}
			after := syncUntil(t, bob, before.NextBatch, func(r *mautrix.RespSync) bool { return typingIs(r, room) })
			// From then on, tokens work as usual.
			if _, err := alice.UserTyping(ctx, room, true, 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			syncUntil(t, bob, after.NextBatch, func(r *mautrix.RespSync) bool { return typingIs(r, room, alice.UserID) })
		})
	}
}

func TestReceiptsWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, ephemeralConfig(t, engine))
			alice, bob, room := twoInARoom(t, srv)
			var msgs []id.EventID
			for _, body := range []string{"one", "two"} {
				resp, err := alice.SendText(ctx, room, body)
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, resp.EventID)
			}
			start := initialSync(t, alice).NextBatch

			if err := bob.SendReceipt(ctx, room, msgs[0], event.ReceiptTypeRead, nil); err != nil {
				t.Fatalf("receipt: %v", err)
			}
			got := syncUntil(t, alice, start, func(r *mautrix.RespSync) bool {
				_, ok := receipt(r, room, msgs[0], event.ReceiptTypeRead, bob.UserID)
				return ok
			})
			if rr, ok := receipt(initialSync(t, alice), room, msgs[0], event.ReceiptTypeRead, bob.UserID); !ok || rr.Timestamp.IsZero() {
				t.Errorf("an initial sync lacks bob's receipt: %+v", rr)
			}
			if evs := ephemeralJSON(t, srv, alice, start, room); len(evs) != 1 || evs[0]["room_id"] != nil {
				t.Errorf("ephemeral events down /sync: %v", evs)
			}

			// A private receipt, then a public threaded one: any sync that
			// shows the second covers the first, which must not be in it.
			if err := bob.SendReceipt(ctx, room, msgs[1], event.ReceiptTypeReadPrivate, nil); err != nil {
				t.Fatalf("private receipt: %v", err)
			}
			if err := bob.SendReceipt(ctx, room, msgs[1], event.ReceiptTypeRead, mautrix.ReqSendReceipt{ThreadID: "main"}); err != nil {
				t.Fatalf("threaded receipt: %v", err)
			}
			sawPrivate := false
			syncUntil(t, alice, got.NextBatch, func(r *mautrix.RespSync) bool {
				sawPrivate = sawPrivate || hasReceiptType(r, room, event.ReceiptTypeReadPrivate)
				rr, ok := receipt(r, room, msgs[1], event.ReceiptTypeRead, bob.UserID)
				return ok && rr.ThreadID == "main"
			})
			if sawPrivate || hasReceiptType(initialSync(t, alice), room, event.ReceiptTypeReadPrivate) {
				t.Error("alice saw bob's private receipt")
			}
			if _, ok := receipt(initialSync(t, bob), room, msgs[1], event.ReceiptTypeReadPrivate, bob.UserID); !ok {
				t.Error("bob does not see his own private receipt")
			}

			// Threads: a receipt must name the thread its event is in.
			reply, err := alice.SendMessageEvent(ctx, room, event.EventMessage, map[string]any{
				"msgtype": "m.text", "body": "in a thread",
				"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": msgs[0]},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := bob.SendReceipt(ctx, room, reply.EventID, event.ReceiptTypeRead, mautrix.ReqSendReceipt{ThreadID: "main"}); errcode(err) != "M_INVALID_PARAM" {
				t.Errorf("threaded event, main timeline receipt: %v", err)
			}
			if err := bob.SendReceipt(ctx, room, reply.EventID, event.ReceiptTypeRead, mautrix.ReqSendReceipt{ThreadID: msgs[0].String()}); err != nil {
				t.Errorf("receipt in the thread: %v", err)
			}

			// Bad requests.
			carol := register(t, srv.URL, "carol", "carol password", "CAROL")
			if err := carol.SendReceipt(ctx, room, msgs[0], event.ReceiptTypeRead, nil); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("receipt from a non-member: %v", err)
			}
			if err := bob.SendReceipt(ctx, room, "$nothing:axon.test", event.ReceiptTypeRead, nil); errcode(err) != "M_NOT_FOUND" {
				t.Errorf("receipt for an unknown event: %v", err)
			}
			for _, c := range []struct {
				typ  string
				body map[string]any
			}{
				{"m.read", map[string]any{"thread_id": ""}},
				{"m.read", map[string]any{"thread_id": 7}},
				{"m.fully_read", map[string]any{"thread_id": "main"}},
				{"m.unread", map[string]any{}},
			} {
				if r := do(t, bob, http.MethodPost, c.body, "rooms", room, "receipt", c.typ, msgs[0]); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_PARAM" {
					t.Errorf("%s %v: %d %v", c.typ, c.body, r.status, r.body)
				}
			}
		})
	}
}

func TestReadMarkersWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, ephemeralConfig(t, engine))
			alice, bob, room := twoInARoom(t, srv)
			var msgs []id.EventID
			for _, body := range []string{"one", "two", "three"} {
				resp, err := alice.SendText(ctx, room, body)
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, resp.EventID)
			}
			fullyRead := func() id.EventID {
				t.Helper()
				var content event.FullyReadEventContent
				if err := bob.GetRoomAccountData(ctx, room, "m.fully_read", &content); err != nil {
					t.Fatalf("m.fully_read: %v", err)
				}
				return content.EventID
			}

			if err := bob.SetReadMarkers(ctx, room, &mautrix.ReqSetReadMarkers{FullyRead: msgs[1], Read: msgs[1]}); err != nil {
				t.Fatalf("read markers: %v", err)
			}
			resp := syncUntil(t, bob, "", func(r *mautrix.RespSync) bool {
				for _, ev := range r.Rooms.Join[room].AccountData.Events {
					if ev.Type.Type == "m.fully_read" {
						_ = ev.Content.ParseRaw(ev.Type)
						return ev.Content.AsFullyRead().EventID == msgs[1]
					}
				}
				return false
			})
			if _, ok := receipt(resp, room, msgs[1], event.ReceiptTypeRead, bob.UserID); !ok {
				t.Error("read_markers' m.read is not a receipt")
			}

			// The marker does not move backwards.
			if err := bob.SetReadMarkers(ctx, room, &mautrix.ReqSetReadMarkers{FullyRead: msgs[0]}); err != nil {
				t.Fatal(err)
			}
			if got := fullyRead(); got != msgs[1] {
				t.Errorf("marker moved back to %s", got)
			}
			// The receipt endpoint moves it too.
			if err := bob.SendReceipt(ctx, room, msgs[2], "m.fully_read", nil); err != nil {
				t.Fatal(err)
			}
			if got := fullyRead(); got != msgs[2] {
				t.Errorf("after a m.fully_read receipt: %s", got)
			}

			// Clients may not write the marker themselves; unknown events and
			// malformed IDs are refused.
			if err := bob.SetRoomAccountData(ctx, room, "m.fully_read", map[string]any{"event_id": msgs[0]}); err == nil {
				t.Error("a client wrote m.fully_read directly")
			}
			if err := bob.SetReadMarkers(ctx, room, &mautrix.ReqSetReadMarkers{FullyRead: "$nothing:axon.test"}); errcode(err) != "M_NOT_FOUND" {
				t.Errorf("unknown event: %v", err)
			}
			if r := do(t, bob, http.MethodPost, map[string]any{"m.read": 5}, "rooms", room, "read_markers"); r.errcode() != "M_BAD_JSON" {
				t.Errorf("a number for an event ID: %d %v", r.status, r.body)
			}
		})
	}
}

func TestPresenceWithAMatrixClient(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := ephemeralConfig(t, engine)
			srv := servertest.Start(t, cfg)
			alice, bob, _ := twoInARoom(t, srv)
			carol := register(t, srv.URL, "carol", "carol password", "CAROL")
			start := initialSync(t, bob).NextBatch

			if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceOnline, StatusMsg: "brewing"}); err != nil {
				t.Fatalf("set presence: %v", err)
			}
			p, err := bob.GetPresence(ctx, alice.UserID)
			if err != nil || p.Presence != event.PresenceOnline || p.StatusMsg != "brewing" || !p.CurrentlyActive {
				t.Errorf("alice's presence as bob sees it: %+v, %v", p, err)
			}
			got := syncUntil(t, bob, start, func(r *mautrix.RespSync) bool {
				p, ok := presenceOf(r, alice.UserID)
				return ok && p.Presence == event.PresenceOnline && p.StatusMessage == "brewing"
			})

			// set_presence on /sync.
			if _, err := alice.FullSyncRequest(ctx, mautrix.ReqSync{SetPresence: event.PresenceUnavailable}); err != nil {
				t.Fatal(err)
			}
			syncUntil(t, bob, got.NextBatch, func(r *mautrix.RespSync) bool {
				p, ok := presenceOf(r, alice.UserID)
				return ok && p.Presence == event.PresenceUnavailable && p.StatusMessage == "brewing"
			})
			if r := rawJSON(t, http.MethodGet, srv.URL+"/_matrix/client/v3/sync?timeout=0&set_presence=busy", alice.AccessToken, nil); r.errcode() != "M_INVALID_PARAM" {
				t.Errorf("set_presence=busy: %d %v", r.status, r.body)
			}

			// Visible to oneself and to those who share a room.
			if _, err := carol.GetPresence(ctx, alice.UserID); errcode(err) != "M_FORBIDDEN" {
				t.Errorf("carol shares no room with alice: %v", err)
			}
			if p, err := carol.GetOwnPresence(ctx); err != nil || p.Presence != event.PresenceOffline {
				t.Errorf("carol's own presence: %+v, %v", p, err)
			}
			if _, ok := presenceOf(initialSync(t, carol), alice.UserID); ok {
				t.Error("carol's sync has alice's presence")
			}
			if !func() bool { _, ok := presenceOf(initialSync(t, bob), alice.UserID); return ok }() {
				t.Error("bob's initial sync lacks alice's presence")
			}

			// Bad requests.
			for _, c := range []struct {
				user id.UserID
				body map[string]any
				code string
			}{
				{bob.UserID, map[string]any{"presence": "online"}, "M_FORBIDDEN"},
				{alice.UserID, map[string]any{"presence": "busy"}, "M_INVALID_PARAM"},
				{alice.UserID, map[string]any{"status_msg": "no state"}, "M_MISSING_PARAM"},
				{alice.UserID, map[string]any{"presence": "online", "status_msg": 3}, "M_BAD_JSON"},
			} {
				if r := do(t, alice, http.MethodPut, c.body, "presence", c.user, "status"); r.errcode() != c.code {
					t.Errorf("PUT %v for %s: %d %v, want %s", c.body, c.user, r.status, r.body, c.code)
				}
			}

			// Presence outlives a restart.
			before := initialSync(t, bob).NextBatch
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			srv = servertest.Start(t, cfg)
			bob.HomeserverURL, _ = url.Parse(srv.URL)
			alice.HomeserverURL, _ = url.Parse(srv.URL)
			if p, err := bob.GetPresence(ctx, alice.UserID); err != nil || p.Presence != event.PresenceUnavailable || p.StatusMsg != "brewing" {
				t.Errorf("after a restart: %+v, %v", p, err)
			}
			// The stream restarts past every position the last run could
			// have handed out without storing it (a crash loses those), so
			// a token from before the restart still hears of later changes.
			if b, a := parseToken(t, before), parseToken(t, initialSync(t, bob).NextBatch); a.Presence < b.Presence+presence.MaxUnwritten {
				t.Errorf("presence position %d after a restart, want at least %d", a.Presence, b.Presence+presence.MaxUnwritten)
			}
			if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceOnline, StatusMsg: "back"}); err != nil {
				t.Fatal(err)
			}
			syncUntil(t, bob, before, func(r *mautrix.RespSync) bool {
				p, ok := presenceOf(r, alice.UserID)
				return ok && p.Presence == event.PresenceOnline && p.StatusMessage == "back"
			})
		})
	}
}

func TestPresenceDisabled(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := ephemeralConfig(t, engine)
			cfg.Presence.Disabled = true
			srv := servertest.Start(t, cfg)
			alice, bob, _ := twoInARoom(t, srv)
			if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceOnline, StatusMsg: "hi"}); err != nil {
				t.Fatalf("set presence: %v", err)
			}
			if _, err := alice.SyncRequest(ctx, 0, "", "", false, event.PresenceOnline); err != nil {
				t.Fatal(err)
			}
			p, err := bob.GetPresence(ctx, alice.UserID)
			if err != nil || p.Presence != event.PresenceOffline || p.StatusMsg != "" {
				t.Errorf("alice's presence: %+v, %v", p, err)
			}
			if evs := initialSync(t, bob).Presence.Events; len(evs) != 0 {
				t.Errorf("presence in a sync: %v", evs)
			}
		})
	}
}

func parseToken(t *testing.T, token string) streams.Token {
	t.Helper()
	tok, err := streams.ParseToken(token)
	if err != nil {
		t.Fatalf("sync token %q: %v", token, err)
	}
	return tok
}
