package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/axonhs/axon/internal/concurrent"
	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/push"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// Response is the body of a /sync answer.
type Response struct {
	NextBatch   string      `json:"next_batch"`
	AccountData EventList   `json:"account_data"`
	Presence    EventList   `json:"presence"`
	Rooms       RoomsResult `json:"rooms"`

	// End-to-end encryption (e2ee.go): the counts are present in every
	// response to a device, even when there are none.
	ToDevice                     *EventList     `json:"to_device,omitempty"`
	DeviceLists                  *DeviceLists   `json:"device_lists,omitempty"`
	DeviceOneTimeKeysCount       map[string]int `json:"device_one_time_keys_count,omitzero"`
	DeviceUnusedFallbackKeyTypes []string       `json:"device_unused_fallback_key_types,omitzero"`
}

// EventList is {"events": [...]}.
type EventList struct {
	Events []json.RawMessage `json:"events"`
}

// RoomsResult is the rooms section.
type RoomsResult struct {
	Join   map[string]*JoinedRoom  `json:"join"`
	Invite map[string]*InvitedRoom `json:"invite"`
	Leave  map[string]*LeftRoom    `json:"leave"`
	Knock  map[string]*KnockedRoom `json:"knock"`
}

// Timeline is a room's timeline section.
type Timeline struct {
	Events    json.RawMessage `json:"events"`
	Limited   bool            `json:"limited"`
	PrevBatch string          `json:"prev_batch,omitempty"`
}

// StateList is a state section of client events.
type StateList struct {
	Events json.RawMessage `json:"events"`
}

// JoinedRoom is one entry of rooms.join. It carries State, or StateAfter
// when the request set use_state_after.
type JoinedRoom struct {
	Timeline    Timeline       `json:"timeline"`
	State       *StateList     `json:"state,omitempty"`
	StateAfter  *StateList     `json:"state_after,omitempty"`
	AccountData EventList      `json:"account_data"`
	Ephemeral   EventList      `json:"ephemeral"`
	Summary     *rooms.Summary `json:"summary,omitempty"`

	UnreadNotifications       *push.NotificationCounts           `json:"unread_notifications,omitempty"`
	UnreadThreadNotifications map[string]push.NotificationCounts `json:"unread_thread_notifications,omitempty"`
}

// InvitedRoom is one entry of rooms.invite.
type InvitedRoom struct {
	InviteState EventList `json:"invite_state"`
}

// KnockedRoom is one entry of rooms.knock.
type KnockedRoom struct {
	KnockState EventList `json:"knock_state"`
}

// LeftRoom is one entry of rooms.leave, with State or StateAfter as a
// joined room.
type LeftRoom struct {
	Timeline    Timeline   `json:"timeline"`
	State       *StateList `json:"state,omitempty"`
	StateAfter  *StateList `json:"state_after,omitempty"`
	AccountData EventList  `json:"account_data"`
}

func emptyResponse(cur streams.Token) *Response {
	return &Response{
		NextBatch:   cur.String(),
		AccountData: EventList{Events: []json.RawMessage{}},
		Presence:    EventList{Events: []json.RawMessage{}},
		Rooms: RoomsResult{
			Join: map[string]*JoinedRoom{}, Invite: map[string]*InvitedRoom{},
			Leave: map[string]*LeftRoom{}, Knock: map[string]*KnockedRoom{},
		},
	}
}

// empty reports whether the response carries nothing for the client.
// Key counts are not news: they come with every response.
func (r *Response) empty() bool {
	return len(r.AccountData.Events) == 0 && len(r.Presence.Events) == 0 && len(r.Rooms.Join) == 0 &&
		len(r.Rooms.Invite) == 0 && len(r.Rooms.Leave) == 0 && len(r.Rooms.Knock) == 0 &&
		r.ToDevice == nil && r.DeviceLists.empty()
}

// defaultTimelineLimit is Synapse's timeline limit without a filter.
const (
	defaultTimelineLimit = 10
	maxTimelineLimit     = 1000
)

