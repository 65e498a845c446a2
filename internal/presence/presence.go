// Package presence tracks whether users are online, idle (unavailable)
// or offline, with their status messages, and decides which changes are
// worth sending to the users who share a room with them.
//
// It follows Synapse's state machine. Each device has its own state; the
// user's is the most present of their devices'. A sync (with set_presence
// online or unavailable) or PUT /presence sets the device's state and
// counts as activity; activity elsewhere (typing, receipts) revives an
// idle device. Timers then move a device to unavailable after the idle
// timeout without activity, and drop it (offline once none is left) when
// it has not synced for the sync-online timeout. A user stays "currently
// active" for last_active_granularity after their last activity.
//
// Changes clients must hear about (state, status message, currently
// active, or last active time of a user who is not currently active) take
// the next position of the presence stream and take effect in memory at
// once; /sync reads them from there, so a sync is never a write on its
// path. A writer stores them just behind, and at most MaxUnwritten
// positions behind. Mere timestamp updates stay in memory until shutdown,
// as in Synapse. Each user has at most one timer, set for their next
// deadline: nothing polls.
package presence

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/axonhs/axon/internal/clock"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// Presence states.
const (
	Online      = "online"
	Unavailable = "unavailable"
	Offline     = "offline"
)

// Errors callers map to Matrix error codes.
var (
	ErrBadState = errors.New("presence: invalid presence state")
	// ErrNotSelf: users may only set their own presence.
	ErrNotSelf = errors.New("presence: can only set your own presence")
	// ErrNotVisible: the users share no room.
	ErrNotVisible = errors.New("presence: you are not allowed to see their presence")
)

// ValidState reports whether s is a presence state clients may set.
func ValidState(s string) bool { return s == Online || s == Unavailable || s == Offline }

// Settings are the presence section of homeserver.yaml.
type Settings struct {
	Enabled bool
	// Tracked is false for enabled: "untracked": presence is served, but
	// clients' requests and activity do not change it.
	Tracked bool
	// IncludeOfflineOnSync: include_offline_users_on_sync.
	IncludeOfflineOnSync  bool
	LastActiveGranularity time.Duration
	SyncOnlineTimeout     time.Duration
	IdleTimeout           time.Duration
}

// Store is the storage the service needs.
type Store interface {
	PresenceOf(ctx context.Context, userIDs []string) ([]storage.Presence, error)
	PresenceExcept(ctx context.Context, state string) ([]storage.Presence, error)
	PutPresence(ctx context.Context, rows []storage.Presence) error
	PresenceOfSharers(ctx context.Context, userID string, after, upTo int64) ([]storage.Presence, error)
	ShareRoom(ctx context.Context, a, b string) (bool, error)
}

// Members says which local users share a room, from memory.
type Members interface {
	SharesRoom(a, b string) bool
	// Sharers calls fn once for user and for each user sharing a room
	// with them; fn must not call back into Members.
	Sharers(user string, fn func(other string))
	RoomMembers(room string) []string
}

// MaxUnwritten bounds how far the presence stream may run ahead of what
// is stored: a change past it waits for the writer. The stream restarts
// this far past the highest stored position, so that after a crash no
// position a client was given is handed out again.
const MaxUnwritten = 1 << 16

// maxChanges is the number of recent changes kept for incremental syncs
// when they are all stored; a sync from before them reads the database.
const maxChanges = 1 << 14

// Service is the presence service.
type Service struct {
	store    Store
	members  Members
	settings Settings
	clock    clock.Clock
	seq      *streams.Sequence
	wake     func(userID string) // wakes the syncs of users sharing a room with userID
	log      *slog.Logger

	mu      sync.Mutex
	users   map[string]*user // everyone loaded since start-up
	syncing map[deviceKey]int
	closed  bool
	// unwritten are the users with a change clients hear of that is not
	// stored yet; every change at or below written is stored.
	unwritten map[string]struct{}
	written   int64
	// changes are the changes after changesFloor, in position order.
	changes      []posChange
	changesFloor int64
	// The bounds, MaxUnwritten and maxChanges but in tests.
	maxUnwritten, maxChanges int64

	flushMu  sync.Mutex    // one write at a time, so written only passes stored rows
	kick     chan struct{} // wakes the writer
	stop     chan struct{} // closed to stop the writer
	stopped  chan struct{} // closed when the writer has stopped
	flushing bool          // the writer runs
}

