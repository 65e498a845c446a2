package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/clock"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// fakeStore keeps presence rows in memory; rooms maps a room to its
// joined members.
type fakeStore struct {
	mu     sync.Mutex
	rows   map[string]storage.Presence
	rooms  map[string][]string
	writes int
	reads  int           // PresenceOf calls
	putErr error         // PutPresence fails with it
	gate   chan struct{} // PutPresence waits for it to close
}

func (f *fakeStore) failWrites(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putErr = err
}

func (f *fakeStore) row(user string) storage.Presence {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rows[user]
}

func (f *fakeStore) PresenceOf(_ context.Context, ids []string) ([]storage.Presence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	var out []storage.Presence
	for _, id := range ids {
		if r, ok := f.rows[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeStore) PresenceExcept(_ context.Context, state string) ([]storage.Presence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Presence
	for _, r := range f.rows {
		if r.State != state {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeStore) PutPresence(_ context.Context, rows []storage.Presence) error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return f.putErr
	}
	for _, r := range rows {
		if old, ok := f.rows[r.UserID]; !ok || old.Pos <= r.Pos {
			f.rows[r.UserID] = r
		}
		f.writes++
	}
	return nil
}

func (f *fakeStore) sharing(a, b string) bool {
	for _, members := range f.rooms {
		if slices.Contains(members, a) && slices.Contains(members, b) {
			return true
		}
	}
	return false
}

func (f *fakeStore) PresenceOfSharers(_ context.Context, user string, after, upTo int64) ([]storage.Presence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Presence
	for id, r := range f.rows {
		if r.Pos > after && r.Pos <= upTo && (id == user || f.sharing(user, id)) {
			out = append(out, r)
		}
	}
	return out, nil
}

// fakeMembers answers Members from the store's rooms.
type fakeMembers struct{ f *fakeStore }

func (m fakeMembers) SharesRoom(a, b string) bool {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	return a == b || m.f.sharing(a, b)
}

func (m fakeMembers) Sharers(user string, fn func(string)) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	seen := map[string]bool{user: true}
	fn(user)
	for _, members := range m.f.rooms {
		if !slices.Contains(members, user) {
			continue
		}
		for _, o := range members {
			if !seen[o] {
				seen[o] = true
				fn(o)
			}
		}
	}
}

func (m fakeMembers) RoomMembers(room string) []string {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	return slices.Clone(m.f.rooms[room])
}

func (f *fakeStore) ShareRoom(_ context.Context, a, b string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return a == b || f.sharing(a, b), nil
}

var testSettings = Settings{
	Enabled: true, Tracked: true,
	LastActiveGranularity: time.Minute, SyncOnlineTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
}

type fixture struct {
	svc   *Service
	store *fakeStore
	clock *clock.Fake
	woken []string
}

func newFixture(t *testing.T, settings Settings, rows ...storage.Presence) *fixture {
	t.Helper()
	f := &fixture{
		store: &fakeStore{rows: map[string]storage.Presence{}, rooms: map[string][]string{"!r": {"@a", "@b"}, "!s": {"@c"}}},
		clock: clock.NewFake(time.UnixMilli(1_000_000_000)),
	}
	var last int64
	for _, r := range rows {
		f.store.rows[r.UserID] = r
		last = max(last, r.Pos)
	}
	f.svc = New(f.store, fakeMembers{f.store}, settings, f.clock, streams.NewSequence(last), func(u string) { f.woken = append(f.woken, u) }, nil)
	if err := f.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.svc.Close(context.Background()) })
	return f
}

