package push

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/storage"
)

// fakeRoom is a room with fixed members and power levels.
type fakeRoom struct {
	members int
	levels  map[string]int64
	notif   map[string]int64
}

func (r fakeRoom) MemberCount() int            { return r.members }
func (r fakeRoom) UserLevel(user string) int64 { return r.levels[user] }
func (r fakeRoom) NotificationLevel(k string) int64 {
	if l, ok := r.notif[k]; ok {
		return l
	}
	return 50
}

const bob = "@bob:example.org"

// pdu builds an event sent by alice with the given type and content.
func pdu(typ, content string, extra ...string) []byte {
	s := fmt.Sprintf(`{"content":%s,"event_id":"$e","room_id":"!r:example.org","sender":"@alice:example.org","type":%q`, content, typ)
	for _, e := range extra {
		s += "," + e
	}
	return []byte(s + "}")
}

// conditionMatches evaluates one condition (as JSON) against an event.
func conditionMatches(t *testing.T, cond string, ev *Event, displayName string) bool {
	t.Helper()
	c := compileCondition(json.RawMessage(cond))
	return c.matches(ev, displayName)
}

var group = fakeRoom{members: 5, levels: map[string]int64{"@alice:example.org": 50}}

func TestEventMatchCondition(t *testing.T) {
	topic := NewEvent(pdu("m.room.topic", `{"topic":"Lunch plans","n":5,"nested":{"k":"v"},"m.dotted":"yes"}`, `"state_key":""`), group)
	for cond, want := range map[string]bool{
		`{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`:   true,
		`{"kind":"event_match","key":"content.topic","pattern":"lunch"}`:    false, // whole value outside content.body
		`{"kind":"event_match","key":"type","pattern":"m.room.topic"}`:      true,
		`{"kind":"event_match","key":"state_key","pattern":""}`:             true,
		`{"kind":"event_match","key":"content.missing","pattern":"*"}`:      false, // absent: no match even for *
		`{"kind":"event_match","key":"content.n","pattern":"*"}`:            false, // not a string
		`{"kind":"event_match","key":"content.nested","pattern":"*"}`:       false,
		`{"kind":"event_match","key":"content.nested.k","pattern":"v"}`:     true,
		`{"kind":"event_match","key":"content.m\\.dotted","pattern":"yes"}`: true,
		`{"kind":"event_match","key":"content.m.dotted","pattern":"yes"}`:   false, // unescaped dot: a nested path
		`{"kind":"event_match","key":"content.topic"}`:                      false, // malformed: never matches
		`{"kind":"event_match","pattern":"x"}`:                              false,
	} {
		if got := conditionMatches(t, cond, topic, ""); got != want {
			t.Errorf("%s = %v, want %v", cond, got, want)
		}
	}
	msg := NewEvent(pdu("m.room.message", `{"body":"An exciting triple-whammy","msgtype":"m.text"}`), group)
	if !conditionMatches(t, `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, msg, "") {
		t.Error("content.body matches words")
	}
}

func TestEventPropertyIsCondition(t *testing.T) {
	// The spec's example: content.m\.federate is true.
	create := NewEvent(pdu("m.room.create", `{"creator":"@example:example.org","m.federate":true,"n":42,"s":"str","z":null,"o":{},"a":[1]}`, `"state_key":""`), group)
	for cond, want := range map[string]bool{
		`{"kind":"event_property_is","key":"content.m\\.federate","value":true}`:   true,
		`{"kind":"event_property_is","key":"content.m\\.federate","value":"true"}`: false, // no casting
		`{"kind":"event_property_is","key":"content.m\\.federate","value":1}`:      false,
		`{"kind":"event_property_is","key":"content.n","value":42}`:                true,
		`{"kind":"event_property_is","key":"content.n","value":42.0}`:              false, // not an integer: never matches
		`{"kind":"event_property_is","key":"content.s","value":"str"}`:             true,
		`{"kind":"event_property_is","key":"content.s","value":"STR"}`:             false, // exact, not case-insensitive
		`{"kind":"event_property_is","key":"content.z","value":null}`:              true,
		`{"kind":"event_property_is","key":"content.missing","value":null}`:        false,
		`{"kind":"event_property_is","key":"content.o","value":{}}`:                false,
		`{"kind":"event_property_is","key":"content.a","value":[1]}`:               false,
		`{"kind":"event_property_is","key":"content.n","value":9007199254740992}`:  false, // beyond 2^53-1
	} {
		if got := conditionMatches(t, cond, create, ""); got != want {
			t.Errorf("%s = %v, want %v", cond, got, want)
		}
	}
	escaped := NewEvent(pdu("m.room.message", `{"s":"a\u00e9b"}`), group)
	if !conditionMatches(t, `{"kind":"event_property_is","key":"content.s","value":"aéb"}`, escaped, "") {
		t.Error("a string with escapes equals its decoded value")
	}
}

func TestEventPropertyContainsCondition(t *testing.T) {
	// The spec's example: content.alt_aliases contains "#myroom:example.com".
	ev := NewEvent(pdu("m.room.canonical_alias", `{"alias":"#somewhere:localhost","alt_aliases":["#somewhere:example.org","#myroom:example.com",{"x":1},7,true]}`, `"state_key":""`), group)
	for cond, want := range map[string]bool{
		`{"kind":"event_property_contains","key":"content.alt_aliases","value":"#myroom:example.com"}`: true,
		`{"kind":"event_property_contains","key":"content.alt_aliases","value":":example.com"}`:        false,
		`{"kind":"event_property_contains","key":"content.alt_aliases","value":7}`:                     true,
		`{"kind":"event_property_contains","key":"content.alt_aliases","value":true}`:                  true,
		`{"kind":"event_property_contains","key":"content.alias","value":"#somewhere:localhost"}`:      false, // not an array
		`{"kind":"event_property_contains","key":"content.none","value":"x"}`:                          false,
	} {
		if got := conditionMatches(t, cond, ev, ""); got != want {
			t.Errorf("%s = %v, want %v", cond, got, want)
		}
	}
}

func TestContainsDisplayNameCondition(t *testing.T) {
	ev := NewEvent(pdu("m.room.message", `{"body":"Is BOB around?","msgtype":"m.text"}`), group)
	cond := `{"kind":"contains_display_name"}`
	for name, want := range map[string]bool{"Bob": true, "bob": true, "Bo": false, "": false, "Bobby": false} {
		if got := conditionMatches(t, cond, ev, name); got != want {
			t.Errorf("display name %q: %v, want %v", name, got, want)
		}
	}
	noBody := NewEvent(pdu("m.room.message", `{"body":5}`), group)
	if conditionMatches(t, cond, noBody, "Bob") {
		t.Error("a body that is not a string matches no display name")
	}
}

func TestRoomMemberCountCondition(t *testing.T) {
	ev := NewEvent(pdu("m.room.message", `{}`), fakeRoom{members: 2})
	for is, want := range map[string]bool{
		"2": true, "==2": true, "3": false, "<3": true, "<2": false, ">1": true, ">2": false,
		"<=2": true, "<=1": false, ">=2": true, ">=3": false,
		"=2": false, "=<2": false, "two": false, "": false, "-2": false, " 2": false,
	} {
		cond := fmt.Sprintf(`{"kind":"room_member_count","is":%q}`, is)
		if got := conditionMatches(t, cond, ev, ""); got != want {
			t.Errorf("is %q with 2 members: %v, want %v", is, got, want)
		}
	}
	if conditionMatches(t, `{"kind":"room_member_count"}`, ev, "") {
		t.Error("room_member_count without is matches")
	}
}

func TestSenderNotificationPermissionCondition(t *testing.T) {
	cond := `{"kind":"sender_notification_permission","key":"room"}`
	for _, tc := range []struct {
		room fakeRoom
		want bool
	}{
		{fakeRoom{levels: map[string]int64{"@alice:example.org": 50}}, true}, // default requirement 50
		{fakeRoom{levels: map[string]int64{"@alice:example.org": 49}}, false},
		{fakeRoom{levels: map[string]int64{"@alice:example.org": 10}, notif: map[string]int64{"room": 10}}, true},
		{fakeRoom{levels: map[string]int64{"@alice:example.org": 100}, notif: map[string]int64{"room": 101}}, false},
	} {
		ev := NewEvent(pdu("m.room.message", `{}`), tc.room)
		if got := conditionMatches(t, cond, ev, ""); got != tc.want {
			t.Errorf("levels %v, notifications %v: %v, want %v", tc.room.levels, tc.room.notif, got, tc.want)
		}
	}
}

func TestUnknownConditionNeverMatches(t *testing.T) {
	ev := NewEvent(pdu("m.room.message", `{"body":"hi"}`), group)
	for _, cond := range []string{`{"kind":"org.example.custom"}`, `{"kind":5}`, `"event_match"`, `{}`} {
		if conditionMatches(t, cond, ev, "") {
			t.Errorf("%s matched", cond)
		}
	}
}

// defaultOutcome evaluates bob's default rules.
func defaultOutcome(t *testing.T, ev []byte, room Room, displayName string, change func(*Ruleset)) Outcome {
	t.Helper()
	rs := buildRuleset(bob, nil)
	if change != nil {
		change(rs)
	}
	return Compile(rs).Evaluate(NewEvent(ev, room), displayName)
}

func TestDefaultRules(t *testing.T) {
	oneToOne := fakeRoom{members: 2, levels: map[string]int64{"@alice:example.org": 100}}
	for _, tc := range []struct {
		name        string
		ev          []byte
		room        Room
		rule        string
		notify, hl  bool
		displayName string
	}{
		{"message in a group", pdu("m.room.message", `{"body":"hi","msgtype":"m.text"}`), group, ".m.rule.message", true, false, "Bob"},
		{"message in a 1:1", pdu("m.room.message", `{"body":"hi","msgtype":"m.text"}`), oneToOne, ".m.rule.room_one_to_one", true, false, ""},
		{"encrypted in a 1:1", pdu("m.room.encrypted", `{"ciphertext":"x"}`), oneToOne, ".m.rule.encrypted_room_one_to_one", true, false, ""},
		{"encrypted in a group", pdu("m.room.encrypted", `{"ciphertext":"x"}`), group, ".m.rule.encrypted", true, false, ""},
		{"notice", pdu("m.room.message", `{"body":"bob","msgtype":"m.notice"}`), group, ".m.rule.suppress_notices", false, false, "bob"},
		{"user mention", pdu("m.room.message", `{"body":"hey","m.mentions":{"user_ids":["@bob:example.org"]}}`), group, ".m.rule.is_user_mention", true, true, ""},
		{"someone else's mention", pdu("m.room.message", `{"body":"hey Bob","m.mentions":{"user_ids":["@carol:example.org"]}}`), group, ".m.rule.message", true, false, "Bob"},
		{"display name without m.mentions", pdu("m.room.message", `{"body":"hey Bob!"}`), group, ".m.rule.contains_display_name", true, true, "Bob"},
		{"user name without m.mentions", pdu("m.room.message", `{"body":"ping BOB"}`), group, ".m.rule.contains_user_name", true, true, ""},
		{"room mention with power", pdu("m.room.message", `{"body":"all","m.mentions":{"room":true}}`), group, ".m.rule.is_room_mention", true, true, ""},
		{"room mention without power", pdu("m.room.message", `{"body":"all","m.mentions":{"room":true}}`), fakeRoom{members: 5}, ".m.rule.message", true, false, ""},
		{"legacy @room with power", pdu("m.room.message", `{"body":"@room hi"}`), group, ".m.rule.roomnotif", true, true, ""},
		{"legacy @room skipped with m.mentions", pdu("m.room.message", `{"body":"@room hi","m.mentions":{}}`), group, ".m.rule.message", true, false, ""},
		{"edit", pdu("m.room.message", `{"body":"* hi","m.relates_to":{"rel_type":"m.replace","event_id":"$x"}}`), group, ".m.rule.suppress_edits", false, false, ""},
		{"edit that mentions", pdu("m.room.message", `{"body":"* hi","m.mentions":{"user_ids":["@bob:example.org"]},"m.relates_to":{"rel_type":"m.replace","event_id":"$x"}}`), group, ".m.rule.is_user_mention", true, true, ""},
		{"reaction", pdu("m.reaction", `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$x","key":"👍"}}`), group, ".m.rule.reaction", false, false, ""},
		{"invite for bob", pdu("m.room.member", `{"membership":"invite"}`, `"state_key":"@bob:example.org"`), group, ".m.rule.invite_for_me", true, false, ""},
		{"invite for carol", pdu("m.room.member", `{"membership":"invite"}`, `"state_key":"@carol:example.org"`), group, ".m.rule.member_event", false, false, ""},
		{"tombstone", pdu("m.room.tombstone", `{"body":"moved"}`, `"state_key":""`), group, ".m.rule.tombstone", true, true, ""},
		{"server ACL", pdu("m.room.server_acl", `{}`, `"state_key":""`), group, ".m.rule.room.server_acl", false, false, ""},
		{"call", pdu("m.call.invite", `{}`), group, ".m.rule.call", true, false, ""},
		{"topic change", pdu("m.room.topic", `{"topic":"bob"}`, `"state_key":""`), group, "", false, false, "bob"},
	} {
		got := defaultOutcome(t, tc.ev, tc.room, tc.displayName, nil)
		if got.RuleID != tc.rule || got.Notify != tc.notify || got.Highlight != tc.hl {
			t.Errorf("%s: %+v, want rule %q notify %v highlight %v", tc.name, got, tc.rule, tc.notify, tc.hl)
		}
	}
}

