package authrules

import (
	"testing"
)

func TestMemberBasics(t *testing.T) {
	runCases(t, []authCase{
		{
			name: "member event without membership",
			want: nMember.sub(".1"), rule: "member.malformed",
			event: func(r *room) Event { return r.st(alice, TypeMember, alice, `{"displayname":"A"}`) },
		},
		{
			name: "member event without state_key",
			want: nMember.sub(".1"), rule: "member.malformed",
			event: func(r *room) Event { return r.msg(alice, TypeMember, `{"membership":"join"}`) },
		},
		{
			name: "unknown membership",
			want: nUnknown, rule: "member.unknown_membership",
			event: func(r *room) Event { return r.mem(alice, alice, "dance") },
		},
		{
			name: "membership not a string",
			want: nUnknown, rule: "member.unknown_membership",
			event: func(r *room) Event { return r.st(alice, TypeMember, alice, `{"membership":1}`) },
		},
		{
			name:  "knock before knocking existed is unknown",
			want:  nUnknown.only("1-6"),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnock) },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
	})
}

func TestJoin(t *testing.T) {
	runCases(t, []authCase{
		{
			name: "creator joins right after create",
			want: ok("1-12"),
			setup: func(r *room) {
				r.drop(TypeMember, alice)
				r.drop(TypePowerLevels, "")
				r.drop(TypeJoinRules, "")
			},
			event: func(r *room) Event { return r.mem(alice, alice, "join").withPrev(r.create.id) },
		},
		{
			// content.creator names zed (v1–v10); from v11 the creator is
			// the create event's sender, alice (MSC2175).
			name:   "content.creator joins right after create",
			create: `"creator":"@zed:a"`,
			want:   merge(ok("1-10"), nJoinElse.only("11-12")),
			setup: func(r *room) {
				r.drop(TypeMember, alice)
				r.drop(TypePowerLevels, "")
				r.drop(TypeJoinRules, "")
			},
			event: func(r *room) Event { return r.mem("@zed:a", "@zed:a", "join").withPrev(r.create.id) },
		},
		{
			name: "creator join needs the create event as the only prev event",
			want: nJoinElse,
			setup: func(r *room) {
				r.drop(TypeMember, alice)
				r.drop(TypeJoinRules, "")
			},
			event: func(r *room) Event { return r.mem(alice, alice, "join").withPrev(r.create.id, "$other:a") },
		},
		{
			name: "joining someone else",
			want: nJoin.sub(".2"), rule: "member.join.sender_mismatch",
			setup: func(r *room) { r.setJoinRule(JoinRulePublic) },
			event: func(r *room) Event { return r.mem(bob, carol, "join") },
		},
		{
			name: "banned user joins a public room",
			want: nJoin.sub(".3"), rule: "member.join.banned",
			setup: func(r *room) {
				r.setJoinRule(JoinRulePublic)
				r.setMember(bob, "ban")
			},
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name:  "anyone joins a public room",
			want:  ok("1-12"),
			setup: func(r *room) { r.setJoinRule(JoinRulePublic) },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name:  "invited user joins an invite-only room",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "invite") },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name:  "joined user updates their join in an invite-only room",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name: "uninvited user joins an invite-only room",
			want: nJoinElse, rule: "member.join.otherwise",
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name:  "room without join rules is invite-only",
			want:  nJoinElse,
			setup: func(r *room) { r.drop(TypeJoinRules, "") },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name:  "user who left joins an invite-only room",
			want:  nJoinElse,
			setup: func(r *room) { r.setMember(bob, "leave") },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name: "invited user joins a knock room",
			want: merge(nJoinElse.only("1-6"), ok("7-12")),
			setup: func(r *room) {
				r.setJoinRule(JoinRuleKnock)
				r.setMember(bob, "invite")
			},
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name: "knocking user joins a knock room without invite",
			want: nJoinElse.only("7-12"),
			setup: func(r *room) {
				r.setJoinRule(JoinRuleKnock)
				r.setMember(bob, "knock")
			},
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name:  "private join rule",
			want:  nJoinElse,
			setup: func(r *room) { r.setJoinRule(JoinRulePrivate) },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
	})
}