// flush waits for the writer to store every change so far.
func (f *fixture) flush(t *testing.T) {
	t.Helper()
	if err := f.svc.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// get returns what user sees of target, as JSON.
func (f *fixture) get(t *testing.T, user, target string) string {
	t.Helper()
	c, err := f.svc.Get(context.Background(), user, target)
	if err != nil {
		t.Fatalf("get %s's presence: %v", target, err)
	}
	b, _ := json.Marshal(c)
	return string(b)
}

func TestSyncingKeepsAUserOnlineAndStoppingTakesThemOffline(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	done := f.svc.Syncing(ctx, "@a", "D1", Online)
	if got := f.get(t, "@b", "@a"); got != `{"presence":"online","last_active_ago":0,"currently_active":true}` {
		t.Fatalf("while syncing: %s", got)
	}
	if f.svc.Position() != 1 || fmt.Sprint(f.woken) != "[@a]" {
		t.Fatalf("going online: position %d, woke %v", f.svc.Position(), f.woken)
	}
	f.clock.Advance(20 * time.Second)
	done()
	// The next sync comes in time: no change clients must hear of.
	f.clock.Advance(10 * time.Second)
	done = f.svc.Syncing(ctx, "@a", "D1", Online)
	f.clock.Advance(10 * time.Second)
	done()
	if f.svc.Position() != 1 {
		t.Errorf("steady syncing moved the stream to %d", f.svc.Position())
	}
	// No sync for the sync-online timeout: offline.
	f.clock.Advance(29 * time.Second)
	if got := f.get(t, "@a", "@a"); got != `{"presence":"online","last_active_ago":39000,"currently_active":true}` {
		t.Fatalf("just before the timeout: %s", got)
	}
	f.clock.Advance(time.Second)
	if got := f.get(t, "@a", "@a"); got != `{"presence":"offline","last_active_ago":40000}` {
		t.Errorf("after the timeout: %s", got)
	}
	f.flush(t)
	if f.store.rows["@a"].State != Offline || f.store.rows["@a"].Pos != f.svc.Position() {
		t.Errorf("stored %+v at position %d", f.store.rows["@a"], f.svc.Position())
	}
}

func TestIdleAndActive(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	done := f.svc.Syncing(ctx, "@a", "D1", Online) // a long sync: never offline while it lasts
	defer done()
	f.clock.Advance(time.Minute)
	if got := f.get(t, "@a", "@a"); got != `{"presence":"online","last_active_ago":60000,"currently_active":false}` {
		t.Fatalf("after the granularity: %s", got)
	}
	pos := f.svc.Position()
	f.clock.Advance(4 * time.Minute)
	if got := f.get(t, "@a", "@a"); got != `{"presence":"unavailable","last_active_ago":300000}` {
		t.Fatalf("after the idle timeout: %s", got)
	}
	if f.svc.Position() != pos+1 {
		t.Errorf("going idle: position %d, want %d", f.svc.Position(), pos+1)
	}
	f.svc.Bump(ctx, "@a", "D1")
	if got := f.get(t, "@a", "@a"); got != `{"presence":"online","last_active_ago":0,"currently_active":true}` {
		t.Errorf("activity brings an idle device back: %s", got)
	}
}

func TestSetStateAndStatusMessage(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	done := f.svc.Syncing(ctx, "@a", "D1", Online)
	defer done()
	if err := f.svc.SetState(ctx, "@a", "@a", "D1", Unavailable, "lunch"); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, "@b", "@a"); got != `{"presence":"unavailable","last_active_ago":0,"status_msg":"lunch"}` {
		t.Errorf("after PUT: %s", got)
	}
	// A status message alone is news.
	pos := f.svc.Position()
	if err := f.svc.SetState(ctx, "@a", "@a", "D1", Unavailable, "still lunch"); err != nil || f.svc.Position() != pos+1 {
		t.Errorf("new status message: %v, position %d", err, f.svc.Position())
	}
	// PUT without a message clears it, as in Synapse.
	if err := f.svc.SetState(ctx, "@a", "@a", "D1", Online, ""); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, "@a", "@a"); got != `{"presence":"online","last_active_ago":0,"currently_active":true}` {
		t.Errorf("after clearing: %s", got)
	}
	if err := f.svc.SetState(ctx, "@a", "@b", "D1", Online, ""); !errors.Is(err, ErrNotSelf) {
		t.Errorf("setting someone else's presence: %v", err)
	}
	if err := f.svc.SetState(ctx, "@a", "@a", "D1", "busy", ""); !errors.Is(err, ErrBadState) {
		t.Errorf("unknown state: %v", err)
	}
}

func TestTheMostPresentDeviceWins(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	phone := f.svc.Syncing(ctx, "@a", "phone", Online)
	defer phone()
	laptop := f.svc.Syncing(ctx, "@a", "laptop", Unavailable)
	defer laptop()
	if got := f.get(t, "@a", "@a"); got != `{"presence":"online","last_active_ago":0,"currently_active":true}` {
		t.Errorf("one device online, one idle: %s", got)
	}
}

func TestVisibility(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	if _, err := f.svc.Get(ctx, "@c", "@a"); !errors.Is(err, ErrNotVisible) {
		t.Errorf("no shared room: %v", err)
	}
	if got := f.get(t, "@c", "@c"); got != `{"presence":"offline"}` {
		t.Errorf("own presence, never set: %s", got)
	}
}

func TestDisabledPresence(t *testing.T) {
	f := newFixture(t, Settings{}, storage.Presence{UserID: "@a", State: Online, LastActiveTS: 1, Pos: 7})
	if row := f.store.rows["@a"]; row.State != Offline || row.Pos != 8 {
		t.Errorf("a stale online state survived start-up with presence disabled: %+v", row)
	}
	ctx := context.Background()
	f.svc.Syncing(ctx, "@a", "D1", Online)()
	if err := f.svc.SetState(ctx, "@a", "@a", "D1", Online, "hi"); err != nil {
		t.Fatal(err)
	}
	if f.svc.Position() != 8 || f.get(t, "@c", "@a") != `{"presence":"offline"}` {
		t.Errorf("disabled presence changed: position %d", f.svc.Position())
	}
	if evs, err := f.svc.ForSync(ctx, "@a", 0, 8, true, nil); err != nil || len(evs) != 0 {
		t.Errorf("sync got %s, %v", evs, err)
	}
}