// compute builds the response for the streams between req.Since and cur.
func (s *Service) compute(ctx context.Context, req Request, cur streams.Token) (*Response, error) {
	resp := emptyResponse(cur)
	var since streams.Token
	if req.Since != nil {
		since = *req.Since
	}
	// Independent reads go out together: on PostgreSQL each is a round
	// trip.
	var (
		roomData    map[string][]json.RawMessage
		ignored     map[string]bool
		memberships []storage.Membership
		receipts    map[string]json.RawMessage
	)
	reads := []func() error{
		func() (err error) { roomData, err = s.accountDataSection(ctx, req, since, cur, resp); return err },
		func() (err error) { ignored, err = s.rooms.IgnoredUsers(ctx, req.User); return err },
		func() (err error) { memberships, err = s.store.UserMemberships(ctx, req.User); return err },
	}
	if rs := s.ephemeral.Receipts; rs != nil && req.Since == nil {
		// An initial sync wants the receipts of every joined room, which
		// need not wait for the list of rooms.
		user := req.User
		reads = append(reads, func() (err error) { receipts, err = rs.ForSync(ctx, user, 0, cur.Receipts, nil); return err })
	}
	if err := concurrent.Run(reads...); err != nil {
		return nil, err
	}
	req.ignored, req.receipts = ignored, receipts
	var roomFilter *filter.RoomFilter
	if req.Filter != nil {
		roomFilter = req.Filter.Room
	}
	isFresh, err := s.freshRooms(ctx, req, since, memberships, roomFilter)
	if err != nil {
		return nil, err
	}
	joined, fresh := joinedRooms(memberships, roomFilter, isFresh)
	early := s.startCounts(ctx, req, joined)
	ephemeral, err := s.ephemeralEvents(ctx, req, since, cur, joined, fresh)
	if err != nil {
		return nil, err
	}
	if s.trackMembers(req) && (req.Since == nil || req.FullState) {
		// The client starts afresh (or may have): it holds no members.
		s.members.reset(deviceKey{req.User, req.DeviceID})
	}
	req.newMembers = map[string]bool{}
	for _, m := range memberships {
		if !roomFilter.IncludesRoom(m.RoomID) {
			continue
		}
		extra := roomExtras{accountData: roomData[m.RoomID], ephemeral: ephemeral[m.RoomID], fresh: isFresh[m.RoomID]}
		if err := s.syncMembership(ctx, req, since, cur, m, extra, resp); err != nil {
			return nil, fmt.Errorf("sync room %s: %w", m.RoomID, err)
		}
	}
	// These fill different parts of resp.
	var (
		toDevicePos int64
		c           counts
	)
	err = concurrent.Run(
		func() (err error) {
			if early != nil {
				c, err = early()
			} else {
				c, err = s.readCounts(ctx, req, slices.Collect(maps.Keys(resp.Rooms.Join)))
			}
			return err
		},
		func() error { return s.presenceSection(ctx, req, since, cur, fresh, resp) },
		func() (err error) {
			toDevicePos, err = s.e2eeSections(ctx, req, since, cur, memberships, resp)
			return err
		},
	)
	if err != nil {
		return nil, err
	}
	applyCounts(req, resp, c)
	// Messages beyond one response's share wait for the next sync.
	next := cur
	next.ToDevice = toDevicePos
	resp.NextBatch = next.String()
	return resp, nil
}

// roomExtras are a room's per-user additions to its timeline and state.
type roomExtras struct {
	accountData []json.RawMessage
	ephemeral   []json.RawMessage
	// fresh: the user joined the room since the token (or this is an
	// initial sync), so it is sent as on an initial sync.
	fresh bool
}

