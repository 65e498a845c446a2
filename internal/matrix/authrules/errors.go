package authrules

import (
	"strconv"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// RuleError is the rejection of an event by the authorization rules. Rule is
// the number of the rule in the spec's list for the event's room version
// ("4.3.2" in room version 11 is "5.3.2" in room version 12); Name is a
// stable, version-independent identifier of the same rule, suitable for
// metrics and logs ("member.join.sender_mismatch").
type RuleError struct {
	Rule   string
	Name   string
	Reason string
}

func (e *RuleError) Error() string {
	return "auth rule " + e.Rule + " (" + e.Name + "): " + e.Reason
}

// rule identifies one rejecting rule independently of the room version's
// numbering.
type rule int

const (
	ruleCreatePrevEvents rule = iota + 1
	ruleCreateRoomIDDomain
	ruleCreateHasRoomID
	ruleCreateRoomVersion
	ruleCreateNoCreator
	ruleCreateAdditionalCreators

	ruleRoomIDNotCreateEvent

	ruleAuthEventsDuplicate
	ruleAuthEventsUnexpected
	ruleAuthEventsNoCreate
	ruleAuthEventsRoomID

	ruleFederate

	ruleAliasesNoStateKey
	ruleAliasesDomain

	ruleMemberMalformed
	ruleMemberAuthoriserSignature
	ruleJoinSenderMismatch
	ruleJoinBanned
	ruleJoinAuthoriser
	ruleJoinOtherwise
	ruleInviteTPIBanned
	ruleInviteTPINoSigned
	ruleInviteTPINoMXIDToken
	ruleInviteTPIMXIDMismatch
	ruleInviteTPINoInviteEvent
	ruleInviteTPISenderMismatch
	ruleInviteTPISignature
	ruleInviteSenderNotJoined
	ruleInviteTargetState
	ruleInvitePower
	ruleLeaveSelf
	ruleLeaveSenderNotJoined
	ruleLeaveUnban
	ruleLeaveKickOtherwise
	ruleBanSenderNotJoined
	ruleBanOtherwise
	ruleKnockJoinRule
	ruleKnockSenderMismatch
	ruleKnockOtherwise
	ruleMemberUnknown

	ruleSenderNotJoined
	ruleThirdPartyInvitePower
	ruleRequiredPower
	ruleStateKeyImpersonation

	rulePLScalarsNotInt
	rulePLMapsNotInt
	rulePLUsers
	rulePLMalformed
	rulePLCreatorsInUsers
	rulePLScalarCurrent
	rulePLScalarNew
	rulePLMapCurrent
	rulePLMapNew
	rulePLUserCurrent
	rulePLUserNew

	ruleRedaction
)

var ruleNames = map[rule]string{
	ruleCreatePrevEvents:         "create.prev_events",
	ruleCreateRoomIDDomain:       "create.room_id_domain",
	ruleCreateHasRoomID:          "create.room_id_present",
	ruleCreateRoomVersion:        "create.room_version",
	ruleCreateNoCreator:          "create.no_creator",
	ruleCreateAdditionalCreators: "create.additional_creators",

	ruleRoomIDNotCreateEvent: "room_id.not_create_event",

	ruleAuthEventsDuplicate:  "auth_events.duplicate",
	ruleAuthEventsUnexpected: "auth_events.unexpected",
	ruleAuthEventsNoCreate:   "auth_events.no_create",
	ruleAuthEventsRoomID:     "auth_events.room_id",

	ruleFederate: "federate",

	ruleAliasesNoStateKey: "aliases.no_state_key",
	ruleAliasesDomain:     "aliases.domain",

	ruleMemberMalformed:           "member.malformed",
	ruleMemberAuthoriserSignature: "member.authoriser_signature",
	ruleJoinSenderMismatch:        "member.join.sender_mismatch",
	ruleJoinBanned:                "member.join.banned",
	ruleJoinAuthoriser:            "member.join.authoriser",
	ruleJoinOtherwise:             "member.join.otherwise",
	ruleInviteTPIBanned:           "member.invite.tpi.banned",
	ruleInviteTPINoSigned:         "member.invite.tpi.no_signed",
	ruleInviteTPINoMXIDToken:      "member.invite.tpi.no_mxid_token",
	ruleInviteTPIMXIDMismatch:     "member.invite.tpi.mxid_mismatch",
	ruleInviteTPINoInviteEvent:    "member.invite.tpi.no_invite_event",
	ruleInviteTPISenderMismatch:   "member.invite.tpi.sender_mismatch",
	ruleInviteTPISignature:        "member.invite.tpi.signature",
	ruleInviteSenderNotJoined:     "member.invite.sender_not_joined",
	ruleInviteTargetState:         "member.invite.target_joined_or_banned",
	ruleInvitePower:               "member.invite.power",
	ruleLeaveSelf:                 "member.leave.self",
	ruleLeaveSenderNotJoined:      "member.leave.sender_not_joined",
	ruleLeaveUnban:                "member.leave.unban_power",
	ruleLeaveKickOtherwise:        "member.leave.kick_power",
	ruleBanSenderNotJoined:        "member.ban.sender_not_joined",
	ruleBanOtherwise:              "member.ban.power",
	ruleKnockJoinRule:             "member.knock.join_rule",
	ruleKnockSenderMismatch:       "member.knock.sender_mismatch",
	ruleKnockOtherwise:            "member.knock.otherwise",
	ruleMemberUnknown:             "member.unknown_membership",

	ruleSenderNotJoined:       "sender_not_joined",
	ruleThirdPartyInvitePower: "third_party_invite.power",
	ruleRequiredPower:         "required_power_level",
	ruleStateKeyImpersonation: "state_key_impersonation",

	rulePLScalarsNotInt:   "power_levels.scalars_not_integers",
	rulePLMapsNotInt:      "power_levels.maps_not_integers",
	rulePLUsers:           "power_levels.users",
	rulePLMalformed:       "power_levels.malformed",
	rulePLCreatorsInUsers: "power_levels.creators_in_users",
	rulePLScalarCurrent:   "power_levels.scalar_current",
	rulePLScalarNew:       "power_levels.scalar_new",
	rulePLMapCurrent:      "power_levels.map_current",
	rulePLMapNew:          "power_levels.map_new",
	rulePLUserCurrent:     "power_levels.user_current",
	rulePLUserNew:         "power_levels.user_new",

	ruleRedaction: "redaction",
}

func (r rule) String() string { return ruleNames[r] }

// reject builds the RuleError for r in room version v.
func reject(v roomversion.Version, r rule, reason string) *RuleError {
	return &RuleError{Rule: ruleNumber(v, r), Name: r.String(), Reason: reason}
}

// sections is the top-level numbering of the rules of a room version. The
// spec renumbers the list whenever a rule is added or removed: v6 drops the
// m.room.aliases rule (MSC2432), v3 drops the m.room.redaction rule
// (MSC1659), v12 adds the room ID rule (MSC4291).
type sections struct {
	create, roomID, authEvents, federate, aliases, member, notJoined,
	thirdPartyInvite, requiredPower, stateKey, powerLevels, redaction int
}

func sectionsOf(v roomversion.Version) sections {
	var s sections
	n := 0
	next := func() int { n++; return n }
	s.create = next()
	if v.RoomIDFromCreateEvent() {
		s.roomID = next()
	}
	s.authEvents = next()
	s.federate = next()
	if v.SpecialCaseAliasesAuth() {
		s.aliases = next()
	}
	s.member = next()
	s.notJoined = next()
	s.thirdPartyInvite = next()
	s.requiredPower = next()
	s.stateKey = next()
	s.powerLevels = next()
	if v.RedactionsInAuthRules() {
		s.redaction = next()
	}
	return s
}

// ruleNumber returns the spec's number for r in room version v.
func ruleNumber(v roomversion.Version, r rule) string {
	s := sectionsOf(v)
	num := func(parts ...int) string {
		b := make([]byte, 0, 12)
		for i, p := range parts {
			if i > 0 {
				b = append(b, '.')
			}
			b = strconv.AppendInt(b, int64(p), 10)
		}
		return string(b)
	}

	// Sub-sections of the m.room.member rule. From v8 a rule about
	// join_authorised_via_users_server precedes the memberships (MSC3083),
	// and the restricted join rule is inserted in the join list.
	m := s.member
	join := 2
	if v.RestrictedJoins() {
		join = 3
	}
	invite, leave, ban := join+1, join+2, join+3
	knock, unknown := 0, join+4
	if v.Knocking() {
		knock, unknown = join+4, join+5
	}
	joinOtherwise := 6
	if v.RestrictedJoins() {
		joinOtherwise = 7
	}

	// Sub-sections of the m.room.power_levels rule: v10 adds two type
	// checks in front (MSC3667), v12 the creators check (MSC4289).
	p := s.powerLevels
	users := 1
	if v.IntegerOnlyPowerLevels() {
		users = 3
	}
	after := users
	if v.PrivilegedCreators() {
		after++
	}
	scalars, maps, mapsNew, userCur, userNew := after+2, after+3, after+4, after+5, after+6

	switch r {
	case ruleCreatePrevEvents:
		return num(s.create, 1)
	case ruleCreateRoomIDDomain, ruleCreateHasRoomID:
		return num(s.create, 2)
	case ruleCreateRoomVersion:
		return num(s.create, 3)
	case ruleCreateNoCreator, ruleCreateAdditionalCreators:
		return num(s.create, 4)
	case ruleRoomIDNotCreateEvent:
		return num(s.roomID)
	case ruleAuthEventsDuplicate:
		return num(s.authEvents, 1)
	case ruleAuthEventsUnexpected:
		return num(s.authEvents, 2)
	case ruleAuthEventsNoCreate:
		return num(s.authEvents, 4)
	case ruleAuthEventsRoomID:
		return num(s.authEvents, 5)
	case ruleFederate:
		return num(s.federate)
	case ruleAliasesNoStateKey:
		return num(s.aliases, 1)
	case ruleAliasesDomain:
		return num(s.aliases, 2)
	case ruleMemberMalformed:
		return num(m, 1)
	case ruleMemberAuthoriserSignature:
		return num(m, 2, 1)
	case ruleJoinSenderMismatch:
		return num(m, join, 2)
	case ruleJoinBanned:
		return num(m, join, 3)
	case ruleJoinAuthoriser:
		return num(m, join, 5, 2)
	case ruleJoinOtherwise:
		return num(m, join, joinOtherwise)
	case ruleInviteTPIBanned:
		return num(m, invite, 1, 1)
	case ruleInviteTPINoSigned:
		return num(m, invite, 1, 2)
	case ruleInviteTPINoMXIDToken:
		return num(m, invite, 1, 3)
	case ruleInviteTPIMXIDMismatch:
		return num(m, invite, 1, 4)
	case ruleInviteTPINoInviteEvent:
		return num(m, invite, 1, 5)
	case ruleInviteTPISenderMismatch:
		return num(m, invite, 1, 6)
	case ruleInviteTPISignature:
		return num(m, invite, 1, 8)
	case ruleInviteSenderNotJoined:
		return num(m, invite, 2)
	case ruleInviteTargetState:
		return num(m, invite, 3)
	case ruleInvitePower:
		return num(m, invite, 5)
	case ruleLeaveSelf:
		return num(m, leave, 1)
	case ruleLeaveSenderNotJoined:
		return num(m, leave, 2)
	case ruleLeaveUnban:
		return num(m, leave, 3)
	case ruleLeaveKickOtherwise:
		return num(m, leave, 5)
	case ruleBanSenderNotJoined:
		return num(m, ban, 1)
	case ruleBanOtherwise:
		return num(m, ban, 3)
	case ruleKnockJoinRule:
		return num(m, knock, 1)
	case ruleKnockSenderMismatch:
		return num(m, knock, 2)
	case ruleKnockOtherwise:
		return num(m, knock, 4)
	case ruleMemberUnknown:
		return num(m, unknown)
	case ruleSenderNotJoined:
		return num(s.notJoined)
	case ruleThirdPartyInvitePower:
		return num(s.thirdPartyInvite, 1)
	case ruleRequiredPower:
		return num(s.requiredPower)
	case ruleStateKeyImpersonation:
		return num(s.stateKey)
	case rulePLScalarsNotInt:
		return num(p, 1)
	case rulePLMapsNotInt:
		return num(p, 2)
	case rulePLUsers, rulePLMalformed:
		return num(p, users)
	case rulePLCreatorsInUsers:
		return num(p, users+1)
	case rulePLScalarCurrent:
		return num(p, scalars, 1)
	case rulePLScalarNew:
		return num(p, scalars, 2)
	case rulePLMapCurrent:
		return num(p, maps, 1)
	case rulePLMapNew:
		return num(p, mapsNew, 1)
	case rulePLUserCurrent:
		return num(p, userCur, 1)
	case rulePLUserNew:
		return num(p, userNew, 1)
	case ruleRedaction:
		return num(s.redaction, 3)
	}
	return "?"
}
