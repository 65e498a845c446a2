package authrules

import (
	"encoding/json"
	"strings"
)

// Event is what the auth rules need to know about an event. Contents are
// read lazily from the raw JSON, so implementations should return their
// stored bytes without copying.
type Event interface {
	// EventID is the event's ID.
	EventID() string
	// RoomID is the room ID. For a room version 12 m.room.create event,
	// which carries no room_id, it is "" or the ID derived from the event
	// ID ("!" + the event ID without "$").
	RoomID() string
	Type() string
	// StateKey is nil for non-state events.
	StateKey() *string
	Sender() string
	// Content is the raw JSON object of the event's content.
	Content() json.RawMessage
	// PrevEvents and AuthEvents are the referenced event IDs.
	PrevEvents() []string
	AuthEvents() []string
	// Redacts is the ID of the event an m.room.redaction redacts: the
	// top-level redacts key before room version 11, content.redacts from
	// version 11 (MSC2174); "" if none.
	Redacts() string
}

// StateKey is the key of a piece of room state.
type StateKey struct {
	Type     string
	StateKey string
}

// Well-known event types the rules refer to.
const (
	TypeCreate           = "m.room.create"
	TypeMember           = "m.room.member"
	TypeJoinRules        = "m.room.join_rules"
	TypePowerLevels      = "m.room.power_levels"
	TypeThirdPartyInvite = "m.room.third_party_invite"
	TypeAliases          = "m.room.aliases"
	TypeRedaction        = "m.room.redaction"
)

// Memberships.
const (
	MembershipJoin   = "join"
	MembershipInvite = "invite"
	MembershipLeave  = "leave"
	MembershipBan    = "ban"
	MembershipKnock  = "knock"
)

// Join rules.
const (
	JoinRulePublic          = "public"
	JoinRuleInvite          = "invite"
	JoinRuleKnock           = "knock"
	JoinRuleRestricted      = "restricted"
	JoinRuleKnockRestricted = "knock_restricted"
	JoinRulePrivate         = "private"
)

// StateProvider returns the event that is the current state for key, or nil
// when the room has no such state. It should be a map access: the rules
// call it a handful of times per check. It must return an untyped nil, not
// a nil pointer of a concrete type, when the state is absent.
type StateProvider func(StateKey) Event

// StateFromEvents returns a StateProvider over the state events among
// events (a later event for the same key wins). Non-state events are
// ignored. It suits auth events and tests; servers with a state store
// provide their own.
func StateFromEvents(events ...Event) StateProvider {
	m := make(map[StateKey]Event, len(events))
	for _, e := range events {
		if e == nil || e.StateKey() == nil {
			continue
		}
		m[StateKey{e.Type(), *e.StateKey()}] = e
	}
	return func(k StateKey) Event { return m[k] }
}

// serverOf returns the server name of a user ID or of a room or event ID
// with a domain: what follows the first colon, or "".
func serverOf(id string) string {
	_, s, ok := strings.Cut(id, ":")
	if !ok {
		return ""
	}
	return s
}
