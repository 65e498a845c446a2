package authrules

import (
	"encoding/json"

	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/matrix/rawjson"
)

// checkMember applies the m.room.member rule (rule 5 in v1–v5 and v12,
// rule 4 in v6–v11).
func (c *Checker) checkMember(s *roomState, ev Event) *RuleError {
	v := s.v
	sk := ev.StateKey()
	content := ev.Content()
	rawMembership, hasMembership := rawjson.Lookup(content, "membership")
	if sk == nil || !hasMembership {
		return reject(v, ruleMemberMalformed, "m.room.member without state_key or content.membership")
	}
	target := *sk
	sender := ev.Sender()
	membership, _ := rawjson.StringValue(rawMembership)

	// v8 (MSC3083): an event naming an authorising user must be signed by
	// that user's server, whatever its membership.
	var authoriser string
	var hasAuthoriser bool
	if v.RestrictedJoins() {
		var raw []byte
		if raw, hasAuthoriser = rawjson.Lookup(content, "join_authorised_via_users_server"); hasAuthoriser {
			a, ok := rawjson.StringValue(raw)
			if ok {
				_, err := id.ParseUserIDLenient(a)
				ok = err == nil
			}
			if !ok {
				return reject(v, ruleMemberAuthoriserSignature, "join_authorised_via_users_server is not a user ID")
			}
			if c == nil || c.SignedByServer == nil || !c.SignedByServer(ev, serverOf(a)) {
				return reject(v, ruleMemberAuthoriserSignature, "event is not signed by "+serverOf(a))
			}
			authoriser = a
		}
	}

	switch membership {
	case MembershipJoin:
		return c.checkJoin(s, ev, target, authoriser, hasAuthoriser)
	case MembershipInvite:
		return c.checkInvite(s, ev, target)
	case MembershipLeave:
		current := s.membership(target)
		if sender == target {
			if current == MembershipInvite || current == MembershipJoin || (v.Knocking() && current == MembershipKnock) {
				return nil
			}
			return reject(v, ruleLeaveSelf, "cannot leave from membership "+current)
		}
		if s.membership(sender) != MembershipJoin {
			return reject(v, ruleLeaveSenderNotJoined, sender+" is not joined to the room")
		}
		senderLevel := s.userLevel(sender)
		if current == MembershipBan && senderLevel < s.namedLevel("ban", defaultBan) {
			return reject(v, ruleLeaveUnban, "sender's power level is below the ban level")
		}
		if senderLevel >= s.namedLevel("kick", defaultKick) && s.userLevel(target) < senderLevel {
			return nil
		}
		return reject(v, ruleLeaveKickOtherwise, "sender's power level is below the kick level or not above the target's")
	case MembershipBan:
		if s.membership(sender) != MembershipJoin {
			return reject(v, ruleBanSenderNotJoined, sender+" is not joined to the room")
		}
		senderLevel := s.userLevel(sender)
		if senderLevel >= s.namedLevel("ban", defaultBan) && s.userLevel(target) < senderLevel {
			return nil
		}
		return reject(v, ruleBanOtherwise, "sender's power level is below the ban level or not above the target's")
	case MembershipKnock:
		if !v.Knocking() {
			break
		}
		jr := s.joinRule()
		if jr != JoinRuleKnock && !(v.KnockRestricted() && jr == JoinRuleKnockRestricted) {
			return reject(v, ruleKnockJoinRule, "join rule "+jr+" does not allow knocking")
		}
		if sender != target {
			return reject(v, ruleKnockSenderMismatch, "sender does not match state_key")
		}
		switch s.membership(sender) {
		case MembershipBan, MembershipInvite, MembershipJoin:
			return reject(v, ruleKnockOtherwise, "cannot knock while banned, invited or joined")
		}
		return nil
	}
	return reject(v, ruleMemberUnknown, "unknown membership "+string(rawMembership))
}