func TestRestrictedJoin(t *testing.T) {
	authorised := func(authoriser string) func(r *room) Event {
		return func(r *room) Event {
			return r.st(bob, TypeMember, bob,
				`{"membership":"join","join_authorised_via_users_server":"`+authoriser+`"}`).signed(serverOf(authoriser))
		}
	}
	runCases(t, []authCase{
		{
			name:  "restricted: authorised by a joined user who may invite",
			want:  merge(nJoinElse.only("1-7"), ok("8-12")),
			setup: func(r *room) { r.setJoinRule(JoinRuleRestricted) },
			event: authorised(alice),
		},
		{
			name:  "restricted: no authoriser",
			want:  merge(nJoinElse.only("1-7"), nJoin.sub(".5.2").only("8-12")),
			rule:  "",
			setup: func(r *room) { r.setJoinRule(JoinRuleRestricted) },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name: "restricted: invited user needs no authoriser",
			want: merge(ok("8-12")),
			setup: func(r *room) {
				r.setJoinRule(JoinRuleRestricted)
				r.setMember(bob, "invite")
			},
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name: "restricted: authoriser not joined",
			want: nJoin.sub(".5.2").only("8-12"), rule: "member.join.authoriser",
			setup: func(r *room) {
				r.setJoinRule(JoinRuleRestricted)
				r.setMember(carol, "leave")
			},
			event: authorised(carol),
		},
		{
			name: "restricted: authoriser below the invite level",
			want: nJoin.sub(".5.2").only("8-12"), rule: "member.join.authoriser",
			setup: func(r *room) {
				r.setJoinRule(JoinRuleRestricted)
				r.setMember(carol, "join")
				if r.v.PrivilegedCreators() {
					r.setPL(`{"invite":50}`)
				} else {
					r.setPL(`{"invite":50,"users":{"@alice:a":100}}`)
				}
			},
			event: authorised(carol),
		},
		{
			name: "restricted: authoriser at the invite level",
			want: ok("8-12"),
			setup: func(r *room) {
				r.setJoinRule(JoinRuleRestricted)
				r.setMember(carol, "join")
				r.setPL(`{"invite":50,"users":{"@carol:c":50}}`)
			},
			event: authorised(carol),
		},
		{
			name: "restricted: authoriser's server did not sign",
			want: nAuthoriser, rule: "member.authoriser_signature",
			setup: func(r *room) { r.setJoinRule(JoinRuleRestricted) },
			event: func(r *room) Event {
				return r.st(bob, TypeMember, bob, `{"membership":"join","join_authorised_via_users_server":"@alice:a"}`)
			},
		},
		{
			name: "authoriser is not a user ID",
			want: nAuthoriser, rule: "member.authoriser_signature",
			setup: func(r *room) { r.setJoinRule(JoinRulePublic) },
			event: func(r *room) Event {
				return r.st(bob, TypeMember, bob, `{"membership":"join","join_authorised_via_users_server":"alice"}`).signed("a")
			},
		},
		{
			name:  "authoriser key ignored before restricted joins existed",
			want:  ok("1-7"),
			setup: func(r *room) { r.setJoinRule(JoinRulePublic) },
			event: func(r *room) Event {
				return r.st(bob, TypeMember, bob, `{"membership":"join","join_authorised_via_users_server":"@alice:a"}`)
			},
		},
		{
			name: "authoriser signature is checked for any membership",
			want: nAuthoriser,
			setup: func(r *room) {
				r.setMember(bob, "join")
			},
			event: func(r *room) Event {
				return r.st(bob, TypeMember, bob, `{"membership":"leave","join_authorised_via_users_server":"@alice:a"}`)
			},
		},
		{
			name:  "knock_restricted: authorised join",
			want:  merge(nJoinElse.only("1-9"), ok("10-12")),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnockRestricted) },
			event: authorised(alice),
		},
		{
			name:  "knock_restricted: no authoriser",
			want:  merge(nJoinElse.only("8-9"), nJoin.sub(".5.2").only("10-12")),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnockRestricted) },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
	})
}