// posChange is a user's presence change at a stream position.
type posChange struct {
	pos  int64
	user string
}

// status is what other users see of a user.
type status struct {
	state           string
	statusMsg       string
	lastActive      int64 // ms; 0 if never active
	currentlyActive bool
}

type user struct {
	id string
	status
	lastSync int64
	pos      int64 // stream position of the last change sent to clients
	devices  map[string]*device
	timer    clock.Timer
	dirty    bool // changed in memory since it was last written
}

type device struct {
	state      string
	lastActive int64
	lastSync   int64
}

type deviceKey struct{ user, device string }

// New returns the service; seq is the presence stream's sequence, and
// should start MaxUnwritten past the highest stored position; wake is
// called with each user whose presence changed.
func New(store Store, members Members, settings Settings, clk clock.Clock, seq *streams.Sequence, wake func(userID string), log *slog.Logger) *Service {
	if wake == nil {
		wake = func(string) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := seq.Current()
	return &Service{
		store: store, members: members, settings: settings, clock: clk, seq: seq, wake: wake, log: log,
		users: map[string]*user{}, syncing: map[deviceKey]int{},
		unwritten: map[string]struct{}{}, written: start, changesFloor: start,
		maxUnwritten: MaxUnwritten, maxChanges: maxChanges,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
}

// tracked reports whether clients change presence.
func (s *Service) tracked() bool { return s.settings.Enabled && s.settings.Tracked }

// Position is the presence stream's current position.
func (s *Service) Position() int64 { return s.seq.Current() }

// Start loads the users who were not offline when the server stopped.
// Their devices are unknown, so each gets one stand-in device that times
// out like a real one, after a grace period for clients to reconnect. With
// presence disabled they are set offline instead, so clients stop showing
// a presence that will never change again (as Synapse does).
func (s *Service) Start(ctx context.Context) error {
	rows, err := s.store.PresenceExcept(ctx, Offline)
	if err != nil {
		return err
	}
	if !s.settings.Enabled {
		return s.setAllOffline(ctx, rows)
	}
	now := s.clock.Now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	for _, r := range rows {
		u := fromRow(r)
		if s.tracked() {
			u.devices[""] = &device{state: r.State, lastActive: r.LastActiveTS, lastSync: max(r.LastSyncTS, now)}
			s.schedule(u, now)
		}
		s.users[u.id] = u
	}
	s.flushing = true
	go s.writeBehind()
	return nil
}

func (s *Service) setAllOffline(ctx context.Context, rows []storage.Presence) error {
	if len(rows) == 0 {
		return nil
	}
	positions := make([]int64, len(rows))
	for i := range rows {
		positions[i] = s.seq.Reserve()
		rows[i].State, rows[i].CurrentlyActive, rows[i].Pos = Offline, false, positions[i]
	}
	err := s.store.PutPresence(ctx, rows)
	for _, p := range positions {
		s.seq.Finish(p)
	}
	return err
}

func fromRow(r storage.Presence) *user {
	return &user{
		id: r.UserID,
		status: status{
			state: r.State, statusMsg: r.StatusMsg, lastActive: r.LastActiveTS, currentlyActive: r.CurrentlyActive,
		},
		lastSync: r.LastSyncTS, pos: r.Pos, devices: map[string]*device{},
	}
}

func (u *user) row() storage.Presence {
	return storage.Presence{
		UserID: u.id, State: u.state, StatusMsg: u.statusMsg, LastActiveTS: u.lastActive,
		LastSyncTS: u.lastSync, CurrentlyActive: u.currentlyActive, Pos: u.pos,
	}
}

// Close stops the timers and the writer, and writes what changed only in
// memory.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	flushing := s.flushing
	s.mu.Unlock()
	if flushing {
		close(s.stop)
		<-s.stopped
	}
	s.mu.Lock()
	var rows []storage.Presence
	for _, u := range s.users {
		if u.timer != nil {
			u.timer.Stop()
			u.timer = nil
		}
		if u.dirty {
			rows = append(rows, u.row())
			u.dirty = false
		}
	}
	s.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	return s.store.PutPresence(ctx, rows)
}

// SetState serves PUT /presence/{userId}/status: the device's state and
// the user's status message (cleared when msg is "", as in Synapse).
func (s *Service) SetState(ctx context.Context, requester, target, deviceID, state, msg string) error {
	if requester != target {
		return ErrNotSelf
	}
	if !ValidState(state) {
		return ErrBadState
	}
	if !s.tracked() {
		return nil
	}
	return s.update(ctx, target, func(u *user, now int64) {
		u.setDevice(deviceID, state, now, false)
		u.statusMsg = msg
	})
}

// setDevice records a device's chosen state as activity (and as a sync
// when isSync) and recomputes the user's state.
func (u *user) setDevice(deviceID, state string, now int64, isSync bool) {
	d := u.device(deviceID)
	d.state, d.lastActive = state, now
	if isSync {
		d.lastSync = now
		u.lastSync = now
	}
	u.state = combine(u.devices)
	// Synapse counts a sync as activity, though the spec would not.
	if u.state == Online {
		u.lastActive = now
	}
}

func (u *user) device(id string) *device {
	d := u.devices[id]
	if d == nil {
		d = &device{state: Offline}
		u.devices[id] = d
	}
	return d
}

// Syncing records that a device is syncing with set_presence state (""
// means online, the default) until the returned function is called.
// Offline leaves presence alone, as in Synapse.
func (s *Service) Syncing(ctx context.Context, userID, deviceID, state string) (done func()) {
	if state == "" {
		state = Online
	}
	if !s.tracked() || state == Offline || !ValidState(state) {
		return func() {}
	}
	key := deviceKey{userID, deviceID}
	counted := false
	err := s.update(ctx, userID, func(u *user, now int64) {
		s.syncing[key]++
		counted = true
		u.setDevice(deviceID, state, now, true)
	})
	if err != nil {
		s.log.Warn("record presence of a sync", "user", userID, "err", err)
	}
	return func() {
		err := s.update(context.Background(), userID, func(u *user, now int64) {
			if counted {
				if s.syncing[key]--; s.syncing[key] <= 0 {
					delete(s.syncing, key)
				}
			}
			// The device was in touch until now: its offline timeout
			// starts here, not when the request came in.
			u.lastSync = now
			if d := u.devices[deviceID]; d != nil {
				d.lastSync = now
			}
		})
		if err != nil {
			s.log.Warn("record the end of a sync", "user", userID, "err", err)
		}
	}
}

// Bump records activity of a device (sending a receipt, typing): an idle
// device is online again.
func (s *Service) Bump(ctx context.Context, userID, deviceID string) {
	if !s.tracked() {
		return
	}
	err := s.update(ctx, userID, func(u *user, now int64) {
		d := u.device(deviceID)
		d.lastActive = now
		if d.state == Unavailable {
			d.state = Online
		}
		u.lastActive = now
		u.state = combine(u.devices)
	})
	if err != nil {
		s.log.Warn("record activity", "user", userID, "err", err)
	}
}

// priority orders states by how present they are.
var priority = map[string]int{Online: 3, Unavailable: 2, Offline: 1}

// combine is the user's state: that of their most present device, ties
// going to the most recently active one (Synapse's rule).
func combine(devices map[string]*device) string {
	state, last := Offline, int64(-1)
	for _, d := range devices {
		if p, q := priority[d.state], priority[state]; p > q || (p == q && d.lastActive > last) {
			state, last = d.state, d.lastActive
		}
	}
	return state
}

// update applies change to a user under the lock, settles the derived
// fields and the timer, and when clients must hear about the result gives
// it the next stream position, announces it and has it written behind.
func (s *Service) update(ctx context.Context, userID string, change func(u *user, now int64)) error {
	if err := s.load(ctx, userID); err != nil {
		return err
	}
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil // shutting down: nothing more is written
	}
	u := s.users[userID]
	now := s.clock.Now().UnixMilli()
	prev, prevSync := u.status, u.lastSync
	change(u, now)
	s.settle(u, now)
	if !s.shouldNotify(prev, u.status) {
		if u.status != prev || u.lastSync != prevSync {
			u.dirty = true
		}
		s.mu.Unlock()
		return nil
	}
	// Reserved and finished under the lock that guards memory, which is
	// where syncs read: a sync that sees the position sees the change.
	pos := s.seq.Reserve()
	s.seq.Finish(pos)
	u.pos, u.dirty = pos, true
	s.unwritten[userID] = struct{}{}
	s.changes = append(s.changes, posChange{pos, userID})
	s.mu.Unlock()

	select {
	case s.kick <- struct{}{}:
	default: // a write is due already
	}
	s.wake(userID)
	return nil
}