func (c *Checker) checkJoin(s *roomState, ev Event, target, authoriser string, hasAuthoriser bool) *RuleError {
	v := s.v
	sender := ev.Sender()

	// The creator's own join directly after the create event.
	if prev := ev.PrevEvents(); len(prev) == 1 && prev[0] == s.create.EventID() && target == s.creator() {
		return nil
	}
	if sender != target {
		return reject(v, ruleJoinSenderMismatch, "sender does not match state_key")
	}
	current := s.membership(sender)
	if current == MembershipBan {
		return reject(v, ruleJoinBanned, sender+" is banned")
	}
	jr := s.joinRule()
	joinedOrInvited := current == MembershipJoin || current == MembershipInvite
	if jr == JoinRuleInvite || (v.Knocking() && jr == JoinRuleKnock) {
		if joinedOrInvited {
			return nil
		}
	}
	if v.RestrictedJoins() && (jr == JoinRuleRestricted || (v.KnockRestricted() && jr == JoinRuleKnockRestricted)) {
		if joinedOrInvited {
			return nil
		}
		if !hasAuthoriser || s.membership(authoriser) != MembershipJoin ||
			s.userLevel(authoriser) < s.namedLevel("invite", defaultInvite) {
			return reject(v, ruleJoinAuthoriser, "join_authorised_via_users_server is missing, not joined, or may not invite")
		}
		return nil
	}
	if jr == JoinRulePublic {
		return nil
	}
	return reject(v, ruleJoinOtherwise, "join rule "+jr+" does not allow "+sender+" to join from membership "+current)
}

func (c *Checker) checkInvite(s *roomState, ev Event, target string) *RuleError {
	v := s.v
	sender := ev.Sender()
	current := s.membership(target)

	if tpi, ok := rawjson.Lookup(ev.Content(), "third_party_invite"); ok {
		if current == MembershipBan {
			return reject(v, ruleInviteTPIBanned, target+" is banned")
		}
		signed, ok := rawjson.Lookup(tpi, "signed")
		if !ok || !rawjson.IsObject(signed) {
			return reject(v, ruleInviteTPINoSigned, "third_party_invite has no signed object")
		}
		mxid, ok1 := rawjson.LookupString(signed, "mxid")
		token, ok2 := rawjson.LookupString(signed, "token")
		if !ok1 || !ok2 {
			return reject(v, ruleInviteTPINoMXIDToken, "signed lacks mxid or token")
		}
		if mxid != target {
			return reject(v, ruleInviteTPIMXIDMismatch, "signed.mxid does not match state_key")
		}
		inv := s.get(StateKey{TypeThirdPartyInvite, token})
		if inv == nil {
			return reject(v, ruleInviteTPINoInviteEvent, "no m.room.third_party_invite for the token")
		}
		if inv.Sender() != sender {
			return reject(v, ruleInviteTPISenderMismatch, "sender did not send the m.room.third_party_invite")
		}
		verify := VerifyEd25519Signed
		if c != nil && c.VerifyThirdPartyInvite != nil {
			verify = c.VerifyThirdPartyInvite
		}
		for _, key := range thirdPartyInviteKeys(inv.Content()) {
			if verify(json.RawMessage(signed), key) {
				return nil
			}
		}
		return reject(v, ruleInviteTPISignature, "no signature in signed matches a public key of the m.room.third_party_invite")
	}

	if s.membership(sender) != MembershipJoin {
		return reject(v, ruleInviteSenderNotJoined, sender+" is not joined to the room")
	}
	if current == MembershipJoin || current == MembershipBan {
		return reject(v, ruleInviteTargetState, target+" is "+current)
	}
	if s.userLevel(sender) >= s.namedLevel("invite", defaultInvite) {
		return nil
	}
	return reject(v, ruleInvitePower, "sender's power level is below the invite level")
}

// thirdPartyInviteKeys returns the public keys of an m.room.third_party_invite
// content: public_key, then each public_keys[].public_key.
func thirdPartyInviteKeys(content []byte) []string {
	var keys []string
	if k, ok := rawjson.LookupString(content, "public_key"); ok {
		keys = append(keys, k)
	}
	if arr, ok := rawjson.Lookup(content, "public_keys"); ok {
		rawjson.ArrayEach(arr, func(elem []byte) bool {
			if k, ok := rawjson.LookupString(elem, "public_key"); ok {
				keys = append(keys, k)
			}
			return true
		})
	}
	return keys
}
