package syncer

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// ToDevice is what sync needs of the to-device messages.
type ToDevice interface {
	Position() int64
	// Ack deletes the device's messages up to upTo: its token shows it
	// has them.
	Ack(ctx context.Context, user, device string, upTo int64) error
	// ForSync returns the device's messages in (after, upTo] and the
	// position the next sync continues from.
	ForSync(ctx context.Context, user, device string, after, upTo int64) ([]json.RawMessage, int64, error)
}

// Keys is what sync needs of the keys service.
type Keys interface {
	Position() int64
	// Counts are a device's unclaimed one-time keys and unused fallback
	// key algorithms.
	Counts(ctx context.Context, user, device string) (storage.KeyCounts, error)
	// Changed lists the users whose devices changed in (after, upTo],
	// and those whose master keys user signed then.
	Changed(ctx context.Context, user string, after, upTo int64) (changed, signed []string, err error)
}

// E2EE are the sources of the end-to-end encryption sections of a sync.
type E2EE struct {
	ToDevice ToDevice
	Keys     Keys
}

// WithE2EE adds to-device messages, key counts and device lists to sync;
// call it before Start.
func (s *Service) WithE2EE(e E2EE) *Service {
	s.e2ee = e
	return s
}

// DeviceLists is the device_lists section: users whose devices the
// client should look at again, and users it no longer shares a room with.
type DeviceLists struct {
	Changed []string `json:"changed,omitempty"`
	Left    []string `json:"left,omitempty"`
}

func (d *DeviceLists) empty() bool { return d == nil || len(d.Changed) == 0 && len(d.Left) == 0 }

// memberTracker remembers the position of each room's latest member
// event since start, so that device lists skip rooms whose members did
// not change without a query.
type memberTracker struct {
	mu      sync.Mutex
	started bool
	floor   int64 // positions at or below it are not tracked
	last    map[string]int64
}

// start begins answering for positions after floor; call it once
// commits are being noted, so that none after floor is missed.
func (m *memberTracker) start(floor int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started, m.floor = true, floor
}

func (m *memberTracker) note(room string, pos int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[string]int64{}
	}
	m.last[room] = max(m.last[room], pos)
}

// changedSince reports whether room may have member events after pos.
func (m *memberTracker) changedSince(room string, pos int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.started || pos < m.floor || m.last[room] > pos
}

// ackToDevice deletes the messages the request's token shows the device
// has, before anything else: they must not be sent twice.
func (s *Service) ackToDevice(ctx context.Context, req Request) error {
	if s.e2ee.ToDevice == nil || req.DeviceID == "" || req.Since == nil || req.Since.ToDevice == 0 {
		return nil
	}
	return s.e2ee.ToDevice.Ack(ctx, req.User, req.DeviceID, req.Since.ToDevice)
}

// e2eeSections fills to_device and device_lists, and returns the
// position the to-device stream continues from.
func (s *Service) e2eeSections(ctx context.Context, req Request, since, cur streams.Token, ms []storage.Membership, resp *Response) (int64, error) {
	next := cur.ToDevice
	if td := s.e2ee.ToDevice; td != nil && req.DeviceID != "" {
		evs, n, err := td.ForSync(ctx, req.User, req.DeviceID, since.ToDevice, cur.ToDevice)
		if err != nil {
			return 0, err
		}
		if len(evs) > 0 {
			resp.ToDevice = &EventList{Events: evs}
		}
		next = n
	}
	if s.e2ee.Keys != nil && req.Since != nil {
		dl, err := s.deviceLists(ctx, req.User, since, cur, ms)
		if err != nil {
			return 0, err
		}
		if !dl.empty() {
			resp.DeviceLists = dl
		}
	}
	return next, nil
}

// DeviceLists computes device_lists for user between two tokens: the
// users whose devices changed and who share a room with user, whose
// master keys user signed, or who newly share a room with user; and the
// users who no longer share any room with user. It is /keys/changes too.
func (s *Service) DeviceLists(ctx context.Context, user string, since, upTo streams.Token) (*DeviceLists, error) {
	ms, err := s.store.UserMemberships(ctx, user)
	if err != nil {
		return nil, err
	}
	return s.deviceLists(ctx, user, since, upTo, ms)
}