// catchUp writes the changes not yet stored when the stream is
// MaxUnwritten ahead of the database (the writer is failing or cannot
// keep up): positions must not run further ahead than a restart skips.
func (s *Service) catchUp(ctx context.Context) error {
	s.mu.Lock()
	behind := s.seq.Current()-s.written >= s.maxUnwritten
	s.mu.Unlock()
	if !behind {
		return nil
	}
	return s.flush(ctx)
}

// writeBehind stores changes as they come, each write taking all that
// came meanwhile; after a failure it tries again a second later.
func (s *Service) writeBehind() {
	defer close(s.stopped)
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		}
		if err := s.flush(context.Background()); err != nil {
			s.log.Warn("store presence", "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(time.Second):
			}
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
}

// flush stores the changes not stored yet.
func (s *Service) flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	upTo := s.seq.Current()
	rows := make([]storage.Presence, 0, len(s.unwritten))
	for id := range s.unwritten {
		u := s.users[id]
		rows = append(rows, u.row())
		u.dirty = false
	}
	clear(s.unwritten)
	s.mu.Unlock()

	if len(rows) > 0 {
		if err := s.store.PutPresence(ctx, rows); err != nil {
			s.mu.Lock()
			for _, r := range rows {
				s.unwritten[r.UserID] = struct{}{}
				s.users[r.UserID].dirty = true
			}
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Lock()
	s.written = max(s.written, upTo)
	s.trimChanges()
	s.mu.Unlock()
	return nil
}

// trimChanges drops the oldest half of the change log once it is full,
// as far as they are stored: syncs from before them read the database.
func (s *Service) trimChanges() {
	if int64(len(s.changes)) <= s.maxChanges {
		return
	}
	n := 0
	for n < len(s.changes)/2 && s.changes[n].pos <= s.written {
		n++
	}
	if n == 0 {
		return
	}
	s.changesFloor = s.changes[n-1].pos
	s.changes = slices.Delete(s.changes, 0, n)
}

// load brings a user's stored presence into memory (offline if none).
func (s *Service) load(ctx context.Context, userID string) error {
	s.mu.Lock()
	_, ok := s.users[userID]
	s.mu.Unlock()
	if ok {
		return nil
	}
	rows, err := s.store.PresenceOf(ctx, []string{userID})
	if err != nil {
		return err
	}
	u := &user{id: userID, status: status{state: Offline}, devices: map[string]*device{}}
	if len(rows) == 1 {
		u = fromRow(rows[0])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		s.users[userID] = u
	}
	return nil
}

// Registered notes a new account: it has no stored presence, so its
// first sync need not look for any.
func (s *Service) Registered(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		s.users[userID] = &user{id: userID, status: status{state: Offline}, devices: map[string]*device{}}
	}
}