func TestRestrictedJoinWithoutSignatureChecker(t *testing.T) {
	for _, ver := range []string{"8", "12"} {
		r := newRoom(mustVersion(ver), "")
		r.setJoinRule(JoinRuleRestricted)
		ev := r.st(bob, TypeMember, bob, `{"membership":"join","join_authorised_via_users_server":"@alice:a"}`).signed("a")
		err := Check(r.v, ev, r.get) // zero Checker: cannot verify, rejects
		assertOutcome(t, err, nAuthoriser[atoi(ver)], "member.authoriser_signature")
	}
}

func TestInvite(t *testing.T) {
	runCases(t, []authCase{
		{
			name:  "joined user invites",
			want:  ok("1-12"),
			event: func(r *room) Event { return r.mem(alice, bob, "invite") },
		},
		{
			name:  "invite re-sent to an invited user",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "invite") },
			event: func(r *room) Event { return r.mem(alice, bob, "invite") },
		},
		{
			name:  "invite a user who knocked",
			want:  ok("7-12"),
			setup: func(r *room) { r.setMember(bob, "knock") },
			event: func(r *room) Event { return r.mem(alice, bob, "invite") },
		},
		{
			name: "sender not joined",
			want: nInvite.sub(".2"), rule: "member.invite.sender_not_joined",
			setup: func(r *room) { r.setMember(carol, "invite") },
			event: func(r *room) Event { return r.mem(carol, bob, "invite") },
		},
		{
			name: "target already joined",
			want: nInvite.sub(".3"), rule: "member.invite.target_joined_or_banned",
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(alice, bob, "invite") },
		},
		{
			name:  "target banned",
			want:  nInvite.sub(".3"),
			setup: func(r *room) { r.setMember(bob, "ban") },
			event: func(r *room) Event { return r.mem(alice, bob, "invite") },
		},
		{
			name: "sender below the invite level",
			want: nInvite.sub(".5"), rule: "member.invite.power",
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setPL(`{"invite":10}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "invite") },
		},
		{
			name: "sender at the invite level",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setPL(`{"invite":10,"users_default":10}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "invite") },
		},
		{
			name: "invite level defaults to 0",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
			},
			event: func(r *room) Event { return r.mem(bob, carol, "invite") },
		},
	})
}

func TestLeave(t *testing.T) {
	runCases(t, []authCase{
		{
			name:  "joined user leaves",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(bob, bob, "leave") },
		},
		{
			name:  "invited user rejects the invite",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "invite") },
			event: func(r *room) Event { return r.mem(bob, bob, "leave") },
		},
		{
			name:  "knocking user withdraws the knock",
			want:  ok("7-12"),
			setup: func(r *room) { r.setMember(bob, "knock") },
			event: func(r *room) Event { return r.mem(bob, bob, "leave") },
		},
		{
			name: "user who is not in the room leaves",
			want: nLeave.sub(".1"), rule: "member.leave.self",
			event: func(r *room) Event { return r.mem(bob, bob, "leave") },
		},
		{
			name:  "banned user unbans themself",
			want:  nLeave.sub(".1"),
			setup: func(r *room) { r.setMember(bob, "ban") },
			event: func(r *room) Event { return r.mem(bob, bob, "leave") },
		},
		{
			name:  "admin kicks a user",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(alice, bob, "leave") },
		},
		{
			name: "kick by a user who is not joined",
			want: nLeave.sub(".2"), rule: "member.leave.sender_not_joined",
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setMember(carol, "leave")
			},
			event: func(r *room) Event { return r.mem(carol, bob, "leave") },
		},
		{
			name: "user kicks the admin",
			want: nLeave.sub(".5"), rule: "member.leave.kick_power",
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(bob, alice, "leave") },
		},
		{
			name: "moderator kicks an equal moderator",
			want: nLeave.sub(".5"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setMember(carol, "join")
				r.setPL(`{"users":{"@bob:b":50,"@carol:c":50}}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "leave") },
		},
		{
			name: "moderator at the kick level kicks a lower user",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setMember(carol, "join")
				r.setPL(`{"kick":40,"users":{"@bob:b":40,"@carol:c":39}}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "leave") },
		},
		{
			name: "admin unbans",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "ban")
			},
			event: func(r *room) Event { return r.mem(alice, bob, "leave") },
		},
		{
			name: "unban needs the ban level as well as the kick level",
			want: nLeave.sub(".3"), rule: "member.leave.unban_power",
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setMember(carol, "ban")
				r.setPL(`{"kick":50,"ban":60,"users":{"@bob:b":50}}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "leave") },
		},
		{
			name: "unban needs the kick level as well as the ban level",
			want: nLeave.sub(".5"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setMember(carol, "ban")
				r.setPL(`{"kick":60,"ban":50,"users":{"@bob:b":50}}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "leave") },
		},
	})
}