// freshRooms finds the joined rooms new to the client: all on an initial
// sync, else those the user joined since the token, or left and joined
// again (Synapse's rule). A member who only changed their profile since
// stayed joined: their room is not sent afresh.
func (s *Service) freshRooms(ctx context.Context, req Request, since streams.Token, ms []storage.Membership, rf *filter.RoomFilter) (map[string]bool, error) {
	fresh := map[string]bool{}
	for _, m := range ms {
		if m.Membership != rooms.MembershipJoin || !rf.IncludesRoom(m.RoomID) {
			continue
		}
		if req.Since == nil {
			fresh[m.RoomID] = true
			continue
		}
		if m.Pos <= since.Events {
			continue
		}
		newly, err := s.rooms.NewlyJoined(ctx, m.EventID, since.Events)
		if err != nil {
			return nil, fmt.Errorf("membership history in %s: %w", m.RoomID, err)
		}
		fresh[m.RoomID] = newly
	}
	return fresh, nil
}

// joinedRooms lists the joined rooms the filter lets through, and among
// them those new to the client.
func joinedRooms(ms []storage.Membership, rf *filter.RoomFilter, isFresh map[string]bool) (joined, fresh []string) {
	for _, m := range ms {
		if m.Membership != rooms.MembershipJoin || !rf.IncludesRoom(m.RoomID) {
			continue
		}
		joined = append(joined, m.RoomID)
		if isFresh[m.RoomID] {
			fresh = append(fresh, m.RoomID)
		}
	}
	return joined, fresh
}

// accountDataSection fills the global account data and returns the
// per-room documents, for the room sections.
func (s *Service) accountDataSection(ctx context.Context, req Request, since, cur streams.Token, resp *Response) (map[string][]json.RawMessage, error) {
	entries, err := s.store.AccountDataSince(ctx, req.User, since.AccountData, cur.AccountData)
	if err != nil {
		return nil, err
	}
	var globalFilter *filter.EventFilter
	var roomFilter *filter.RoomEventFilter
	if req.Filter != nil {
		globalFilter = req.Filter.AccountData
		if req.Filter.Room != nil {
			roomFilter = req.Filter.Room.AccountData
		}
	}
	perRoom := map[string][]json.RawMessage{}
	if req.Since == nil && s.counts != nil && globalFilter.Matches("m.push_rules", req.User) {
		// Synapse always sends the push rules on an initial sync, even to
		// users who never changed one (and so have no stored document).
		ev, err := s.counts.RulesEvent(ctx, req.User)
		if err != nil {
			return nil, err
		}
		resp.AccountData.Events = append(resp.AccountData.Events, ev)
	}
	for _, e := range entries {
		if req.Since == nil && s.counts != nil && e.RoomID == "" && e.Type == "m.push_rules" {
			continue // sent above, from the rules themselves
		}
		content := e.Content
		if len(content) == 0 {
			content = []byte("{}") // deleted
		}
		ev, err := json.Marshal(struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}{e.Type, content})
		if err != nil {
			return nil, err
		}
		if e.RoomID == "" {
			if globalFilter.Matches(e.Type, req.User) {
				resp.AccountData.Events = append(resp.AccountData.Events, ev)
			}
		} else if roomFilter.MatchesEvent(e.RoomID, e.Type, req.User, false) {
			perRoom[e.RoomID] = append(perRoom[e.RoomID], ev)
		}
	}
	return perRoom, nil
}

// syncMembership adds one room to the section its membership puts it in.
func (s *Service) syncMembership(ctx context.Context, req Request, since, cur streams.Token, m storage.Membership, extra roomExtras, resp *Response) error {
	initial := req.Since == nil
	changed := m.Pos > since.Events // the membership itself is news
	switch m.Membership {
	case rooms.MembershipJoin:
		from := since.Events
		if initial || extra.fresh {
			from = 0 // newly joined: the room as if on an initial sync
		}
		return s.joinedRoom(ctx, req, from, cur, m.RoomID, extra, resp)
	case rooms.MembershipInvite, rooms.MembershipKnock:
		if !initial && !changed {
			return nil
		}
		// The stripped state of the room, with the user's own member event:
		// invite_state for an invite, knock_state for a knock.
		state, err := s.rooms.InviteState(ctx, req.User, m.RoomID)
		if err != nil {
			return err
		}
		if m.Membership == rooms.MembershipInvite && req.ignored[inviter(state, req.User)] {
			return nil // invites from ignored users are not passed on
		}
		if m.Membership == rooms.MembershipKnock {
			resp.Rooms.Knock[m.RoomID] = &KnockedRoom{KnockState: EventList{Events: nonNil(state)}}
		} else {
			resp.Rooms.Invite[m.RoomID] = &InvitedRoom{InviteState: EventList{Events: nonNil(state)}}
		}
	case rooms.MembershipLeave, rooms.MembershipBan:
		wantLeave := req.Filter != nil && req.Filter.Room.WantsLeave()
		if (initial && !wantLeave) || (!initial && !changed) {
			return nil
		}
		return s.leftRoom(ctx, req, since, cur, m, extra.accountData, resp)
	}
	return nil
}

