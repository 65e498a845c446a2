package authrules

import (
	"encoding/json"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// roomState answers the questions the rules ask of the room state, reading
// contents lazily. One is built per check.
type roomState struct {
	v      roomversion.Version
	get    StateProvider
	create Event // never nil once the create rules have passed
	pl     Event // current m.room.power_levels, or nil
	plRead bool
}

func newRoomState(v roomversion.Version, get StateProvider, create Event) *roomState {
	return &roomState{v: v, get: get, create: create}
}

func (s *roomState) powerLevels() Event {
	if !s.plRead {
		s.pl = s.get(StateKey{TypePowerLevels, ""})
		s.plRead = true
	}
	return s.pl
}

// membership returns user's current membership; "leave" when the user has
// no m.room.member event or its membership is not a string.
func (s *roomState) membership(user string) string {
	m := s.get(StateKey{TypeMember, user})
	if m == nil {
		return MembershipLeave
	}
	return membershipOf(m.Content())
}

// membershipOf reads content.membership, returning "leave" when absent.
func membershipOf(content []byte) string {
	raw, ok := rawjson.Lookup(content, "membership")
	if !ok {
		return MembershipLeave
	}
	for _, m := range [...]string{MembershipJoin, MembershipLeave, MembershipInvite, MembershipBan, MembershipKnock} {
		if rawjson.StringEquals(raw, m) {
			return m
		}
	}
	if s, ok := rawjson.StringValue(raw); ok {
		return s
	}
	return MembershipLeave
}

// joinRule returns the current join rule. A room without m.room.join_rules
// is treated as invite-only, as the other implementations do; the spec
// leaves the default unstated.
func (s *roomState) joinRule() string {
	jr := s.get(StateKey{TypeJoinRules, ""})
	if jr == nil {
		return JoinRuleInvite
	}
	raw, ok := rawjson.Lookup(jr.Content(), "join_rule")
	if !ok {
		return JoinRuleInvite
	}
	for _, r := range [...]string{JoinRulePublic, JoinRuleInvite, JoinRuleKnock, JoinRuleRestricted, JoinRuleKnockRestricted} {
		if rawjson.StringEquals(raw, r) {
			return r
		}
	}
	rule, _ := rawjson.StringValue(raw)
	return rule
}

// creator returns the room creator of room versions 1–11: content.creator
// of the create event, or from v11 (MSC2175) its sender.
func (s *roomState) creator() string {
	return creatorOf(s.v, s.create)
}

func creatorOf(v roomversion.Version, create Event) string {
	if v.CreatorInSender() {
		return create.Sender()
	}
	c, _ := rawjson.LookupString(create.Content(), "creator")
	return c
}

// isPrivilegedCreator reports whether user is one of the room creators of
// room version 12 (MSC4289): the create event's sender or one of
// content.additional_creators.
func (s *roomState) isPrivilegedCreator(user string) bool {
	if !s.v.PrivilegedCreators() {
		return false
	}
	if user == s.create.Sender() {
		return true
	}
	raw, ok := rawjson.Lookup(s.create.Content(), "additional_creators")
	if !ok {
		return false
	}
	found := false
	rawjson.ArrayEach(raw, func(elem []byte) bool {
		if rawjson.StringEquals(elem, user) {
			found = true
			return false
		}
		return true
	})
	return found
}

// userLevel returns user's power level ("Power levels are inferred from
// defaults when not explicitly supplied").
func (s *roomState) userLevel(user string) int64 {
	if s.isPrivilegedCreator(user) {
		return infiniteLevel
	}
	pl := s.powerLevels()
	if pl == nil {
		// No m.room.power_levels: the creator has 100 and everyone else 0
		// (v1–v11); in v12 the creators are infinite, handled above.
		if !s.v.PrivilegedCreators() && user == s.creator() {
			return defaultCreatorLevel
		}
		return defaultUsers
	}
	return UserLevel(s.v, pl.Content(), user)
}

// UserLevel returns the power level that the content of an
// m.room.power_levels event gives user: users[user], else users_default,
// else 0. Values are read as stored state is read in room version v: an
// invalid value counts as absent. Room creators' infinite power in room
// version 12 is not the content's business; callers check that first.
func UserLevel(v roomversion.Version, powerLevels json.RawMessage, user string) int64 {
	if users, ok := rawjson.Lookup(powerLevels, "users"); ok && rawjson.IsObject(users) {
		if l, ok := levelIn(v, users, user); ok {
			return l
		}
	}
	if l, ok := levelIn(v, powerLevels, "users_default"); ok {
		return l
	}
	return defaultUsers
}

// namedLevel returns the level of a top-level property such as "invite" or
// "ban", or def.
func (s *roomState) namedLevel(key string, def int64) int64 {
	pl := s.powerLevels()
	if pl == nil {
		return def
	}
	if l, ok := levelIn(s.v, pl.Content(), key); ok {
		return l
	}
	return def
}

// sendLevel is the "required power level" of an event type: events[type],
// else state_default for state events and events_default for others.
func (s *roomState) sendLevel(evType string, state bool) int64 {
	pl := s.powerLevels()
	def := int64(defaultEvents)
	if state {
		def = defaultState
	}
	if pl == nil {
		return def
	}
	c := pl.Content()
	if events, ok := rawjson.Lookup(c, "events"); ok && rawjson.IsObject(events) {
		if l, ok := levelIn(s.v, events, evType); ok {
			return l
		}
	}
	key := "events_default"
	if state {
		key = "state_default"
	}
	if l, ok := levelIn(s.v, c, key); ok {
		return l
	}
	return def
}