// settle derives currently_active and sets the timer for the user's next
// deadline.
func (s *Service) settle(u *user, now int64) {
	u.currentlyActive = u.state == Online && now-u.lastActive < s.settings.LastActiveGranularity.Milliseconds()
	s.schedule(u, now)
}

func (s *Service) schedule(u *user, now int64) {
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	next, ok := s.nextDeadline(u)
	if !ok || s.closed {
		return
	}
	id := u.id
	u.timer = s.clock.AfterFunc(time.Duration(next-now)*time.Millisecond, func() { s.timeout(id) })
}

// nextDeadline is the earliest time at which a timer changes the user:
// a device going idle or offline, or currently_active ending. Each
// comparison here matches one in timeout, so that a deadline that has
// passed is always acted on there and cannot fire again.
func (s *Service) nextDeadline(u *user) (int64, bool) {
	if u.state == Offline {
		return 0, false // no timers for offline users (Synapse's rule)
	}
	next, ok := int64(0), false
	consider := func(t int64) {
		if !ok || t < next {
			next, ok = t, true
		}
	}
	if len(u.devices) == 0 {
		consider(0) // a state no device holds: settle it at once
	}
	for id, d := range u.devices {
		if d.state == Online {
			consider(d.lastActive + s.settings.IdleTimeout.Milliseconds())
		}
		if s.syncing[deviceKey{u.id, id}] == 0 {
			consider(max(d.lastSync, d.lastActive) + s.settings.SyncOnlineTimeout.Milliseconds())
		}
	}
	if u.currentlyActive {
		consider(u.lastActive + s.settings.LastActiveGranularity.Milliseconds())
	}
	return next, ok
}

