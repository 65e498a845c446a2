package authrules

import (
	"testing"
)

// plWith sets power levels content; in versions before 12 alice keeps 100
// unless the content says otherwise (extra must then be a full object).
func plWith(r *room, users, rest string) {
	u := users
	if !r.v.PrivilegedCreators() {
		if u != "" {
			u = `"@alice:a":100,` + u
		} else {
			u = `"@alice:a":100`
		}
	}
	c := `{"users":{` + u + `}`
	if rest != "" {
		c += "," + rest
	}
	r.setPL(c + "}")
}

func TestSendRules(t *testing.T) {
	runCases(t, []authCase{
		{
			name:  "joined user sends a message",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{"body":"hi"}`) },
		},
		{
			name: "non-member sends a message",
			want: nNotJoined, rule: "sender_not_joined",
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name:  "invited user sends a message",
			want:  nNotJoined,
			setup: func(r *room) { r.setMember(bob, "invite") },
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name:  "banned user sends state",
			want:  nNotJoined,
			setup: func(r *room) { r.setMember(bob, "ban") },
			event: func(r *room) Event { return r.st(bob, "m.room.topic", "", `{}`) },
		},
		{
			name: "user below state_default sets the topic",
			want: nRequired, rule: "required_power_level",
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.st(bob, "m.room.topic", "", `{"topic":"x"}`) },
		},
		{
			name: "events overrides state_default",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"events":{"m.room.topic":0}`)
			},
			event: func(r *room) Event { return r.st(bob, "m.room.topic", "", `{"topic":"x"}`) },
		},
		{
			name: "events overrides events_default",
			want: nRequired,
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"events":{"m.room.message":1}`)
			},
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name: "events_default",
			want: nRequired,
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"events_default":5,"users_default":4`)
			},
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name: "users_default",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"events_default":5,"users_default":5`)
			},
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name: "state_default",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"state_default":0`)
			},
			event: func(r *room) Event { return r.st(bob, "m.room.topic", "", `{}`) },
		},
		{
			name: "string events_default",
			want: merge(nRequired.only("1-9"), ok("10-12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"events_default":" +010 "`)
			},
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name: "float user level is truncated",
			want: merge(ok("1-5"), nRequired.only("6-12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, `"@bob:b":50.9`, `"events":{"m.room.topic":50}`)
			},
			event: func(r *room) Event { return r.st(bob, "m.room.topic", "", `{}`) },
		},
		{
			name: "float exponent is applied",
			want: merge(ok("1-5"), nRequired.only("6-12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, `"@bob:b":5.0E1`, `"events":{"m.room.topic":50}`)
			},
			event: func(r *room) Event { return r.st(bob, "m.room.topic", "", `{}`) },
		},
		{
			name: "no power levels: creator has 100",
			want: ok("1-12"),
			setup: func(r *room) {
				r.drop(TypePowerLevels, "")
			},
			event: func(r *room) Event { return r.st(alice, "m.room.name", "", `{}`) },
		},
		{
			name: "no power levels: others have 0 and state needs 50",
			want: nRequired,
			setup: func(r *room) {
				r.drop(TypePowerLevels, "")
				r.setMember(bob, "join")
			},
			event: func(r *room) Event { return r.st(bob, "m.room.name", "", `{}`) },
		},
		{
			name: "no power levels: messages need 0",
			want: ok("1-12"),
			setup: func(r *room) {
				r.drop(TypePowerLevels, "")
				r.setMember(bob, "join")
			},
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name:  "creator at 100 below a 101 requirement",
			want:  merge(nRequired.only("1-11"), ok("12")),
			setup: func(r *room) { plWith(r, "", `"events":{"m.x":101}`) },
			event: func(r *room) Event { return r.msg(alice, "m.x", `{}`) },
		},
		{
			name: "state_key of another user",
			want: nStateKey, rule: "state_key_impersonation",
			event: func(r *room) Event { return r.st(alice, "m.custom", bob, `{}`) },
		},
		{
			name:  "state_key of the sender",
			want:  ok("1-12"),
			event: func(r *room) Event { return r.st(alice, "m.custom", alice, `{}`) },
		},
		{
			name:  "state_key with @ that is not a user ID",
			want:  nStateKey,
			event: func(r *room) Event { return r.st(alice, "m.custom", "@", `{}`) },
		},
		{
			name: "third-party invite by a user who may invite",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
			},
			event: func(r *room) Event { return r.st(bob, TypeThirdPartyInvite, "tok", `{}`) },
		},
		{
			name: "third-party invite below the invite level",
			want: nTPIEvent, rule: "third_party_invite.power",
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"invite":1`)
			},
			event: func(r *room) Event { return r.st(bob, TypeThirdPartyInvite, "tok", `{}`) },
		},
		{
			// The third-party invite rule allows before the required
			// power level is consulted.
			name: "third-party invite ignores events levels",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"events":{"m.room.third_party_invite":100}`)
			},
			event: func(r *room) Event { return r.st(bob, TypeThirdPartyInvite, "tok", `{}`) },
		},
	})
}

