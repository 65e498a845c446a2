package authrules

import (
	"testing"
)

// createEv builds an m.room.create event for r with the given content.
func createEv(r *room, content string) *tev {
	e := &tev{id: r.create.id, room: r.id, typ: TypeCreate, sender: alice, sk: strp(""), content: content}
	return e
}

// creatorField is `"creator":"@alice:a",` where the version needs it.
func creatorField(r *room) string {
	if r.v.CreatorInSender() {
		return ""
	}
	return `"creator":"` + alice + `",`
}

func TestCreateRules(t *testing.T) {
	runCases(t, []authCase{
		{
			name: "alice creates a room",
			want: ok("1-12"),
			event: func(r *room) Event {
				return createEv(r, `{`+creatorField(r)+`"room_version":"`+r.v.ID()+`"}`)
			},
		},
		{
			name: "room_version absent means version 1",
			want: ok("1-12"),
			event: func(r *room) Event {
				return createEv(r, `{`+creatorField(r)+`"m.federate":true}`)
			},
		},
		{
			name: "create with prev_events",
			want: nCreate.sub(".1"), rule: "create.prev_events",
			event: func(r *room) Event {
				return createEv(r, `{`+creatorField(r)+`"room_version":"1"}`).withPrev("$x:a")
			},
		},
		{
			name: "room ID on another server than the sender",
			want: nCreate.sub(".2").only("1-11"), rule: "create.room_id_domain",
			event: func(r *room) Event {
				e := createEv(r, `{`+creatorField(r)+`"room_version":"1"}`)
				e.room = "!room:b"
				return e
			},
		},
		{
			name: "room ID without a server",
			want: nCreate.sub(".2").only("1-11"), rule: "create.room_id_domain",
			event: func(r *room) Event {
				e := createEv(r, `{`+creatorField(r)+`"room_version":"1"}`)
				e.room = "!room"
				return e
			},
		},
		{
			name: "v12 create derived room ID or none is fine",
			want: ok("12"),
			event: func(r *room) Event {
				e := createEv(r, `{"room_version":"12"}`)
				e.room = ""
				return e
			},
		},
		{
			name: "v12 create carrying its own room_id",
			want: nCreate.sub(".2").only("12"), rule: "create.room_id_present",
			event: func(r *room) Event {
				e := createEv(r, `{"room_version":"12"}`)
				e.room = "!elsewhere:a"
				return e
			},
		},
		{
			name: "unknown room_version",
			want: nCreate.sub(".3"), rule: "create.room_version",
			event: func(r *room) Event {
				return createEv(r, `{`+creatorField(r)+`"room_version":"99"}`)
			},
		},
		{
			name: "room_version not a string",
			want: nCreate.sub(".3"), rule: "create.room_version",
			event: func(r *room) Event {
				return createEv(r, `{`+creatorField(r)+`"room_version":12}`)
			},
		},
		{
			name: "no creator property",
			want: merge(nCreate.sub(".4").only("1-10"), ok("11-12")),
			event: func(r *room) Event {
				return createEv(r, `{"room_version":"1"}`)
			},
		},
		{
			name: "additional_creators valid",
			want: ok("11-12"),
			event: func(r *room) Event {
				return createEv(r, `{"room_version":"12","additional_creators":["@bob:b","@carol:c"]}`)
			},
		},
		{
			name: "additional_creators with an invalid user ID",
			want: merge(ok("11"), nCreate.sub(".4").only("12")), rule: "create.additional_creators",
			event: func(r *room) Event {
				return createEv(r, `{"room_version":"12","additional_creators":["@bob:b","carol"]}`)
			},
		},
		{
			name: "additional_creators not an array",
			want: merge(ok("11"), nCreate.sub(".4").only("12")),
			event: func(r *room) Event {
				return createEv(r, `{"additional_creators":"@bob:b"}`)
			},
		},
		{
			name: "additional_creators with a non-string",
			want: merge(ok("11"), nCreate.sub(".4").only("12")),
			event: func(r *room) Event {
				return createEv(r, `{"additional_creators":[5]}`)
			},
		},
		{
			name: "additional_creators empty",
			want: ok("12"),
			event: func(r *room) Event {
				return createEv(r, `{"additional_creators":[]}`)
			},
		},
	})
}

func TestRoomAndCreateState(t *testing.T) {
	runCases(t, []authCase{
		{
			name: "v12 room ID not the create event's ID",
			want: nRoomID, rule: "room_id.not_create_event",
			event: func(r *room) Event {
				e := r.msg(alice, "m.room.message", `{}`)
				e.room = "!otherhash"
				return e
			},
		},
		{
			name: "no create event in state",
			want: merge(nAuthEvents.sub(".4").only("1-11"), nRoomID), rule: "",
			setup: func(r *room) { r.drop(TypeCreate, "") },
			event: func(r *room) Event { return r.msg(alice, "m.room.message", `{}`) },
		},
		{
			name: "create event of another room",
			want: nAuthEvents.sub(".5").only("1-11"), rule: "auth_events.room_id",
			setup: func(r *room) {
				c := *r.create
				c.room = "!other:a"
				r.put(&c)
			},
			event: func(r *room) Event { return r.msg(alice, "m.room.message", `{}`) },
		},
	})
}

func TestFederate(t *testing.T) {
	runCases(t, []authCase{
		{
			name: "m.federate false: remote member's message", create: `"m.federate":false`,
			want: nFederate, rule: "federate",
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name: "m.federate false: remote join", create: `"m.federate":false`,
			want:  nFederate,
			setup: func(r *room) { r.setJoinRule(JoinRulePublic) },
			event: func(r *room) Event { return r.mem(bob, bob, "join") },
		},
		{
			name: "m.federate false: same server as the creator", create: `"m.federate":false`,
			want: ok("1-12"),
			setup: func(r *room) {
				r.setMember("@zed:a", "join")
			},
			event: func(r *room) Event { return r.msg("@zed:a", "m.room.message", `{}`) },
		},
		{
			name: "m.federate true", create: `"m.federate":true`,
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
		{
			name: "m.federate not a boolean is not false", create: `"m.federate":"false"`,
			want:  ok("1-12"),
			setup: func(r *room) { r.setMember(bob, "join") },
			event: func(r *room) Event { return r.msg(bob, "m.room.message", `{}`) },
		},
	})
}

func TestAliases(t *testing.T) {
	runCases(t, []authCase{
		{
			name: "server publishes its aliases without being joined",
			// v1–v5 allow by rule 4; from v6 it is an ordinary state
			// event and bob is not joined.
			want:  merge(ok("1-5"), nNotJoined.only("6-12")),
			event: func(r *room) Event { return r.st(bob, TypeAliases, "b", `{"aliases":["#x:b"]}`) },
		},
		{
			name: "aliases for another server",
			want: merge(nAliases.sub(".2"), ok("6-12")), rule: "",
			event: func(r *room) Event { return r.st(alice, TypeAliases, "b", `{"aliases":[]}`) },
		},
		{
			name: "aliases without state_key",
			want: merge(nAliases.sub(".1"), ok("6-12")),
			event: func(r *room) Event {
				return r.msg(alice, TypeAliases, `{"aliases":[]}`)
			},
		},
	})
}
