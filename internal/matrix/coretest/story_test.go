package coretest

import (
	"bytes"
	"testing"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/roomversion"
	"github.com/axonhs/axon/internal/matrix/stateres"
)

// Users of the stories, each on their own server.
const (
	alice = "@alice:a.test" // creates every room
	bob   = "@bob:b.test"
	carol = "@carol:c.test"
	dave  = "@dave:d.test"
	eve   = "@eve:e.test" // never joins
	frank = "@frank:f.test"
)

var (
	keyPL     = stateres.StateKey{Type: authrules.TypePowerLevels}
	keyJR     = stateres.StateKey{Type: authrules.TypeJoinRules}
	keyCreate = stateres.StateKey{Type: authrules.TypeCreate}
)

func keyMember(u string) stateres.StateKey {
	return stateres.StateKey{Type: authrules.TypeMember, StateKey: u}
}

// redact builds and submits a redaction of target by sender.
func (r *room) redact(sender, target string) (*event.Event, error) {
	r.tb.Helper()
	p := event.ProtoEvent{Type: authrules.TypeRedaction, Sender: sender, Redacts: target,
		Content: mustJSON(map[string]any{"reason": "test"})}
	e := r.buildWith(p, []string{r.last}, nil)
	return e, r.submit(e)
}

// plContent is the power levels content of the stories: alice 100 (in v12
// she is a creator and may not be listed), the given others.
func plContent(v roomversion.Version, users map[string]int) map[string]any {
	u := map[string]any{}
	if !v.PrivilegedCreators() {
		u[alice] = 100
	}
	for k, l := range users {
		u[k] = l
	}
	return map[string]any{"users": u, "ban": 50, "kick": 50, "redact": 50, "invite": 0,
		"state_default": 50, "events_default": 0, "users_default": 0,
		"events": map[string]any{"com.example.status": 0}}
}