func (s *Service) joinedRoom(ctx context.Context, req Request, from int64, cur streams.Token, roomID string, extra roomExtras, resp *Response) error {
	slice, err := s.rooms.SyncRoom(ctx, s.sliceRequest(req, roomID, from, cur.Events))
	if err != nil {
		return err
	}
	if from > 0 && !req.FullState && len(slice.Timeline) == 0 && len(slice.State) == 0 &&
		len(extra.accountData) == 0 && len(extra.ephemeral) == 0 {
		return nil // nothing new in this room
	}
	jr := &JoinedRoom{
		Timeline:    s.timeline(req, slice),
		AccountData: EventList{Events: nonNil(extra.accountData)},
		Ephemeral:   EventList{Events: nonNil(extra.ephemeral)},
	}
	if from == 0 || memberChange(slice, from) {
		sum, err := s.rooms.RoomSummary(ctx, req.User, roomID)
		if err != nil {
			return err
		}
		jr.Summary = &sum
		if slice.State, err = s.addHeroes(ctx, req, roomID, from, cur, sum.Heroes, slice); err != nil {
			return err
		}
	}
	jr.State, jr.StateAfter = s.stateSection(req, slice.State)
	s.noteMembersSent(req, roomID, cur, slice)
	if from > 0 {
		noteNewMembers(req, slice)
	}
	resp.Rooms.Join[roomID] = jr
	return nil
}

func (s *Service) leftRoom(ctx context.Context, req Request, since, cur streams.Token, m storage.Membership, accountData []json.RawMessage, resp *Response) error {
	slice, err := s.rooms.SyncRoom(ctx, s.sliceRequest(req, m.RoomID, since.Events, m.Pos))
	if err != nil {
		return err
	}
	lr := &LeftRoom{Timeline: s.timeline(req, slice), AccountData: EventList{Events: nonNil(accountData)}}
	lr.State, lr.StateAfter = s.stateSection(req, slice.State)
	s.noteMembersSent(req, m.RoomID, cur, slice)
	resp.Rooms.Leave[m.RoomID] = lr
	return nil
}

// stateSection renders a room's state as state, or as state_after when
// the request asked for it.
func (s *Service) stateSection(req Request, evs []*rooms.Event) (state, after *StateList) {
	list := &StateList{Events: rooms.ClientEvents(evs, s.format(req))}
	if req.UseStateAfter {
		return nil, list
	}
	return list, nil
}

func (s *Service) sliceRequest(req Request, roomID string, from, upTo int64) rooms.SliceRequest {
	sr := rooms.SliceRequest{
		User: req.User, RoomID: roomID, Since: from, UpTo: upTo, Limit: defaultTimelineLimit,
		FullState: req.FullState, Ignored: req.ignored, StateAfter: req.UseStateAfter,
		KnownMember: s.knownMember(req, roomID),
	}
	if req.Filter != nil && req.Filter.Room != nil {
		sr.Timeline, sr.State = req.Filter.Room.Timeline, req.Filter.Room.State
		if sr.Timeline != nil {
			sr.Limit = sr.Timeline.LimitOr(defaultTimelineLimit, maxTimelineLimit)
			if l := sr.Timeline.Limit; l != nil && *l == 0 {
				sr.Limit = 0 // no timeline at all, as Synapse allows
			}
		}
	}
	return sr
}

