package receipts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/accountdata"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// fakeStore keeps receipts and events in memory with the storage
// layer's rules (a receipt replaces an older one only for a later event).
type fakeStore struct {
	joined   map[string]bool // "user room"
	events   map[string]storage.EventRow
	receipts map[[4]string]storage.Receipt
}

func (f *fakeStore) IsJoined(_ context.Context, user, room string) (bool, error) {
	return f.joined[user+" "+room], nil
}

func (f *fakeStore) EventsByID(_ context.Context, ids []string) ([]storage.EventRow, error) {
	var out []storage.EventRow
	for _, id := range ids {
		if ev, ok := f.events[id]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (f *fakeStore) PutReceipt(_ context.Context, r storage.Receipt) (bool, error) {
	k := [4]string{r.RoomID, r.UserID, r.Type, r.ThreadID}
	if old, ok := f.receipts[k]; ok && old.EventPos >= r.EventPos {
		return false, nil
	}
	f.receipts[k] = r
	return true, nil
}

func (f *fakeStore) ReceiptsInJoinedRooms(_ context.Context, user string, after, upTo int64) ([]storage.Receipt, error) {
	var out []storage.Receipt
	for _, r := range f.receipts {
		if f.joined[user+" "+r.RoomID] && r.Pos > after && r.Pos <= upTo {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeStore) RoomReceipts(_ context.Context, roomIDs []string, upTo int64) ([]storage.Receipt, error) {
	var out []storage.Receipt
	for _, r := range f.receipts {
		if slices.Contains(roomIDs, r.RoomID) && r.Pos <= upTo {
			out = append(out, r)
		}
	}
	return out, nil
}

// EventFor follows the rooms service: unknown events and events of
// other rooms are not found.
func (f *fakeStore) EventFor(_ context.Context, _, roomID, eventID string) (*rooms.Event, error) {
	ev, ok := f.events[eventID]
	if !ok || ev.RoomID != roomID {
		return nil, rooms.ErrNotFound
	}
	return &rooms.Event{EventRow: ev}, nil
}

type fakeAccountData map[string][]byte

func (a fakeAccountData) Get(_ context.Context, user, room, typ string) ([]byte, error) {
	if c, ok := a[user+" "+room+" "+typ]; ok {
		return c, nil
	}
	return nil, accountdata.ErrNotFound
}

func (a fakeAccountData) PutServerManaged(_ context.Context, user, room, typ string, content []byte) error {
	a[user+" "+room+" "+typ] = content
	return nil
}

type fakeNotifier struct{ woken []string }

func (n *fakeNotifier) WakeRoom(room string) { n.woken = append(n.woken, "room "+room) }
func (n *fakeNotifier) WakeUser(user string) { n.woken = append(n.woken, "user "+user) }

type fixture struct {
	svc      *Service
	store    *fakeStore
	data     fakeAccountData
	notifier *fakeNotifier
}

const room, other = "!r:x", "!other:x"

func newFixture() *fixture {
	st := &fakeStore{
		joined:   map[string]bool{"@a:x " + room: true, "@b:x " + room: true, "@a:x " + other: true},
		events:   map[string]storage.EventRow{},
		receipts: map[[4]string]storage.Receipt{},
	}
	f := &fixture{store: st, data: fakeAccountData{}, notifier: &fakeNotifier{}}
	f.svc = New(st, st, f.data, streams.NewSequence(0), f.notifier)
	f.svc.now = func() time.Time { return time.UnixMilli(1000) }
	return f
}

// event adds an event at stream position pos; rel is "" or "rel_type target".
func (f *fixture) event(id, roomID string, pos int64, relType, target string) {
	content := `{}`
	if relType != "" {
		content = fmt.Sprintf(`{"m.relates_to":{"rel_type":%q,"event_id":%q}}`, relType, target)
	}
	f.store.events[id] = storage.EventRow{EventID: id, RoomID: roomID, Pos: pos, PDU: []byte(`{"content":` + content + `}`)}
}

func (f *fixture) send(t *testing.T, user, typ, eventID, thread string) {
	t.Helper()
	if err := f.svc.Send(context.Background(), Receipt{User: user, RoomID: room, Type: typ, EventID: eventID, ThreadID: thread}); err != nil {
		t.Fatalf("%s sends %s on %s: %v", user, typ, eventID, err)
	}
}

// sync returns the receipt content the user gets in the room, as JSON.
func (f *fixture) sync(t *testing.T, user string, after int64, full ...string) string {
	t.Helper()
	evs, err := f.svc.ForSync(context.Background(), user, after, f.svc.Position(), full)
	if err != nil {
		t.Fatal(err)
	}
	if evs[room] == nil {
		return ""
	}
	var ev struct {
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(evs[room], &ev); err != nil || ev.Type != "m.receipt" {
		t.Fatalf("event %s: %v", evs[room], err)
	}
	return string(ev.Content)
}

func TestReceiptsAreStreamedInOrderAndOnlyMoveForward(t *testing.T) {
	f := newFixture()
	f.event("$1", room, 10, "", "")
	f.event("$2", room, 11, "", "")
	f.send(t, "@a:x", TypeRead, "$2", "")
	if f.svc.Position() != 1 {
		t.Fatalf("position %d after one receipt", f.svc.Position())
	}
	f.send(t, "@a:x", TypeRead, "$1", "") // behind: ignored, but accepted
	if got := f.sync(t, "@b:x", 0); got != `{"$2":{"m.read":{"@a:x":{"ts":1000}}}}` {
		t.Errorf("b sees %s", got)
	}
	if fmt.Sprint(f.notifier.woken) != "[room !r:x]" {
		t.Errorf("woke %v; an ignored receipt wakes nobody", f.notifier.woken)
	}
	pos := f.svc.Position()
	f.send(t, "@b:x", TypeRead, "$1", "")
	if got := f.sync(t, "@a:x", pos); got != `{"$1":{"m.read":{"@b:x":{"ts":1000}}}}` {
		t.Errorf("since %d, a sees %s", pos, got)
	}
	if got := f.sync(t, "@a:x", f.svc.Position()); got != "" {
		t.Errorf("nothing new, yet a sees %s", got)
	}
}

func TestPrivateReceiptsReachOnlyTheirOwner(t *testing.T) {
	f := newFixture()
	f.event("$1", room, 10, "", "")
	f.send(t, "@a:x", TypeReadPrivate, "$1", "")
	if got := f.sync(t, "@a:x", 0); got != `{"$1":{"m.read.private":{"@a:x":{"ts":1000}}}}` {
		t.Errorf("a sees %s", got)
	}
	if got := f.sync(t, "@b:x", 0); got != "" {
		t.Errorf("b sees a's private receipt: %s", got)
	}
	if fmt.Sprint(f.notifier.woken) != "[user @a:x]" {
		t.Errorf("woke %v", f.notifier.woken)
	}
}

func TestThreadedReceipts(t *testing.T) {
	f := newFixture()
	f.event("$root", room, 10, "", "")
	f.event("$inThread", room, 11, "m.thread", "$root")
	f.event("$reaction", room, 12, "m.annotation", "$inThread")
	f.event("$reply", room, 13, "m.reference", "$root")
	f.event("$plain", room, 14, "", "")

	for _, ok := range [][2]string{
		{"$root", "main"}, {"$reply", "main"}, {"$plain", "main"},
		{"$inThread", "$root"}, {"$reaction", "$root"}, {"$root", "$root"}, {"$reply", "$root"},
	} {
		if err := f.svc.Send(context.Background(), Receipt{User: "@a:x", RoomID: room, Type: TypeRead, EventID: ok[0], ThreadID: ok[1]}); err != nil {
			t.Errorf("receipt on %s in thread %s: %v", ok[0], ok[1], err)
		}
	}
	for _, bad := range [][2]string{{"$inThread", "main"}, {"$reaction", "main"}, {"$plain", "$root"}, {"$inThread", "$plain"}} {
		err := f.svc.Send(context.Background(), Receipt{User: "@a:x", RoomID: room, Type: TypeRead, EventID: bad[0], ThreadID: bad[1]})
		if !errors.Is(err, ErrNotInThread) {
			t.Errorf("receipt on %s in thread %s: %v", bad[0], bad[1], err)
		}
	}
	// Threads are kept apart from each other and from the unthreaded receipt.
	f.send(t, "@b:x", TypeRead, "$plain", "")
	f.send(t, "@b:x", TypeRead, "$reaction", "$root")
	got := f.sync(t, "@a:x", 0)
	var content map[string]map[string]map[string]receiptData
	if err := json.Unmarshal([]byte(got), &content); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for ev, types := range content {
		for user, d := range types["m.read"] {
			seen = append(seen, fmt.Sprintf("%s %s %q", user, ev, d.ThreadID))
		}
	}
	sort.Strings(seen)
	want := `[@a:x $plain "main" @a:x $reply "$root" @b:x $plain "" @b:x $reaction "$root"]`
	if fmt.Sprint(seen) != want {
		t.Errorf("receipts %v\nwant     %s", seen, want)
	}
}

func TestReceiptRules(t *testing.T) {
	f := newFixture()
	f.event("$1", room, 10, "", "")
	f.event("$elsewhere", other, 11, "", "")
	ctx := context.Background()
	cases := []struct {
		r    Receipt
		want error
	}{
		{Receipt{User: "@c:x", RoomID: room, Type: TypeRead, EventID: "$1"}, ErrNotJoined},
		{Receipt{User: "@a:x", RoomID: room, Type: TypeRead, EventID: "$unknown"}, ErrUnknownEvent},
		{Receipt{User: "@a:x", RoomID: room, Type: TypeRead, EventID: "$elsewhere"}, ErrUnknownEvent},
		{Receipt{User: "@a:x", RoomID: room, Type: TypeFullyRead, EventID: "$1"}, ErrBadType},
	}
	for _, c := range cases {
		if err := f.svc.Send(ctx, c.r); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.r, err, c.want)
		}
	}
}

func TestNewRoomsGetAllTheirReceipts(t *testing.T) {
	f := newFixture()
	f.event("$1", room, 10, "", "")
	f.send(t, "@b:x", TypeRead, "$1", "")
	pos := f.svc.Position()
	if got := f.sync(t, "@a:x", pos); got != "" {
		t.Fatalf("nothing changed, got %s", got)
	}
	if got := f.sync(t, "@a:x", pos, room); got != `{"$1":{"m.read":{"@b:x":{"ts":1000}}}}` {
		t.Errorf("a room new to the client: %s", got)
	}
}

func TestFullyReadMarkerMovesForward(t *testing.T) {
	f := newFixture()
	f.event("$1", room, 10, "", "")
	f.event("$2", room, 11, "", "")
	ctx := context.Background()
	if err := f.svc.SetFullyRead(ctx, "@a:x", room, "$2"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetFullyRead(ctx, "@a:x", room, "$1"); err != nil {
		t.Fatal(err)
	}
	if got := string(f.data["@a:x "+room+" m.fully_read"]); got != `{"event_id":"$2"}` {
		t.Errorf("marker = %s", got)
	}
	if err := f.svc.SetFullyRead(ctx, "@c:x", room, "$2"); !errors.Is(err, ErrNotJoined) {
		t.Errorf("non-member: %v", err)
	}
	if err := f.svc.SetFullyRead(ctx, "@a:x", room, "$nope"); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("unknown event: %v", err)
	}
}