func TestUserRulesAndChangedDefaults(t *testing.T) {
	msg := pdu("m.room.message", `{"body":"I like cake","msgtype":"m.text"}`)
	set := func(kind Kind, id string, f func(*Rule)) func(*Ruleset) {
		return func(rs *Ruleset) {
			list := rs.Of(kind)
			for i := range list {
				if list[i].RuleID == id {
					f(&list[i])
				}
			}
		}
	}
	// The master rule silences everything.
	if got := defaultOutcome(t, msg, group, "", set(KindOverride, ".m.rule.master", func(r *Rule) { r.Enabled = true })); got.Notify || got.RuleID != ".m.rule.master" {
		t.Errorf("master: %+v", got)
	}
	// A disabled default rule is skipped.
	if got := defaultOutcome(t, msg, group, "", set(KindUnderride, ".m.rule.message", func(r *Rule) { r.Enabled = false })); got.Notify {
		t.Errorf("disabled .m.rule.message: %+v", got)
	}
	// The legacy dont_notify action is ignored, leaving no notification.
	if got := defaultOutcome(t, msg, group, "", set(KindUnderride, ".m.rule.message", func(r *Rule) {
		r.Actions = json.RawMessage(`["dont_notify","coalesce"]`)
	})); got.Notify || got.RuleID != ".m.rule.message" {
		t.Errorf("dont_notify: %+v", got)
	}
	user := func(r storage.PushRule) Outcome {
		t.Helper()
		rs := buildRuleset(bob, &storage.UserPushRules{Rules: []storage.PushRule{r}})
		return Compile(rs).Evaluate(NewEvent(msg, group), "")
	}
	pattern := "cake"
	got := user(storage.PushRule{Kind: "content", RuleID: "cake", Enabled: true, Pattern: &pattern,
		Actions: []byte(`["notify",{"set_tweak":"highlight","value":true}]`)})
	if got.RuleID != "cake" || !got.Highlight {
		t.Errorf("content rule: %+v", got)
	}
	got = user(storage.PushRule{Kind: "room", RuleID: "!r:example.org", Enabled: true, Actions: []byte(`[]`)})
	if got.RuleID != "!r:example.org" || got.Notify {
		t.Errorf("room rule: %+v", got)
	}
	got = user(storage.PushRule{Kind: "sender", RuleID: "@alice:example.org", Enabled: true, Actions: []byte(`["notify",{"set_tweak":"highlight"}]`)})
	if got.RuleID != "@alice:example.org" || !got.Highlight {
		t.Errorf("sender rule: %+v", got)
	}
	got = user(storage.PushRule{Kind: "sender", RuleID: "@carol:example.org", Enabled: true, Actions: []byte(`[]`)})
	if got.RuleID != ".m.rule.message" {
		t.Errorf("another sender's rule: %+v", got)
	}
	got = user(storage.PushRule{Kind: "override", RuleID: "weird", Enabled: true,
		Conditions: []byte(`[{"kind":"org.example.unknown"}]`), Actions: []byte(`[]`)})
	if got.RuleID != ".m.rule.message" {
		t.Errorf("a rule with an unknown condition matched: %+v", got)
	}
	got = user(storage.PushRule{Kind: "override", RuleID: "all", Enabled: true,
		Conditions: []byte(`[]`), Actions: []byte(`["notify"]`)})
	if got.RuleID != "all" || !got.Notify || got.Highlight {
		t.Errorf("a rule without conditions always matches: %+v", got)
	}
}

