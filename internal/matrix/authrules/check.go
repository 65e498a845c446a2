package authrules

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// ErrInvalidRoomVersion is returned for the zero roomversion.Version.
var ErrInvalidRoomVersion = errors.New("authrules: invalid room version")

// Checker applies the authorization rules. The zero Checker is usable; its
// fields plug in the two signature checks the rules themselves demand.
type Checker struct {
	// VerifyThirdPartyInvite reports whether signed, the raw JSON of an
	// m.room.member event's content.third_party_invite.signed, carries a
	// valid signature made with publicKey, a base64 public key taken from
	// the m.room.third_party_invite event. Nil means [VerifyEd25519Signed].
	VerifyThirdPartyInvite func(signed json.RawMessage, publicKey string) bool

	// SignedByServer reports whether ev carries a valid signature of the
	// server serverName. The rules need it for events whose content has
	// join_authorised_via_users_server (room version 8 onwards, MSC3083).
	// Nil rejects every such event: the rules cannot verify signatures
	// without the caller's keys.
	SignedByServer func(ev Event, serverName string) bool
}

// Check reports whether ev is allowed by the authorization rules of room
// version v against the room state given by state. It returns nil or a
// *RuleError naming the rule that rejected the event.
//
// state must answer for the m.room.create event as well, also in room
// version 12 where it is not an auth event: there the caller resolves it
// from the room ID. The rule "considering the event's auth_events" is
// checked separately by [CheckAuthEvents] because it looks at the auth
// events themselves rather than at state.
//
// Check uses a zero [Checker]: events with join_authorised_via_users_server
// are rejected. Use a configured Checker to accept them.
func Check(v roomversion.Version, ev Event, state StateProvider) error {
	var c Checker
	return c.Check(v, ev, state)
}

// Check is like the package-level [Check], with c's signature checks.
func (c *Checker) Check(v roomversion.Version, ev Event, state StateProvider) error {
	if !v.Valid() {
		return ErrInvalidRoomVersion
	}
	if re := c.check(v, ev, state); re != nil {
		return re
	}
	return nil
}

func (c *Checker) check(v roomversion.Version, ev Event, state StateProvider) *RuleError {
	// Rule 1: m.room.create.
	if ev.Type() == TypeCreate {
		return checkCreate(v, ev)
	}

	create := state(StateKey{TypeCreate, ""})
	if v.RoomIDFromCreateEvent() {
		// v12 rule 2 (MSC4291): the room ID is the create event's ID with
		// the sigil "!". Whether that create event was accepted is the
		// caller's to know.
		if create == nil || !roomIDMatchesCreate(ev.RoomID(), create.EventID()) {
			return reject(v, ruleRoomIDNotCreateEvent, "room ID "+ev.RoomID()+" is not the ID of the room's m.room.create event")
		}
	} else {
		// Rules 2.4 and 2.5, applied to the state the event is checked
		// against: it must hold this room's m.room.create.
		if create == nil {
			return reject(v, ruleAuthEventsNoCreate, "no m.room.create event")
		}
		if create.RoomID() != ev.RoomID() {
			return reject(v, ruleAuthEventsRoomID, "m.room.create belongs to room "+create.RoomID())
		}
	}
	s := newRoomState(v, state, create)

	// Rule 3 (v12: 4): m.federate.
	if serverOf(ev.Sender()) != serverOf(create.Sender()) {
		if raw, ok := rawjson.Lookup(create.Content(), "m.federate"); ok && string(raw) == "false" {
			return reject(v, ruleFederate, "room does not federate and the sender is on another server than the creator")
		}
	}

	// Rule 4 of v1–v5: m.room.aliases (removed by v6, MSC2432).
	if v.SpecialCaseAliasesAuth() && ev.Type() == TypeAliases {
		sk := ev.StateKey()
		if sk == nil {
			return reject(v, ruleAliasesNoStateKey, "m.room.aliases without a state_key")
		}
		if *sk != serverOf(ev.Sender()) {
			return reject(v, ruleAliasesDomain, "m.room.aliases state_key does not match the sender's server")
		}
		return nil
	}

	if ev.Type() == TypeMember {
		return c.checkMember(s, ev)
	}

	// The sender must be joined.
	if s.membership(ev.Sender()) != MembershipJoin {
		return reject(v, ruleSenderNotJoined, ev.Sender()+" is not joined to the room")
	}

	// m.room.third_party_invite: allowed iff the sender may invite.
	if ev.Type() == TypeThirdPartyInvite {
		if s.userLevel(ev.Sender()) < s.namedLevel("invite", defaultInvite) {
			return reject(v, ruleThirdPartyInvitePower, "sender's power level is below the invite level")
		}
		return nil
	}

	// The event type's required power level.
	sk := ev.StateKey()
	senderLevel := s.userLevel(ev.Sender())
	if s.sendLevel(ev.Type(), sk != nil) > senderLevel {
		return reject(v, ruleRequiredPower, "sender's power level is below the level required for "+ev.Type())
	}

	// State keys that are user IDs belong to that user.
	if sk != nil && strings.HasPrefix(*sk, "@") && *sk != ev.Sender() {
		return reject(v, ruleStateKeyImpersonation, "state_key is another user's ID")
	}

	if ev.Type() == TypePowerLevels {
		return checkPowerLevels(s, ev, senderLevel)
	}

	// Rule 11 of v1–v2: m.room.redaction (moved out of the auth rules by
	// v3, MSC1659).
	if v.RedactionsInAuthRules() && ev.Type() == TypeRedaction {
		if senderLevel >= s.namedLevel("redact", defaultRedact) {
			return nil
		}
		if r := ev.Redacts(); r != "" && serverOf(r) != "" && serverOf(r) == serverOf(ev.EventID()) {
			return nil
		}
		return reject(v, ruleRedaction, "sender's power level is below the redact level and the redacted event is from another server")
	}
	return nil
}