func TestRedactionRules(t *testing.T) {
	runCases(t, []authCase{
		{
			name:  "user redacts an event from their own server",
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event {
				e := r.msg(bob, TypeRedaction, `{}`)
				e.redacts = "$orig:b"
				return e
			},
		},
		{
			// v1–v2 check the redact level in the auth rules; from v3
			// (MSC1659) that check is made when applying the redaction.
			name: "user redacts an event from another server",
			want: merge(nRedaction, ok("3-12")), rule: "redaction",
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event {
				e := r.msg(bob, TypeRedaction, `{}`)
				e.redacts = "$orig:a"
				return e
			},
		},
		{
			name: "redaction without redacts",
			want: merge(nRedaction, ok("3-12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
			},
			event: func(r *room) Event { return r.msg(bob, TypeRedaction, `{}`) },
		},
		{
			name: "user at the redact level redacts anything",
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, `"@bob:b":5`, `"redact":5`)
			},
			event: func(r *room) Event {
				e := r.msg(bob, TypeRedaction, `{}`)
				e.redacts = "$orig:a"
				return e
			},
		},
		{
			name: "events level for m.room.redaction",
			want: nRequired,
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, "", `"events":{"m.room.redaction":1}`)
			},
			event: func(r *room) Event {
				e := r.msg(bob, TypeRedaction, `{}`)
				e.redacts = "$orig:b"
				return e
			},
		},
	})
}