func syncSenders(t *testing.T, f *fixture, user string, after int64, initial bool, newRooms ...string) string {
	t.Helper()
	evs, err := f.svc.ForSync(context.Background(), user, after, f.svc.Position(), initial, newRooms)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, raw := range evs {
		var ev struct {
			Type, Sender string
			Content      Content
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Type != "m.presence" {
			t.Fatalf("event %s: %v", raw, err)
		}
		out = append(out, ev.Sender+"="+ev.Content.Presence)
	}
	return fmt.Sprint(out)
}

func TestSyncSections(t *testing.T) {
	f := newFixture(t, testSettings, storage.Presence{UserID: "@c", State: Offline, LastActiveTS: 5, Pos: 1})
	ctx := context.Background()
	if err := f.svc.SetState(ctx, "@b", "@b", "D", Unavailable, ""); err != nil {
		t.Fatal(err)
	}
	done := f.svc.Syncing(ctx, "@a", "D", Online)
	defer done()
	if got := syncSenders(t, f, "@a", 0, true); got != "[@a=online @b=unavailable]" {
		t.Errorf("initial sync: %s", got)
	}
	pos := f.svc.Position()
	if err := f.svc.SetState(ctx, "@b", "@b", "D", Offline, ""); err != nil {
		t.Fatal(err)
	}
	if got := syncSenders(t, f, "@a", pos, false); got != "[@b=offline]" {
		t.Errorf("incremental sync: %s", got)
	}
	// @c shares no room with @a, until @a joins !s.
	if got := syncSenders(t, f, "@a", f.svc.Position(), false); got != "[]" {
		t.Errorf("nothing changed: %s", got)
	}
	if got := syncSenders(t, f, "@a", f.svc.Position(), false, "!s"); got != "[@c=offline]" {
		t.Errorf("a new room's members: %s", got)
	}
}

func TestRestartGivesClientsTimeToReconnect(t *testing.T) {
	now := time.UnixMilli(1_000_000_000).UnixMilli()
	f := newFixture(t, testSettings, storage.Presence{UserID: "@a", State: Online, LastActiveTS: now - 1000, LastSyncTS: now - 60_000, CurrentlyActive: true, Pos: 3})
	if got := f.get(t, "@a", "@a"); got != `{"presence":"online","last_active_ago":1000,"currently_active":true}` {
		t.Fatalf("after start-up: %s", got)
	}
	f.clock.Advance(29 * time.Second)
	done := f.svc.Syncing(context.Background(), "@a", "D1", Online) // the client is back
	done()
	f.clock.Advance(5 * time.Second) // the stand-in device has timed out, the real one has not
	if got := f.get(t, "@a", "@a"); got != `{"presence":"online","last_active_ago":5000,"currently_active":true}` {
		t.Errorf("after the client came back: %s", got)
	}
}

func TestCloseWritesWhatOnlyChangedInMemory(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	f.svc.Syncing(ctx, "@a", "D1", Online)()
	f.flush(t)
	f.clock.Advance(10 * time.Second)
	f.svc.Syncing(ctx, "@a", "D1", Online)() // moves last_active only
	f.flush(t)
	stored := f.store.rows["@a"].LastActiveTS
	if err := f.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.store.rows["@a"].LastActiveTS; got != stored+10_000 {
		t.Errorf("last active %d after close, want %d", got, stored+10_000)
	}
	if f.clock.Pending() != 0 {
		t.Errorf("%d timers left after close", f.clock.Pending())
	}
}

func TestCurrent(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	if err := f.svc.SetState(ctx, "@b", "@b", "D", Unavailable, "away"); err != nil {
		t.Fatal(err)
	}
	evs, err := f.svc.Current(ctx, []string{"@b", "@never"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, raw := range evs {
		var ev struct {
			Sender  string
			Content Content
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Sender+"="+ev.Content.Presence)
	}
	// Whenever they last changed; offline for a user never seen.
	if fmt.Sprint(got) != "[@b=unavailable @never=offline]" {
		t.Errorf("current presence: %v", got)
	}
	if evs, err := newFixture(t, Settings{}).svc.Current(ctx, []string{"@b"}); err != nil || evs != nil {
		t.Errorf("with presence disabled: %s, %v", evs, err)
	}
}

func TestChangesAreServedBeforeTheyAreStored(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	gate := make(chan struct{})
	f.store.mu.Lock()
	f.store.gate = gate
	f.store.mu.Unlock()
	if err := f.svc.SetState(ctx, "@b", "@b", "D", Unavailable, "lunch"); err != nil {
		t.Fatal(err)
	}
	if got := syncSenders(t, f, "@a", 0, false); got != "[@b=unavailable]" {
		t.Errorf("incremental sync while the write waits: %s", got)
	}
	if got := syncSenders(t, f, "@a", 0, true); got != "[@b=unavailable]" {
		t.Errorf("initial sync while the write waits: %s", got)
	}
	if got := f.get(t, "@a", "@b"); got != `{"presence":"unavailable","status_msg":"lunch"}` {
		t.Errorf("GET while the write waits: %s", got)
	}
	close(gate)
	f.flush(t)
	if got := f.store.row("@b"); got.State != Unavailable || got.StatusMsg != "lunch" || got.Pos != f.svc.Position() {
		t.Errorf("stored %+v at position %d", got, f.svc.Position())
	}
}

func TestFailedWritesAreRetriedAndBoundTheStream(t *testing.T) {
	f := newFixture(t, testSettings)
	f.svc.maxUnwritten = 3
	ctx := context.Background()
	f.store.failWrites(errors.New("disk full"))
	for _, st := range []string{Unavailable, Online, Unavailable} {
		if err := f.svc.SetState(ctx, "@b", "@b", "D", st, ""); err != nil {
			t.Fatalf("set %s: %v", st, err)
		}
	}
	// Three positions are not stored: a fourth would run past what a
	// restart skips.
	if err := f.svc.SetState(ctx, "@b", "@b", "D", Online, ""); err == nil {
		t.Fatal("a change past the bound was taken while writes fail")
	}
	if f.svc.Position() != 3 {
		t.Fatalf("position %d after a refused change, want 3", f.svc.Position())
	}
	f.store.failWrites(nil)
	if err := f.svc.SetState(ctx, "@b", "@b", "D", Online, "back"); err != nil {
		t.Fatal(err)
	}
	f.flush(t)
	if got := f.store.row("@b"); got.State != Online || got.StatusMsg != "back" || got.Pos != 4 {
		t.Errorf("stored %+v", got)
	}
}

func TestIncrementalSyncFromBeforeTheChangeLog(t *testing.T) {
	f := newFixture(t, testSettings)
	f.svc.maxChanges = 4
	ctx := context.Background()
	set := func(user, state string) {
		t.Helper()
		if err := f.svc.SetState(ctx, user, user, "D", state, ""); err != nil {
			t.Fatal(err)
		}
		f.flush(t)
	}
	set("@a", Unavailable)
	set("@c", Unavailable) // shares no room with @a
	for i := range 5 {
		set("@b", []string{Unavailable, Online}[i%2])
	}
	if f.svc.changesFloor < 2 {
		t.Fatalf("the change log still starts at %d", f.svc.changesFloor)
	}
	// @a's and @c's changes are only in the database now.
	if got := syncSenders(t, f, "@a", 0, false); got != "[@a=unavailable @b=unavailable]" {
		t.Errorf("from position 0: %s", got)
	}
	if got := syncSenders(t, f, "@a", f.svc.changesFloor, false); got != "[@b=unavailable]" {
		t.Errorf("from the log's start: %s", got)
	}
	if got := syncSenders(t, f, "@a", f.svc.Position(), false); got != "[]" {
		t.Errorf("from now: %s", got)
	}
}

func TestInitialSyncWithOfflineUsers(t *testing.T) {
	settings := testSettings
	settings.IncludeOfflineOnSync = true
	// @b is stored offline, so not in memory.
	f := newFixture(t, settings, storage.Presence{UserID: "@b", State: Offline, LastActiveTS: 5, Pos: 1})
	done := f.svc.Syncing(context.Background(), "@a", "D", Online)
	defer done()
	if got := syncSenders(t, f, "@a", 0, true); got != "[@a=online @b=offline]" {
		t.Errorf("with offline users: %s", got)
	}
	f.svc.settings.IncludeOfflineOnSync = false
	if got := syncSenders(t, f, "@a", 0, true); got != "[@a=online]" {
		t.Errorf("without: %s", got)
	}
}

// A new account has no stored presence: its first sync looks for none.
func TestANewAccountsFirstSyncReadsNoPresence(t *testing.T) {
	f := newFixture(t, testSettings)
	ctx := context.Background()
	f.svc.Registered("@new")
	f.svc.Syncing(ctx, "@new", "D1", Online)()
	if f.store.reads != 0 {
		t.Errorf("%d presence reads", f.store.reads)
	}
	if got := f.get(t, "@new", "@new"); got != `{"presence":"online","last_active_ago":0,"currently_active":true}` {
		t.Errorf("after the first sync: %s", got)
	}
}