// roomIDMatchesCreate reports whether roomID is createID with the sigil "!"
// instead of "$".
func roomIDMatchesCreate(roomID, createID string) bool {
	return len(roomID) > 1 && len(createID) == len(roomID) &&
		roomID[0] == '!' && createID[0] == '$' && roomID[1:] == createID[1:]
}

// checkCreate applies rule 1, the rules for m.room.create.
func checkCreate(v roomversion.Version, ev Event) *RuleError {
	if len(ev.PrevEvents()) > 0 {
		return reject(v, ruleCreatePrevEvents, "m.room.create has prev_events")
	}
	if v.RoomIDFromCreateEvent() {
		// v12 (MSC4291): the create event has no room_id. The event
		// layer derives one from the event ID, so anything else means
		// the PDU carried its own.
		if rid := ev.RoomID(); rid != "" && !roomIDMatchesCreate(rid, ev.EventID()) {
			return reject(v, ruleCreateHasRoomID, "m.room.create has a room_id")
		}
	} else {
		rs := serverOf(ev.RoomID())
		if rs == "" || rs != serverOf(ev.Sender()) {
			return reject(v, ruleCreateRoomIDDomain, "room ID's server does not match the sender's")
		}
	}
	content := ev.Content()
	if raw, ok := rawjson.Lookup(content, "room_version"); ok {
		rv, isStr := rawjson.StringValue(raw)
		if !isStr || !roomversion.Known(rv) {
			return reject(v, ruleCreateRoomVersion, "unknown room_version "+string(raw))
		}
	}
	if !v.CreatorInSender() {
		if _, ok := rawjson.Lookup(content, "creator"); !ok {
			return reject(v, ruleCreateNoCreator, "m.room.create has no creator")
		}
	}
	if v.PrivilegedCreators() {
		if raw, ok := rawjson.Lookup(content, "additional_creators"); ok {
			valid := true
			wellFormed := rawjson.ArrayEach(raw, func(elem []byte) bool {
				s, ok := rawjson.StringValue(elem)
				if ok {
					_, err := id.ParseUserIDLenient(s)
					ok = err == nil
				}
				valid = ok
				return ok
			})
			if !wellFormed || !valid {
				return reject(v, ruleCreateAdditionalCreators, "additional_creators is not an array of user IDs")
			}
		}
	}
	return nil
}