func TestPowerLevelsEvent(t *testing.T) {
	// bob is a moderator (50) who may send power levels; carol is another
	// moderator; alice is the admin (100; in v12 a creator, unlisted).
	// plContent builds a power levels content from the lists of users and
	// events entries beyond the moderators' and rest top-level keys.
	plContent := func(r *room, users, events, rest string) string {
		u := `"@bob:b":50,"@carol:c":50` + alicePL(r)
		if users != "" {
			u += "," + users
		}
		e := `"m.room.power_levels":50`
		if events != "" {
			e += "," + events
		}
		c := `{"users":{` + u + `},"events":{` + e + `}`
		if rest != "" {
			c += "," + rest
		}
		return c + "}"
	}
	mod := func(events, rest string) func(r *room) {
		return func(r *room) {
			r.setMember(bob, "join")
			r.setMember(carol, "join")
			r.setPL(plContent(r, "", events, rest))
		}
	}
	plEv := func(sender, content string) func(r *room) Event {
		return func(r *room) Event { return r.st(sender, TypePowerLevels, "", content) }
	}
	bobSends := func(users, events, rest string) func(r *room) Event {
		return func(r *room) Event { return r.st(bob, TypePowerLevels, "", plContent(r, users, events, rest)) }
	}
	runCases(t, []authCase{
		{
			name:  "first power levels may say anything",
			want:  ok("1-12"),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"@bob:b":1000},"ban":9000}`),
		},
		{
			name: "creator listed in users",
			want: merge(ok("1-11"), nPLCreators), rule: "",
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"@alice:a":100}}`),
		},
		{
			name:   "additional creator listed in users",
			create: `"additional_creators":["@bob:b"]`,
			want:   merge(ok("1-11"), nPLCreators), rule: "power_levels.creators_in_users",
			event: plEv(alice, `{"users":{"@bob:b":100}}`),
		},
		{
			name: "users key not a user ID",
			want: nPLUsers, rule: "power_levels.users",
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"bob":50}}`),
		},
		{
			name:  "users not an object",
			want:  nPLUsers,
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":[]}`),
		},
		{
			name:  "users null",
			want:  nPLUsers,
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":null}`),
		},
		{
			name:  "user level as a string",
			want:  merge(ok("1-9"), nPLUsers.only("10-12")),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"@bob:b":"50"}}`),
		},
		{
			name:  "user level as a float",
			want:  merge(ok("1-5"), nPLUsers.only("6-12")),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"@bob:b":50.5}}`),
		},
		{
			name:  "user level as a non-numeric string",
			want:  nPLUsers,
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"@bob:b":"fifty"}}`),
		},
		{
			name:  "user level as a boolean",
			want:  nPLUsers,
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"@bob:b":true}}`),
		},
		{
			name: "scalar as a string",
			want: merge(ok("1-9"), nPLScalarInt), rule: "",
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"ban":"50"}`),
		},
		{
			name:  "scalar null",
			want:  merge(ok("1-9"), nPLScalarInt),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"kick":null}`),
		},
		{
			name:  "scalar garbage",
			want:  merge(nPLUsers.only("1-9"), nPLScalarInt), // pre-v10: power_levels.malformed
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"redact":{"x":1}}`),
		},
		{
			name: "events value as a string",
			want: merge(ok("1-9"), nPLMapInt), rule: "",
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"events":{"m.room.name":"50"}}`),
		},
		{
			name:  "events value null",
			want:  merge(ok("1-9"), nPLMapInt),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"events":{"m.room.name":null}}`),
		},
		{
			name:  "user level null",
			want:  nPLUsers,
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"users":{"@bob:b":null}}`),
		},
		{
			name:  "events not an object",
			want:  merge(nPLUsers.only("1-9"), nPLMapInt),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"events":5}`),
		},
		{
			name:  "notifications value as a string",
			want:  merge(ok("1-9"), nPLMapInt),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"notifications":{"room":"50"}}`),
		},
		{
			// Before v6 notifications is not part of the auth rules.
			name:  "notifications garbage",
			want:  merge(ok("1-5"), nPLUsers.only("6-9"), nPLMapInt),
			setup: func(r *room) { r.drop(TypePowerLevels, "") },
			event: plEv(alice, `{"notifications":{"room":"fifty"}}`),
		},
		{
			name:  "moderator changes nothing",
			want:  ok("1-12"),
			setup: mod("", ""),
			event: bobSends("", "", ""),
		},
		{
			name: "moderator raises ban above own level",
			want: nPLScalar.sub(".2"), rule: "power_levels.scalar_new",
			setup: mod("", `"ban":50`),
			event: bobSends("", "", `"ban":51`),
		},
		{
			name:  "moderator adds kick at own level",
			want:  ok("1-12"),
			setup: mod("", ""),
			event: bobSends("", "", `"kick":50`),
		},
		{
			name: "moderator lowers a level above their own",
			want: nPLScalar.sub(".1"), rule: "power_levels.scalar_current",
			setup: mod("", `"state_default":75`),
			event: bobSends("", "", `"state_default":50`),
		},
		{
			name:  "moderator removes a level above their own",
			want:  nPLScalar.sub(".1"),
			setup: mod("", `"users_default":75`),
			event: bobSends("", "", ""),
		},
		{
			name:  "string and integer of the same value are no change",
			want:  merge(ok("1-9")),
			setup: mod("", `"invite":"75"`),
			event: bobSends("", "", `"invite":75`),
		},
		{
			name: "moderator changes an events entry above their level",
			want: nPLMapCur, rule: "power_levels.map_current",
			setup: mod(`"m.room.tombstone":100`, ""),
			event: bobSends("", `"m.room.tombstone":50`, ""),
		},
		{
			name:  "moderator removes an events entry above their level",
			want:  nPLMapCur,
			setup: mod(`"m.room.tombstone":100`, ""),
			event: bobSends("", "", ""),
		},
		{
			name: "moderator adds an events entry above their level",
			want: nPLMapNew, rule: "power_levels.map_new",
			setup: mod("", ""),
			event: bobSends("", `"m.room.name":51`, ""),
		},
		{
			name:  "moderator adds an events entry at their level",
			want:  ok("1-12"),
			setup: mod("", ""),
			event: bobSends("", `"m.room.name":50`, ""),
		},
		{
			name: "moderator changes a notifications entry above their level",
			want: merge(ok("1-5"), nPLMapCur.only("6-12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, `"@bob:b":50`, `"events":{"m.room.power_levels":50},"notifications":{"room":75}`)
			},
			event: func(r *room) Event {
				u := `"@bob:b":50`
				if !r.v.PrivilegedCreators() {
					u = `"@alice:a":100,` + u
				}
				return r.st(bob, TypePowerLevels, "", `{"users":{`+u+`},"events":{"m.room.power_levels":50},"notifications":{"room":50}}`)
			},
		},
		{
			name: "moderator adds a notifications entry above their level",
			want: merge(ok("1-5"), nPLMapNew.only("6-12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
				plWith(r, `"@bob:b":50`, `"events":{"m.room.power_levels":50}`)
			},
			event: func(r *room) Event {
				u := `"@bob:b":50`
				if !r.v.PrivilegedCreators() {
					u = `"@alice:a":100,` + u
				}
				return r.st(bob, TypePowerLevels, "", `{"users":{`+u+`},"events":{"m.room.power_levels":50},"notifications":{"room":51}}`)
			},
		},
		{
			name: "moderator demotes an equal moderator",
			want: nPLUserCur, rule: "power_levels.user_current",
			setup: mod("", ""),
			event: func(r *room) Event {
				c := `{"users":{"@bob:b":50,"@carol:c":0` + alicePL(r) + `},"events":{"m.room.power_levels":50}}`
				return r.st(bob, TypePowerLevels, "", c)
			},
		},
		{
			name:  "moderator removes an equal moderator",
			want:  nPLUserCur,
			setup: mod("", ""),
			event: func(r *room) Event {
				c := `{"users":{"@bob:b":50` + alicePL(r) + `},"events":{"m.room.power_levels":50}}`
				return r.st(bob, TypePowerLevels, "", c)
			},
		},
		{
			name:  "moderator demotes themself",
			want:  ok("1-12"),
			setup: mod("", ""),
			event: func(r *room) Event {
				c := `{"users":{"@bob:b":10,"@carol:c":50` + alicePL(r) + `},"events":{"m.room.power_levels":10}}`
				return r.st(bob, TypePowerLevels, "", c)
			},
		},
		{
			name:  "moderator promotes a user to their own level",
			want:  ok("1-12"),
			setup: mod("", ""),
			event: bobSends(`"@dave:d":50`, "", ""),
		},
		{
			name: "moderator promotes a user above their own level",
			want: nPLUserNew, rule: "power_levels.user_new",
			setup: mod("", ""),
			event: bobSends(`"@dave:d":51`, "", ""),
		},
		{
			name:  "moderator promotes themself",
			want:  nPLUserNew,
			setup: mod("", ""),
			event: func(r *room) Event {
				c := `{"users":{"@bob:b":60,"@carol:c":50` + alicePL(r) + `},"events":{"m.room.power_levels":50}}`
				return r.st(bob, TypePowerLevels, "", c)
			},
		},
		{
			name: "moderator changes a lower user",
			want: ok("1-12"),
			setup: func(r *room) {
				mod("", "")(r)
				r.setPL(plContent(r, `"@dave:d":49`, "", ""))
			},
			event: bobSends(`"@dave:d":1`, "", ""),
		},
		{
			name:  "admin or creator changes everything",
			want:  ok("1-12"),
			setup: mod("", `"ban":100`),
			event: func(r *room) Event {
				c := `{"users":{"@bob:b":0,"@carol:c":100` + alicePL(r) + `},"ban":0,"events":{"m.room.power_levels":100}}`
				return r.st(alice, TypePowerLevels, "", c)
			},
		},
	})
}