// timeout applies the deadlines that have passed.
func (s *Service) timeout(userID string) {
	err := s.update(context.Background(), userID, func(u *user, now int64) {
		if u.state == Offline {
			return
		}
		changed := len(u.devices) == 0
		for id, d := range u.devices {
			if d.state == Online && now-d.lastActive >= s.settings.IdleTimeout.Milliseconds() {
				d.state = Unavailable
				changed = true
			}
			if s.syncing[deviceKey{userID, id}] == 0 && now-max(d.lastSync, d.lastActive) >= s.settings.SyncOnlineTimeout.Milliseconds() {
				delete(u.devices, id)
				changed = true
			}
		}
		if changed {
			u.state = combine(u.devices)
		}
	})
	if err != nil {
		s.log.Warn("apply presence timeout", "user", userID, "err", err)
	}
}

// shouldNotify is Synapse's should_notify: whether a change is worth
// sending to other users.
func (s *Service) shouldNotify(old, cur status) bool {
	if old == cur {
		return false
	}
	if old.statusMsg != cur.statusMsg || old.state != cur.state {
		return true
	}
	bumped := cur.lastActive-old.lastActive > s.settings.LastActiveGranularity.Milliseconds()
	if old.state == Online {
		return cur.currentlyActive != old.currentlyActive || (bumped && !cur.currentlyActive)
	}
	return bumped
}

// Content is the content of an m.presence event, and the body of GET
// /presence/{userId}/status.
type Content struct {
	Presence        string  `json:"presence"`
	LastActiveAgo   *int64  `json:"last_active_ago,omitempty"`
	StatusMsg       *string `json:"status_msg,omitempty"`
	CurrentlyActive *bool   `json:"currently_active,omitempty"`
}

func (st status) content(now int64) Content {
	c := Content{Presence: st.state}
	if st.lastActive > 0 {
		ago := max(now-st.lastActive, 0)
		c.LastActiveAgo = &ago
	}
	if st.statusMsg != "" {
		c.StatusMsg = &st.statusMsg
	}
	if st.state == Online {
		c.CurrentlyActive = &st.currentlyActive
	}
	return c
}