func TestBan(t *testing.T) {
	runCases(t, []authCase{
		{
			name:  "admin bans a member",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(alice, bob, "ban") },
		},
		{
			name:  "admin bans someone never in the room",
			want:  ok("1-12"),
			event: func(r *room) Event { return r.mem(alice, dave, "ban") },
		},
		{
			name: "ban by a user who is not joined",
			want: nBan.sub(".1"), rule: "member.ban.sender_not_joined",
			setup: func(r *room) { r.setMember(bob, "invite") },
			event: func(r *room) Event { return r.mem(bob, carol, "ban") },
		},
		{
			name: "user bans the admin",
			want: nBan.sub(".3"), rule: "member.ban.power",
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(bob, alice, "ban") },
		},
		{
			name: "user below the ban level bans a lower user",
			want: nBan.sub(".3"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setPL(`{"ban":50,"users":{"@bob:b":49}}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "ban") },
		},
		{
			name: "ban level as a string",
			want: merge(ok("1-9"), nBan.sub(".3").only("10-12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
				r.setPL(`{"ban":"10","users":{"@bob:b":20}}`)
			},
			event: func(r *room) Event { return r.mem(bob, carol, "ban") },
		},
	})
}

func TestKnock(t *testing.T) {
	runCases(t, []authCase{
		{
			name:  "knock on a knock room",
			want:  ok("7-12"),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnock) },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
		{
			name:  "knock again after leaving",
			want:  ok("7-12"),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnock); r.setMember(bob, "leave") },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
		{
			name:  "knock on a knock_restricted room",
			want:  merge(nKnock.sub(".1").only("7-9"), ok("10-12")),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnockRestricted) },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
		{
			name: "knock on an invite-only room",
			want: nKnock.sub(".1"), rule: "member.knock.join_rule",
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
		{
			name:  "knock on a public room",
			want:  nKnock.sub(".1"),
			setup: func(r *room) { r.setJoinRule(JoinRulePublic) },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
		{
			name: "knock on behalf of someone else",
			want: nKnock.sub(".2"), rule: "member.knock.sender_mismatch",
			setup: func(r *room) { r.setJoinRule(JoinRuleKnock) },
			event: func(r *room) Event { return r.mem(alice, bob, "knock") },
		},
		{
			name: "banned user knocks",
			want: nKnock.sub(".4"), rule: "member.knock.otherwise",
			setup: func(r *room) { r.setJoinRule(JoinRuleKnock); r.setMember(bob, "ban") },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
		{
			name:  "invited user knocks",
			want:  nKnock.sub(".4"),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnock); r.setMember(bob, "invite") },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
		{
			name:  "joined user knocks",
			want:  nKnock.sub(".4"),
			setup: func(r *room) { r.setJoinRule(JoinRuleKnock); r.setMember(bob, "join") },
			event: func(r *room) Event { return r.mem(bob, bob, "knock") },
		},
	})
}