// alicePL is `,"@alice:a":100` before v12 and "" in v12, where alice is a
// creator and may not be listed.
func alicePL(r *room) string {
	if r.v.PrivilegedCreators() {
		return ""
	}
	return `,"@alice:a":100`
}

func TestPrivilegedCreators(t *testing.T) {
	runCases(t, []authCase{
		{
			name:   "additional creator sends state without a power level",
			create: `"additional_creators":["@bob:b"]`,
			want:   merge(nRequired.only("11"), ok("12")),
			setup:  func(r *room) { r.setMember(bob, "join") },
			event:  func(r *room) Event { return r.st(bob, "m.room.name", "", `{}`) },
		},
		{
			name:  "creator is above any level",
			want:  merge(nRequired.only("11"), ok("12")),
			setup: func(r *room) { r.setPL(`{"users":{"@bob:b":1},"events":{"m.room.name":9007199254740991}}`) },
			event: func(r *room) Event { return r.st(alice, "m.room.name", "", `{}`) },
		},
		{
			name:   "creators cannot kick each other",
			create: `"additional_creators":["@bob:b"]`,
			want:   merge(ok("11"), nLeave.sub(".5").only("12")),
			setup:  func(r *room) { r.setMember(bob, "join") },
			event:  func(r *room) Event { return r.mem(alice, bob, "leave") },
		},
		{
			name:   "creators cannot ban each other",
			create: `"additional_creators":["@bob:b"]`,
			want:   merge(ok("11"), nBan.sub(".3").only("12")),
			setup:  func(r *room) { r.setMember(bob, "join") },
			event:  func(r *room) Event { return r.mem(alice, bob, "ban") },
		},
		{
			name:  "nobody kicks the creator",
			want:  merge(ok("11"), nLeave.sub(".5").only("12")),
			setup: func(r *room) { r.setMember(bob, "join"); r.setPL(`{"users":{"@bob:b":9007199254740991}}`) },
			event: func(r *room) Event { return r.mem(bob, alice, "leave") },
		},
		{
			name:   "listed creator level is ignored in v12",
			create: `"additional_creators":["@bob:b"]`,
			want:   merge(nRequired.only("11"), ok("12")),
			setup: func(r *room) {
				r.setMember(bob, "join")
				// Accepted elsewhere, perhaps; the creator stays infinite.
				r.setPL(`{"users":{"@bob:b":0},"state_default":100}`)
			},
			event: func(r *room) Event { return r.st(bob, "m.room.name", "", `{}`) },
		},
	})
}
