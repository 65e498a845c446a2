package authrules

import (
	"encoding/json"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// AuthEventsNeeded returns the state an event of the given type, sender,
// state key and content must cite in its auth_events (server-server API,
// "Auth events selection"), in that order and without duplicates:
//
//   - the m.room.create event, in room versions that list it (v1–v11; v12
//     implies it by the room ID, MSC4291);
//   - the current m.room.power_levels event;
//   - the sender's current m.room.member event;
//   - for m.room.member: the target's m.room.member event; for membership
//     join, invite or knock the m.room.join_rules event; for an invite with
//     content.third_party_invite the m.room.third_party_invite event whose
//     state key is signed.token; for a join with
//     join_authorised_via_users_server in a version with restricted joins,
//     that user's m.room.member event.
//
// The caller keeps those present in the room state. An m.room.create event
// has no auth events.
func AuthEventsNeeded(v roomversion.Version, eventType, sender string, stateKey *string, content json.RawMessage) []StateKey {
	if eventType == TypeCreate {
		return nil
	}
	keys := make([]StateKey, 0, 6)
	add := func(k StateKey) {
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	if v.CreateEventInAuthEvents() {
		add(StateKey{TypeCreate, ""})
	}
	add(StateKey{TypePowerLevels, ""})
	add(StateKey{TypeMember, sender})
	if eventType != TypeMember || stateKey == nil {
		return keys
	}
	add(StateKey{TypeMember, *stateKey})
	membership, _ := rawjson.LookupString(content, "membership")
	switch membership {
	case MembershipJoin, MembershipInvite, MembershipKnock:
		add(StateKey{TypeJoinRules, ""})
	}
	if membership == MembershipInvite {
		if tpi, ok := rawjson.Lookup(content, "third_party_invite"); ok {
			if signed, ok := rawjson.Lookup(tpi, "signed"); ok {
				if token, ok := rawjson.LookupString(signed, "token"); ok {
					add(StateKey{TypeThirdPartyInvite, token})
				}
			}
		}
	}
	if membership == MembershipJoin && v.RestrictedJoins() {
		if a, ok := rawjson.LookupString(content, "join_authorised_via_users_server"); ok {
			add(StateKey{TypeMember, a})
		}
	}
	return keys
}

// AuthEventsNeededFor is [AuthEventsNeeded] for an existing event.
func AuthEventsNeededFor(v roomversion.Version, ev Event) []StateKey {
	return AuthEventsNeeded(v, ev.Type(), ev.Sender(), ev.StateKey(), ev.Content())
}

// CheckAuthEvents applies the rule "considering the event's auth_events"
// (rule 2; rule 3 in v12) to authEvents, the events ev lists in its
// auth_events, in any order:
//
//  1. no two entries for the same type and state key;
//  2. no entry the auth events selection would not pick for ev (in v12 this
//     includes the m.room.create event, MSC4291);
//  3. (entries that were themselves rejected: the caller's to check);
//  4. an m.room.create among them (not in v12);
//  5. every entry in ev's room.
//
// An m.room.create event is not subject to this rule. The caller then
// checks ev against the auth events' state with [Check], using
// [StateFromEvents] (plus, in v12, the create event).
func CheckAuthEvents(v roomversion.Version, ev Event, authEvents []Event) error {
	if !v.Valid() {
		return ErrInvalidRoomVersion
	}
	if ev.Type() == TypeCreate {
		return nil
	}
	seen := make(map[StateKey]struct{}, len(authEvents))
	for _, a := range authEvents {
		sk := a.StateKey()
		if sk == nil {
			continue // not state: caught as unexpected below
		}
		k := StateKey{a.Type(), *sk}
		if _, dup := seen[k]; dup {
			return reject(v, ruleAuthEventsDuplicate, "duplicate auth event for ("+k.Type+", "+k.StateKey+")")
		}
		seen[k] = struct{}{}
	}
	expected := AuthEventsNeededFor(v, ev)
	hasCreate := false
	for _, a := range authEvents {
		sk := a.StateKey()
		if sk == nil {
			return reject(v, ruleAuthEventsUnexpected, "auth event "+a.EventID()+" is not a state event")
		}
		k := StateKey{a.Type(), *sk}
		found := false
		for _, e := range expected {
			if e == k {
				found = true
				break
			}
		}
		if !found {
			return reject(v, ruleAuthEventsUnexpected, "auth event ("+k.Type+", "+k.StateKey+") is not one the selection algorithm picks")
		}
		if k == (StateKey{TypeCreate, ""}) {
			hasCreate = true
		}
	}
	if v.CreateEventInAuthEvents() && !hasCreate {
		return reject(v, ruleAuthEventsNoCreate, "no m.room.create among the auth events")
	}
	for _, a := range authEvents {
		if a.RoomID() != ev.RoomID() {
			return reject(v, ruleAuthEventsRoomID, "auth event "+a.EventID()+" is in room "+a.RoomID())
		}
	}
	return nil
}

// CheckAgainstAuthEvents performs step 4 of the checks on receipt of a PDU
// ("passes authorization rules based on the event's auth events"): it
// applies [CheckAuthEvents] and then the rest of the rules with the auth
// events as the room state. In room version 12 the create event is not
// among the auth events and must be passed as create; in earlier versions
// create may be nil.
func (c *Checker) CheckAgainstAuthEvents(v roomversion.Version, ev Event, authEvents []Event, create Event) error {
	if err := CheckAuthEvents(v, ev, authEvents); err != nil {
		return err
	}
	state := authEvents
	if create != nil && !v.CreateEventInAuthEvents() {
		state = append(append(make([]Event, 0, len(authEvents)+1), create), authEvents...)
	}
	return c.Check(v, ev, StateFromEvents(state...))
}