func (s *Service) deviceLists(ctx context.Context, user string, since, cur streams.Token, ms []storage.Membership) (*DeviceLists, error) {
	changed, left := map[string]bool{}, map[string]bool{}
	if err := s.keyChanges(ctx, user, since, cur, changed); err != nil {
		return nil, err
	}
	if since.Events < cur.Events {
		if err := s.memberChanges(ctx, user, since.Events, cur.Events, ms, changed, left); err != nil {
			return nil, err
		}
	}
	out := &DeviceLists{Changed: slices.Sorted(maps.Keys(changed))}
	for _, u := range slices.Sorted(maps.Keys(left)) {
		// Users still met in another room stay tracked.
		if u != user && !changed[u] && !s.notifier.SharesRoom(user, u) {
			out.Left = append(out.Left, u)
		}
	}
	return out, nil
}

// keyChanges adds the users whose devices or keys changed since the token
// and whom user shares a room with, and those user signed.
func (s *Service) keyChanges(ctx context.Context, user string, since, cur streams.Token, changed map[string]bool) error {
	if since.DeviceLists >= cur.DeviceLists {
		return nil
	}
	users, signed, err := s.e2ee.Keys.Changed(ctx, user, since.DeviceLists, cur.DeviceLists)
	if err != nil {
		return err
	}
	for _, u := range users {
		if s.notifier.SharesRoom(user, u) {
			changed[u] = true
		}
	}
	for _, u := range signed {
		changed[u] = true
	}
	return nil
}

// memberChanges adds the users who newly share a room with user to
// changed, and those who stopped sharing one to left (before the check
// for other rooms). Membership comes from the room state at both
// positions, not from the events a response carries, which lazy loading
// and limited timelines leave out.
func (s *Service) memberChanges(ctx context.Context, user string, since, cur int64, ms []storage.Membership, changed, left map[string]bool) error {
	var watch []string
	for _, m := range ms {
		switch {
		case m.Membership == rooms.MembershipJoin && m.Pos > since:
			newly, err := s.rooms.NewlyJoined(ctx, m.EventID, since)
			if err != nil {
				return err
			}
			if newly {
				addAll(changed, s.notifier.RoomMembers(m.RoomID))
				continue
			}
			watch = append(watch, m.RoomID)
		case m.Membership == rooms.MembershipJoin:
			if s.memberPos.changedSince(m.RoomID, since) {
				watch = append(watch, m.RoomID)
			}
		case m.Pos > since && (m.Membership == rooms.MembershipLeave || m.Membership == rooms.MembershipBan):
			was, err := s.membershipAt(ctx, m.RoomID, since, []string{user})
			if err != nil {
				return err
			}
			if was[user] == rooms.MembershipJoin {
				addAll(left, s.notifier.RoomMembers(m.RoomID))
			}
		}
	}
	if len(watch) == 0 {
		return nil
	}
	changers, err := s.store.MembershipChangers(ctx, watch, since, cur)
	if err != nil {
		return err
	}
	for room, users := range changers {
		if err := s.roomMemberChanges(ctx, room, users, since, cur, changed, left); err != nil {
			return err
		}
	}
	return nil
}

// roomMemberChanges compares the memberships of users in a room the user
// stayed in at both positions.
func (s *Service) roomMemberChanges(ctx context.Context, room string, users []string, since, cur int64, changed, left map[string]bool) error {
	before, err := s.membershipAt(ctx, room, since, users)
	if err != nil {
		return err
	}
	after, err := s.membershipAt(ctx, room, cur, users)
	if err != nil {
		return err
	}
	for _, u := range users {
		switch {
		case !present(before[u]) && present(after[u]):
			changed[u] = true
		case before[u] == rooms.MembershipJoin && after[u] != rooms.MembershipJoin:
			left[u] = true
		}
	}
	return nil
}

// present: members, invitees and knockers have devices the client tracks
// (Synapse's rule for "newly joined" users).
func present(membership string) bool {
	return membership == rooms.MembershipJoin || membership == rooms.MembershipInvite || membership == rooms.MembershipKnock
}

// membershipAt returns users' memberships in a room at a position.
func (s *Service) membershipAt(ctx context.Context, room string, pos int64, users []string) (map[string]string, error) {
	evs, err := s.rooms.MemberEventsAt(ctx, room, pos, users)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(evs))
	for _, ev := range evs {
		content, _ := rawjson.Lookup(ev.PDU, "content")
		m, _ := rawjson.LookupString(content, "membership")
		if ev.StateKey != nil {
			out[*ev.StateKey] = m
		}
	}
	return out, nil
}

func addAll(set map[string]bool, users []string) {
	for _, u := range users {
		set[u] = true
	}
}
