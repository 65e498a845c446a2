package authrules

import (
	"strconv"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// timeline plays events into a room the way a server would: each event
// cites the auth events the selection algorithm picks from the current
// state, is checked against them and against the current state, and, if
// allowed, updates the state.
type timeline struct {
	t       *testing.T
	v       roomversion.Version
	roomID  string
	create  *tev
	state   map[StateKey]Event
	last    string
	n       int
	checker Checker
}

func newTimeline(t *testing.T, ver string) *timeline {
	v := mustVersion(ver)
	tl := &timeline{t: t, v: v, state: map[StateKey]Event{}}
	content := `{"room_version":"` + ver + `"}`
	if !v.CreatorInSender() {
		content = `{"room_version":"` + ver + `","creator":"@alice:a"}`
	}
	create := &tev{id: "$create:a", room: "!room:a", typ: TypeCreate, sender: alice, sk: strp(""), content: content}
	if v.RoomIDFromCreateEvent() {
		create.id, create.room = "$c0ffee", "!c0ffee"
	}
	tl.roomID, tl.create = create.room, create
	if err := tl.checker.Check(v, create, tl.get); err != nil {
		t.Fatalf("create: %v", err)
	}
	tl.apply(create)
	tl.checker.SignedByServer = func(ev Event, server string) bool { return server == "a" }
	return tl
}

func (tl *timeline) get(k StateKey) Event {
	if e, ok := tl.state[k]; ok {
		return e
	}
	return nil
}

func (tl *timeline) apply(e *tev) {
	if e.sk != nil {
		tl.state[StateKey{e.typ, *e.sk}] = e
	}
	tl.last = e.id
}

// send builds an event, checks it, and reports the error (nil: applied).
func (tl *timeline) send(sender, typ string, stateKey *string, content string) error {
	tl.n++
	e := &tev{id: "$" + strconv.Itoa(tl.n) + ":" + serverOf(sender), room: tl.roomID, typ: typ, sender: sender,
		sk: stateKey, content: content, prev: []string{tl.last}}
	var auth []Event
	for _, k := range AuthEventsNeeded(tl.v, typ, sender, stateKey, []byte(content)) {
		if a := tl.get(k); a != nil {
			auth = append(auth, a)
			e.auth = append(e.auth, a.EventID())
		}
	}
	if err := tl.checker.CheckAgainstAuthEvents(tl.v, e, auth, tl.create); err != nil {
		return err
	}
	if err := tl.checker.Check(tl.v, e, tl.get); err != nil {
		return err
	}
	tl.apply(e)
	return nil
}

func (tl *timeline) must(step string, err error) {
	tl.t.Helper()
	if err != nil {
		tl.t.Fatalf("%s: %v", step, err)
	}
}

func (tl *timeline) mustReject(step, rule string, err error) {
	tl.t.Helper()
	assertOutcome(tl.t, err, rule, "")
}

func TestStoryRoomLife(t *testing.T) {
	for _, ver := range []string{"1", "6", "9", "11", "12"} {
		t.Run("v"+ver, func(t *testing.T) {
			tl := newTimeline(t, ver)
			v := tl.v
			member := func(m string) string { return `{"membership":"` + m + `"}` }
			users := `"users":{"@alice:a":100}`
			if v.PrivilegedCreators() {
				users = `"users":{}`
			}

			tl.must("alice joins her room", tl.send(alice, TypeMember, strp(alice), member("join")))
			tl.must("alice sets power levels", tl.send(alice, TypePowerLevels, strp(""), `{`+users+`,"invite":50,"kick":50,"ban":50}`))
			tl.must("alice makes the room invite-only", tl.send(alice, TypeJoinRules, strp(""), `{"join_rule":"invite"}`))

			tl.mustReject("bob cannot join uninvited", nJoinElse[atoi(ver)],
				tl.send(bob, TypeMember, strp(bob), member("join")))
			tl.must("alice invites bob", tl.send(alice, TypeMember, strp(bob), member("invite")))
			tl.must("bob joins", tl.send(bob, TypeMember, strp(bob), member("join")))
			tl.must("bob says hello", tl.send(bob, "m.room.message", nil, `{"body":"hello"}`))
			tl.mustReject("bob cannot invite carol", nInvite.sub(".5")[atoi(ver)],
				tl.send(bob, TypeMember, strp(carol), member("invite")))
			tl.mustReject("bob cannot rename the room", nRequired[atoi(ver)],
				tl.send(bob, "m.room.name", strp(""), `{"name":"bob's"}`))

			if v.RestrictedJoins() {
				tl.must("alice restricts the room", tl.send(alice, TypeJoinRules, strp(""),
					`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!other:a"}]}`))
				tl.must("carol joins authorised by alice", tl.send(carol, TypeMember, strp(carol),
					`{"membership":"join","join_authorised_via_users_server":"@alice:a"}`))
			} else {
				tl.must("alice opens the room", tl.send(alice, TypeJoinRules, strp(""), `{"join_rule":"public"}`))
				tl.must("carol joins", tl.send(carol, TypeMember, strp(carol), member("join")))
			}

			tl.must("alice bans carol", tl.send(alice, TypeMember, strp(carol), member("ban")))
			tl.mustReject("carol cannot speak", nNotJoined[atoi(ver)],
				tl.send(carol, "m.room.message", nil, `{"body":"let me in"}`))
			tl.mustReject("carol cannot rejoin", nJoin.sub(".3")[atoi(ver)],
				tl.send(carol, TypeMember, strp(carol), member("join")))
			tl.must("alice unbans carol", tl.send(alice, TypeMember, strp(carol), member("leave")))
			tl.must("bob leaves", tl.send(bob, TypeMember, strp(bob), member("leave")))
			tl.mustReject("bob cannot leave twice", nLeave.sub(".1")[atoi(ver)],
				tl.send(bob, TypeMember, strp(bob), member("leave")))
		})
	}
}