// Get serves GET /presence/{userId}/status: a user's presence, visible to
// themselves and to users who share a room with them.
func (s *Service) Get(ctx context.Context, requester, target string) (Content, error) {
	if !s.settings.Enabled {
		return Content{Presence: Offline}, nil // as Synapse answers
	}
	if requester != target {
		shared, err := s.store.ShareRoom(ctx, requester, target)
		if err != nil {
			return Content{}, err
		}
		if !shared {
			return Content{}, ErrNotVisible
		}
	}
	st, err := s.lookup(ctx, target)
	if err != nil {
		return Content{}, err
	}
	return st.content(s.clock.Now().UnixMilli()), nil
}

// lookup returns a user's status: from memory when loaded, else as
// stored (offline if never set). It does not load the user, so lookups
// do not fill memory.
func (s *Service) lookup(ctx context.Context, userID string) (status, error) {
	s.mu.Lock()
	u := s.users[userID]
	var st status
	if u != nil {
		st = u.status
	}
	s.mu.Unlock()
	if u != nil {
		return st, nil
	}
	rows, err := s.store.PresenceOf(ctx, []string{userID})
	if err != nil || len(rows) == 0 {
		return status{state: Offline}, err
	}
	return fromRow(rows[0]).status, nil
}

// overlay returns the status of each user of rows, from memory where
// loaded: it can be newer than what is stored.
func (s *Service) overlay(rows []storage.Presence) []status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]status, len(rows))
	for i, r := range rows {
		if u := s.users[r.UserID]; u != nil {
			out[i] = u.status
		} else {
			out[i] = fromRow(r).status
		}
	}
	return out
}

// ForSync returns the m.presence events for a sync of user: on an initial
// sync, everyone sharing a room with them (and themselves) who is not
// offline; on an incremental one, those whose presence changed in
// (after, upTo], and everyone in newRooms (rooms the user joined since).
func (s *Service) ForSync(ctx context.Context, userID string, after, upTo int64, initial bool, newRooms []string) ([]json.RawMessage, error) {
	if !s.settings.Enabled {
		return nil, nil
	}
	rows, err := s.syncRows(ctx, userID, after, upTo, initial, newRooms)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return s.events(rows, initial && !s.settings.IncludeOfflineOnSync)
}

// Current returns the m.presence events of users as they are now, for the
// members a user has just come to share a room with. Users whose presence
// was never set are offline, as Synapse answers for them.
func (s *Service) Current(ctx context.Context, userIDs []string) ([]json.RawMessage, error) {
	if !s.settings.Enabled || len(userIDs) == 0 {
		return nil, nil
	}
	rows, err := s.rowsOf(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(rows))
	for _, r := range rows {
		known[r.UserID] = true
	}
	for _, u := range userIDs {
		if !known[u] {
			rows = append(rows, storage.Presence{UserID: u, State: Offline})
		}
	}
	return s.events(rows, false)
}