func (s *Service) timeline(req Request, slice rooms.RoomSlice) Timeline {
	return Timeline{
		Events:    rooms.ClientEvents(slice.Timeline, s.format(req)),
		Limited:   slice.Limited,
		PrevBatch: streams.Token{Events: slice.PrevBatch}.String(),
	}
}

func (s *Service) format(req Request) rooms.Format {
	return rooms.Format{NowMS: s.now().UnixMilli(), OmitRoomID: true, UserID: req.User, DeviceID: req.DeviceID}
}

// memberChange reports whether the slice changes the room's members
// after position from, so the summary must be sent again. Lazy-loaded
// member events that did not change since do not count.
func memberChange(slice rooms.RoomSlice, from int64) bool {
	for _, list := range [][]*rooms.Event{slice.Timeline, slice.State} {
		for _, ev := range list {
			if ev.Type == typeMember && ev.Pos > from {
				return true
			}
		}
	}
	return false
}

func nonNil(l []json.RawMessage) []json.RawMessage {
	if l == nil {
		return []json.RawMessage{}
	}
	return l
}

// inviter finds who sent user's invite in a room's stripped state.
func inviter(stripped []json.RawMessage, user string) string {
	for _, ev := range stripped {
		var e struct {
			Type     string `json:"type"`
			StateKey string `json:"state_key"`
			Sender   string `json:"sender"`
		}
		if json.Unmarshal(ev, &e) == nil && e.Type == "m.room.member" && e.StateKey == user {
			return e.Sender
		}
	}
	return ""
}

// counts are a response's unread notification counts (by room) and its
// device's key counts.
type counts struct {
	unread map[string]push.Counts
	keys   *storage.KeyCounts
}

// readCounts reads the unread counts of rooms, in one query, and the
// device's key counts.
func (s *Service) readCounts(ctx context.Context, req Request, rooms []string) (counts, error) {
	var c counts
	err := concurrent.Run(
		func() (err error) {
			if s.counts != nil && len(rooms) > 0 {
				c.unread, err = s.counts.Counts(ctx, req.User, rooms)
			}
			return err
		},
		func() error {
			if s.e2ee.Keys == nil || req.DeviceID == "" {
				return nil
			}
			k, err := s.e2ee.Keys.Counts(ctx, req.User, req.DeviceID)
			c.keys = &k
			return err
		},
	)
	return c, err
}

// startCounts reads an initial sync's counts while its rooms are being
// built: they cover every joined room it lists, known from the start. It
// returns the wait for them; an incremental sync reads them afterwards,
// for the rooms its response lists.
func (s *Service) startCounts(ctx context.Context, req Request, joined []string) func() (counts, error) {
	if req.Since != nil {
		return nil
	}
	done := make(chan struct{})
	var c counts
	var err error
	go func() {
		defer close(done)
		c, err = s.readCounts(ctx, req, joined)
	}()
	return func() (counts, error) {
		<-done
		return c, err
	}
}

// applyCounts fills the unread notification counts of the joined rooms in
// the response and the device's key counts. With
// unread_thread_notifications the room count is the main timeline's and
// threads are counted apart.
func applyCounts(req Request, resp *Response, c counts) {
	if c.keys != nil {
		resp.DeviceOneTimeKeysCount, resp.DeviceUnusedFallbackKeyTypes = c.keys.OneTimeKeys, c.keys.UnusedFallback
	}
	if c.unread == nil {
		return // no unread counts kept, or no room to count
	}
	var timeline *filter.RoomEventFilter
	if req.Filter != nil && req.Filter.Room != nil {
		timeline = req.Filter.Room.Timeline
	}
	threaded := timeline != nil && timeline.UnreadThreadNotifs != nil && *timeline.UnreadThreadNotifs
	for roomID, jr := range resp.Rooms.Join {
		c := c.unread[roomID]
		n := c.Total()
		if threaded {
			n = c.Main
			jr.UnreadThreadNotifications = c.Threads
		}
		jr.UnreadNotifications = &n
	}
}