// TestStory plays the life of a room in several room versions: signed
// events built, parsed and authorised one by one against the state so
// far, deliberately bad events rejected by the rule the spec names, and
// two forks resolved with the version's state resolution algorithm wired
// to the real authorisation rules.
func TestStory(t *testing.T) {
	for _, ver := range []string{"1", "2", "3", "6", "8", "10", "11", "12"} {
		t.Run("v"+ver, func(t *testing.T) {
			r := newRoom(t, ver, alice, nil)
			r.verifySigs = true
			v := r.v
			msg := func(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }

			r.must("alice joins", alice, authrules.TypeMember, sp(alice), member("join"))
			r.must("alice sets power levels", alice, authrules.TypePowerLevels, sp(""), plContent(v, nil))
			r.must("alice opens the room", alice, authrules.TypeJoinRules, sp(""), `{"join_rule":"public"}`)
			r.reject("eve cannot speak without joining", "sender_not_joined", eve, "m.room.message", nil, msg("hi"))
			r.reject("eve cannot join as bob", "member.join.sender_mismatch", eve, authrules.TypeMember, sp(bob), member("join"))
			carolJoin := ""
			for _, u := range []string{bob, carol, dave} {
				id := r.must(u+" joins", u, authrules.TypeMember, sp(u), member("join"))
				if u == carol {
					carolJoin = id
				}
			}
			bobMsg := r.must("bob speaks", bob, "m.room.message", nil, msg("hello"))
			r.reject("carol (0) cannot ban dave", "member.ban.power", carol, authrules.TypeMember, sp(dave), member("ban"))
			r.reject("carol (0) cannot kick dave", "member.leave.kick_power", carol, authrules.TypeMember, sp(dave), member("leave"))
			r.reject("carol (0) cannot rename the room", "required_power_level", carol, "m.room.name", sp(""), `{"name":"carol's"}`)
			r.reject("carol cannot set someone else's state", "state_key_impersonation", carol, "com.example.status", sp(dave), `{}`)
			r.must("carol sets her own user-keyed state", carol, "com.example.status", sp(carol), `{"status":"here"}`)
			r.reject("carol cannot promote herself", "required_power_level", carol, authrules.TypePowerLevels, sp(""),
				plContent(v, map[string]int{carol: 100}))
			r.must("alice makes bob a moderator", alice, authrules.TypePowerLevels, sp(""), plContent(v, map[string]int{bob: 50}))
			r.reject("bob (50) cannot ban alice (100)", "member.ban.power", bob, authrules.TypeMember, sp(alice), member("ban"))
			r.reject("bob (50) cannot make carol 75", "power_levels.user_new", bob, authrules.TypePowerLevels, sp(""),
				plContent(v, map[string]int{bob: 50, carol: 75}))

			// Redactions.
			carolMsg := r.must("carol speaks", carol, "m.room.message", nil, msg("spam"))
			red, err := r.redact(bob, carolMsg)
			if err != nil {
				t.Fatalf("bob (50 ≥ redact 50) redacts carol's message: %v", err)
			}
			if !authrules.RedactionApplies(v, red, r.events[carolMsg], r.provider(r.state(r.order[len(r.order)-2]))) {
				t.Fatalf("bob's redaction of carol's message must apply")
			}
			if got := r.events[carolMsg].Redacted().Content(); !bytes.Equal(got, []byte(`{}`)) {
				t.Fatalf("redacted message content = %s, want {}", got)
			}
			if red.Redacts() != carolMsg {
				t.Fatalf("Redacts() = %q, want %q", red.Redacts(), carolMsg)
			}
			if v.RedactionsInAuthRules() {
				// v1, v2: the auth rules themselves check the redaction
				// (rooms/v1 auth rules, "If type is m.room.redaction").
				_, err := r.redact(carol, bobMsg)
				assertRule(t, "carol (0, other server) cannot redact bob's message", err, "redaction")
			} else {
				// v3 onwards: the event is authorised as any message and
				// the redaction is simply not applied (fragment
				// v3-handling-redactions).
				stateAt := r.last
				red, err := r.redact(carol, bobMsg)
				if err != nil {
					t.Fatalf("carol's redaction must pass the auth rules from v3: %v", err)
				}
				if authrules.RedactionApplies(v, red, r.events[bobMsg], r.provider(r.state(stateAt))) {
					t.Fatalf("carol's redaction of bob's message must not apply")
				}
			}

			// Leaving, rejoining, banning.
			r.must("dave leaves", dave, authrules.TypeMember, sp(dave), member("leave"))
			r.reject("dave cannot leave twice", "member.leave.self", dave, authrules.TypeMember, sp(dave), member("leave"))
			r.must("dave rejoins", dave, authrules.TypeMember, sp(dave), member("join"))
			r.must("bob (50) bans dave", bob, authrules.TypeMember, sp(dave), member("ban"))
			r.reject("dave cannot speak", "sender_not_joined", dave, "m.room.message", nil, msg("unfair"))
			r.reject("dave cannot rejoin", "member.join.banned", dave, authrules.TypeMember, sp(dave), member("join"))
			r.must("bob says goodbye to dave", bob, "m.room.message", nil, msg("bye dave"))

			// Fork 1: alice demotes bob while, concurrently, bob bans
			// carol. Both are power events. In v2 the reverse topological
			// power ordering puts alice's (100) before bob's (50); bob's ban
			// then fails the iterative auth checks (50 → 0 < ban 50) and
			// carol's join, the other conflicted value, is re-authorised.
			// v1 sorts each conflicted key by depth: the old power levels,
			// then the demotion (allowed); the old join, then the ban
			// (disallowed by the demoted levels): the same outcome.
			tip := r.last
			demote := r.mustAfter("alice demotes bob", []string{tip}, alice, authrules.TypePowerLevels, sp(""), plContent(v, nil))
			ban := r.mustAfter("bob bans carol", []string{tip}, bob, authrules.TypeMember, sp(carol), member("ban"))
			res, err := r.resolve(r.state(demote), r.state(ban))
			if err != nil {
				t.Fatal(err)
			}
			want := r.state(demote).Clone()
			want[keyMember(carol)] = carolJoin
			if !equalState(res, want) {
				t.Fatalf("fork 1 resolved to\n%swant\n%s", r.describe(res), r.describe(want))
			}
			merge := r.mustAfter("alice merges the fork", []string{demote, ban}, alice, "m.room.message", nil, msg("merged"))
			if !equalState(r.state(merge), want) {
				t.Fatalf("state after the merge\n%swant\n%s", r.describe(r.state(merge)), r.describe(want))
			}
			r.must("carol, still joined, speaks", carol, "m.room.message", nil, msg("phew"))
			r.reject("bob, demoted, cannot ban carol", "member.ban.power", bob, authrules.TypeMember, sp(carol), member("ban"))

			// Fork 2: alice makes the room invite-only while frank joins.
			// v2 (rooms/v2 "Unconflicted state map and conflicted state
			// set": a key not present in every state is conflicted):
			// frank's join is conflicted, checked after the join rules
			// change, and rejected; frank is not in the room. v1 (rooms/v1
			// "a conflict occurs between states where those states have
			// different event_ids for the same (event_type, state_key)"):
			// frank's key is in one state only, so it is not conflicting
			// and is kept.
			tip = r.last
			invite := r.mustAfter("alice makes the room invite-only", []string{tip}, alice, authrules.TypeJoinRules, sp(""), `{"join_rule":"invite"}`)
			join := r.mustAfter("frank joins", []string{tip}, frank, authrules.TypeMember, sp(frank), member("join"))
			res, err = r.resolve(r.state(invite), r.state(join))
			if err != nil {
				t.Fatal(err)
			}
			want = r.state(invite).Clone()
			frankIn := v.StateResAlgorithm() == roomversion.StateResV1
			if frankIn {
				want[keyMember(frank)] = join
			}
			if !equalState(res, want) {
				t.Fatalf("fork 2 resolved to\n%swant\n%s", r.describe(res), r.describe(want))
			}
			r.mustAfter("alice merges the second fork", []string{invite, join}, alice, "m.room.message", nil, msg("merged again"))
			if frankIn {
				r.must("frank speaks (v1 kept his join)", frank, "m.room.message", nil, msg("hi"))
			} else {
				r.reject("frank cannot speak (his join lost)", "sender_not_joined", frank, "m.room.message", nil, msg("hi"))
				r.reject("frank cannot join again uninvited", "member.join.otherwise", frank, authrules.TypeMember, sp(frank), member("join"))
			}
			r.must("alice invites eve", alice, authrules.TypeMember, sp(eve), member("invite"))
			r.must("eve joins", eve, authrules.TypeMember, sp(eve), member("join"))

			if got := r.state(r.last)[keyCreate]; got != r.create.EventID() {
				t.Fatalf("create event in final state = %s, want %s", got, r.create.EventID())
			}
			t.Logf("%d events accepted", len(r.order))
		})
	}
}

func equalState(a, b stateres.StateMap) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