// rowsOf returns the presence of those of userIDs that have one: from
// memory where loaded, else as stored.
func (s *Service) rowsOf(ctx context.Context, userIDs []string) ([]storage.Presence, error) {
	var rows []storage.Presence
	var missing []string
	s.mu.Lock()
	for _, id := range userIDs {
		if u := s.users[id]; u != nil {
			rows = append(rows, u.row())
		} else {
			missing = append(missing, id)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return rows, nil
	}
	stored, err := s.store.PresenceOf(ctx, missing)
	if err != nil {
		return nil, err
	}
	return append(rows, stored...), nil
}

// events renders the m.presence events of rows, sorted by user, with the
// newer status in memory where there is one.
func (s *Service) events(rows []storage.Presence, skipOffline bool) ([]json.RawMessage, error) {
	slices.SortFunc(rows, func(a, b storage.Presence) int { return cmp.Compare(a.UserID, b.UserID) })
	now := s.clock.Now().UnixMilli()
	var out []json.RawMessage
	for i, st := range s.overlay(rows) {
		if skipOffline && st.state == Offline {
			continue
		}
		ev, err := json.Marshal(struct {
			Type    string  `json:"type"`
			Sender  string  `json:"sender"`
			Content Content `json:"content"`
		}{"m.presence", rows[i].UserID, st.content(now)})
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func (s *Service) syncRows(ctx context.Context, userID string, after, upTo int64, initial bool, newRooms []string) ([]storage.Presence, error) {
	var rows []storage.Presence
	var err error
	switch {
	case initial:
		rows, err = s.sharersNow(ctx, userID, upTo)
	case after < upTo:
		rows, err = s.changedSharers(ctx, userID, after, upTo)
	}
	if err != nil || len(newRooms) == 0 {
		return rows, err
	}
	more, err := s.newRoomMembers(ctx, userID, newRooms)
	if err != nil {
		return nil, err
	}
	return mergeRows(rows, more), nil
}

// sharersNow is the presence, up to position upTo, of userID and of the
// users sharing a room with them. Everyone who is not offline is in
// memory; with offline users wanted, the stored ones are read too.
func (s *Service) sharersNow(ctx context.Context, userID string, upTo int64) ([]storage.Presence, error) {
	withOffline := s.settings.IncludeOfflineOnSync
	var rows []storage.Presence
	s.mu.Lock()
	s.members.Sharers(userID, func(other string) {
		if u := s.users[other]; u != nil && u.pos <= upTo && (withOffline || u.state != Offline) {
			rows = append(rows, u.row())
		}
	})
	s.mu.Unlock()
	if !withOffline {
		return rows, nil
	}
	stored, err := s.store.PresenceOfSharers(ctx, userID, 0, upTo)
	if err != nil {
		return nil, err
	}
	return mergeRows(rows, stored), nil
}

// changedSharers is the presence of userID and of the users sharing a
// room with them whose last change is in (after, upTo]: from the change
// log, and from the database for the part before the log starts.
func (s *Service) changedSharers(ctx context.Context, userID string, after, upTo int64) ([]storage.Presence, error) {
	var rows []storage.Presence
	s.mu.Lock()
	floor := s.changesFloor
	from := max(after, floor)
	i, _ := slices.BinarySearchFunc(s.changes, from+1, func(c posChange, pos int64) int { return cmp.Compare(c.pos, pos) })
	seen := map[string]bool{}
	for _, c := range s.changes[i:] {
		if c.pos > upTo {
			break
		}
		// A later change past upTo is for the next sync.
		u := s.users[c.user]
		if seen[c.user] || u.pos > upTo {
			continue
		}
		seen[c.user] = true
		if s.members.SharesRoom(userID, c.user) {
			rows = append(rows, u.row())
		}
	}
	s.mu.Unlock()
	if after >= floor {
		return rows, nil
	}
	stored, err := s.store.PresenceOfSharers(ctx, userID, after, min(floor, upTo))
	if err != nil {
		return nil, err
	}
	return mergeRows(rows, stored), nil
}

// newRoomMembers is the presence of the members of rooms the user just
// joined, except the user's own.
func (s *Service) newRoomMembers(ctx context.Context, userID string, roomIDs []string) ([]storage.Presence, error) {
	seen := map[string]bool{userID: true}
	var ids []string
	for _, r := range roomIDs {
		for _, m := range s.members.RoomMembers(r) {
			if !seen[m] {
				seen[m] = true
				ids = append(ids, m)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.rowsOf(ctx, ids)
}

// mergeRows appends to rows those of more whose user is not in rows.
func mergeRows(rows, more []storage.Presence) []storage.Presence {
	if len(more) == 0 {
		return rows
	}
	have := make(map[string]bool, len(rows))
	for _, r := range rows {
		have[r.UserID] = true
	}
	for _, m := range more {
		if !have[m.UserID] {
			have[m.UserID] = true
			rows = append(rows, m)
		}
	}
	return rows
}
