package authrules

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

func TestAuthEventsNeeded(t *testing.T) {
	create := StateKey{TypeCreate, ""}
	pl := StateKey{TypePowerLevels, ""}
	jr := StateKey{TypeJoinRules, ""}
	m := func(u string) StateKey { return StateKey{TypeMember, u} }
	for _, tc := range []struct {
		name     string
		ver      string
		typ      string
		sender   string
		sk       *string
		content  string
		want     []StateKey
		wantSkip bool
	}{
		{name: "create has none", ver: "11", typ: TypeCreate, sender: alice, sk: strp(""), content: `{}`, want: nil},
		{name: "message v11", ver: "11", typ: "m.room.message", sender: bob, content: `{}`, want: []StateKey{create, pl, m(bob)}},
		{name: "message v12 omits create", ver: "12", typ: "m.room.message", sender: bob, content: `{}`, want: []StateKey{pl, m(bob)}},
		{name: "own join", ver: "6", typ: TypeMember, sender: bob, sk: strp(bob), content: `{"membership":"join"}`,
			want: []StateKey{create, pl, m(bob), jr}},
		{name: "invite", ver: "6", typ: TypeMember, sender: alice, sk: strp(bob), content: `{"membership":"invite"}`,
			want: []StateKey{create, pl, m(alice), m(bob), jr}},
		{name: "knock", ver: "7", typ: TypeMember, sender: bob, sk: strp(bob), content: `{"membership":"knock"}`,
			want: []StateKey{create, pl, m(bob), jr}},
		{name: "kick needs no join rules", ver: "6", typ: TypeMember, sender: alice, sk: strp(bob), content: `{"membership":"leave"}`,
			want: []StateKey{create, pl, m(alice), m(bob)}},
		{name: "third-party invite", ver: "10", typ: TypeMember, sender: alice, sk: strp(bob),
			content: `{"membership":"invite","third_party_invite":{"signed":{"mxid":"@bob:b","token":"tok"}}}`,
			want:    []StateKey{create, pl, m(alice), m(bob), jr, {TypeThirdPartyInvite, "tok"}}},
		{name: "third-party invite without token", ver: "10", typ: TypeMember, sender: alice, sk: strp(bob),
			content: `{"membership":"invite","third_party_invite":{"signed":{"mxid":"@bob:b"}}}`,
			want:    []StateKey{create, pl, m(alice), m(bob), jr}},
		{name: "restricted join", ver: "8", typ: TypeMember, sender: bob, sk: strp(bob),
			content: `{"membership":"join","join_authorised_via_users_server":"@carol:c"}`,
			want:    []StateKey{create, pl, m(bob), jr, m(carol)}},
		{name: "authoriser ignored before v8", ver: "7", typ: TypeMember, sender: bob, sk: strp(bob),
			content: `{"membership":"join","join_authorised_via_users_server":"@carol:c"}`,
			want:    []StateKey{create, pl, m(bob), jr}},
		{name: "authoriser ignored for other memberships", ver: "12", typ: TypeMember, sender: bob, sk: strp(bob),
			content: `{"membership":"leave","join_authorised_via_users_server":"@carol:c"}`,
			want:    []StateKey{pl, m(bob)}},
		{name: "member without state key", ver: "12", typ: TypeMember, sender: bob, content: `{"membership":"join"}`,
			want: []StateKey{pl, m(bob)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AuthEventsNeeded(mustVersion(tc.ver), tc.typ, tc.sender, tc.sk, []byte(tc.content))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckAuthEvents(t *testing.T) {
	type setup struct {
		r    *room
		ev   *tev
		auth []Event
	}
	// base: bob, joined, sends a message citing create (not in v12), power
	// levels and his membership.
	base := func(ver int) setup {
		r := newRoom(mustVersion(strconv.Itoa(ver)), "")
		r.setMember(bob, "join")
		ev := r.msg(bob, "m.room.message", `{}`)
		var auth []Event
		if r.v.CreateEventInAuthEvents() {
			auth = append(auth, r.get(StateKey{TypeCreate, ""}))
		}
		auth = append(auth, r.get(StateKey{TypePowerLevels, ""}), r.get(StateKey{TypeMember, bob}))
		return setup{r, ev, auth}
	}
	for _, tc := range []struct {
		name   string
		want   verMap
		modify func(s *setup)
	}{
		{name: "as selected", want: ok("1-12"), modify: func(s *setup) {}},
		{name: "power levels missing is fine", want: ok("1-12"), modify: func(s *setup) {
			s.auth = slices.DeleteFunc(s.auth, func(e Event) bool { return e.Type() == TypePowerLevels })
		}},
		{name: "duplicate power levels", want: nAuthEvents.sub(".1"), modify: func(s *setup) {
			s.auth = append(s.auth, s.r.st(alice, TypePowerLevels, "", `{}`))
		}},
		{name: "join rules for a message", want: nAuthEvents.sub(".2"), modify: func(s *setup) {
			s.auth = append(s.auth, s.r.get(StateKey{TypeJoinRules, ""}))
		}},
		{name: "someone else's membership", want: nAuthEvents.sub(".2"), modify: func(s *setup) {
			s.auth = append(s.auth, s.r.get(StateKey{TypeMember, alice}))
		}},
		{name: "non-state auth event", want: nAuthEvents.sub(".2"), modify: func(s *setup) {
			s.auth = append(s.auth, s.r.msg(alice, "m.room.message", `{}`))
		}},
		{name: "create cited in v12", want: merge(ok("1-11"), nAuthEvents.sub(".2").only("12")), modify: func(s *setup) {
			if !s.r.v.CreateEventInAuthEvents() {
				s.auth = append(s.auth, s.r.create)
			}
		}},
		{name: "no create", want: merge(nAuthEvents.sub(".4").only("1-11"), ok("12")), modify: func(s *setup) {
			s.auth = slices.DeleteFunc(s.auth, func(e Event) bool { return e.Type() == TypeCreate })
		}},
		{name: "auth event from another room", want: nAuthEvents.sub(".5"), modify: func(s *setup) {
			pl := s.r.st(alice, TypePowerLevels, "", `{}`)
			pl.room = "!elsewhere:a"
			s.auth = slices.DeleteFunc(s.auth, func(e Event) bool { return e.Type() == TypePowerLevels })
			s.auth = append(s.auth, pl)
		}},
		{name: "create event itself is not subject", want: ok("1-12"), modify: func(s *setup) {
			s.ev = s.r.create
			s.auth = append(s.auth, s.auth...)
		}},
	} {
		for _, ver := range slices.Sorted(maps.Keys(tc.want)) {
			t.Run(tc.name+"/v"+strconv.Itoa(ver), func(t *testing.T) {
				s := base(ver)
				tc.modify(&s)
				err := CheckAuthEvents(s.r.v, s.ev, s.auth)
				assertOutcome(t, err, tc.want[ver], "")
			})
		}
	}

	t.Run("member event selection", func(t *testing.T) {
		r := newRoom(mustVersion("9"), "")
		r.setJoinRule(JoinRuleRestricted)
		ev := r.st(bob, TypeMember, bob, `{"membership":"join","join_authorised_via_users_server":"@alice:a"}`)
		auth := []Event{r.create, r.get(StateKey{TypePowerLevels, ""}), r.get(StateKey{TypeJoinRules, ""}), r.get(StateKey{TypeMember, alice})}
		if err := CheckAuthEvents(r.v, ev, auth); err != nil {
			t.Fatal(err)
		}
		// The same auth events in v7 cite a membership nobody selects.
		r7 := newRoom(mustVersion("7"), "")
		err := CheckAuthEvents(r7.v, ev, auth)
		assertOutcome(t, err, "2.2", "auth_events.unexpected")
	})

	t.Run("invalid version", func(t *testing.T) {
		s := base(11)
		if err := CheckAuthEvents(roomversion.Version{}, s.ev, s.auth); !errors.Is(err, ErrInvalidRoomVersion) {
			t.Fatalf("got %v", err)
		}
		if err := Check(roomversion.Version{}, s.ev, s.r.get); !errors.Is(err, ErrInvalidRoomVersion) {
			t.Fatalf("got %v", err)
		}
	})
}