func TestDefaultRulesetShape(t *testing.T) {
	rs := buildRuleset(bob, nil)
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string][]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	wantOrder := map[string][]string{
		"override": {".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
			".m.rule.is_user_mention", ".m.rule.contains_display_name", ".m.rule.is_room_mention", ".m.rule.roomnotif",
			".m.rule.tombstone", ".m.rule.reaction", ".m.rule.room.server_acl", ".m.rule.suppress_edits"},
		"content": {".m.rule.contains_user_name"},
		"room":    {},
		"sender":  {},
		"underride": {".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one",
			".m.rule.message", ".m.rule.encrypted", ".im.vector.jitsi"},
	}
	for kind, ids := range wantOrder {
		rules, ok := decoded[kind]
		if !ok || len(rules) != len(ids) {
			t.Fatalf("%s: %d rules, want %d", kind, len(rules), len(ids))
		}
		for i, r := range rules {
			var id string
			_ = json.Unmarshal(r["rule_id"], &id)
			if id != ids[i] {
				t.Errorf("%s[%d] = %s, want %s", kind, i, id, ids[i])
			}
			if string(r["default"]) != "true" {
				t.Errorf("%s is not marked default", id)
			}
			_, hasConds := r["conditions"]
			if hasConds != (kind == "override" || kind == "underride") {
				t.Errorf("%s: conditions present %v", id, hasConds)
			}
		}
	}
	invite, _ := rs.Find(KindOverride, ".m.rule.invite_for_me")
	if !json.Valid(invite.Conditions) || !strings.Contains(string(invite.Conditions), `"pattern":"@bob:example.org"`) {
		t.Errorf("invite_for_me conditions: %s", invite.Conditions)
	}
	name, _ := rs.Find(KindContent, ".m.rule.contains_user_name")
	if name.Pattern == nil || *name.Pattern != "bob" {
		t.Errorf("contains_user_name pattern: %v", name.Pattern)
	}
	master, _ := rs.Find(KindOverride, ".m.rule.master")
	if master.Enabled {
		t.Error("the master rule is enabled by default")
	}
}

// countingRoom counts the power level lookups evaluation makes.
type countingRoom struct {
	fakeRoom
	notifLookups *int
}

func (r countingRoom) NotificationLevel(k string) int64 {
	*r.notifLookups++
	return r.fakeRoom.NotificationLevel(k)
}

func TestSenderPermissionIsWorkedOutOncePerEvent(t *testing.T) {
	lookups := 0
	room := countingRoom{fakeRoom{members: 5, levels: map[string]int64{"@alice:example.org": 100}}, &lookups}
	ev := NewEvent(pdu("m.room.message", `{"body":"@room lunch!"}`), room)
	for _, user := range []string{bob, "@carol:example.org", "@dave:example.org"} {
		if out := Compile(buildRuleset(user, nil)).Evaluate(ev, ""); out.RuleID != ".m.rule.roomnotif" || !out.Highlight {
			t.Fatalf("%s: %+v", user, out)
		}
	}
	if lookups != 1 {
		t.Errorf("the notification level was looked up %d times for three recipients", lookups)
	}
}
