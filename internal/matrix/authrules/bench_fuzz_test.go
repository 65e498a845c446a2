package authrules

import (
	"strconv"
	"testing"
)

// bigRoom is a room with n joined members besides alice, and power levels
// naming a few moderators.
func bigRoom(ver string, n int) *room {
	r := newRoom(mustVersion(ver), "")
	for i := range n {
		r.setMember("@user"+strconv.Itoa(i)+":example.org", "join")
	}
	r.setPL(`{"ban":50,"events":{"m.room.name":50,"m.room.power_levels":100,"m.room.history_visibility":100,` +
		`"m.room.canonical_alias":50,"m.room.avatar":50,"m.room.tombstone":100,"m.room.server_acl":100,"m.room.encryption":100},` +
		`"events_default":0,"invite":0,"kick":50,"notifications":{"room":50},"redact":50,"state_default":50,` +
		`"users":{"@user1:example.org":50,"@user2:example.org":50,"@user3:example.org":100},"users_default":0}`)
	r.setJoinRule(JoinRulePublic)
	return r
}

func BenchmarkCheck(b *testing.B) {
	for _, ver := range []string{"9", "11", "12"} {
		r := bigRoom(ver, 10000)
		msg := r.msg("@user5000:example.org", "m.room.message", `{"msgtype":"m.text","body":"hello there"}`)
		join := r.st("@newcomer:example.net", TypeMember, "@newcomer:example.net",
			`{"membership":"join","displayname":"Newcomer","avatar_url":"mxc://example.net/abc"}`)
		for _, tc := range []struct {
			name string
			ev   Event
		}{{"message", msg}, {"join", join}} {
			if err := r.check(tc.ev); err != nil {
				b.Fatal(err)
			}
			b.Run("v"+ver+"/"+tc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := r.checker.Check(r.v, tc.ev, r.get); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzCheck feeds random contents to m.room.power_levels and m.room.member
// events, both as the event being checked and as the power levels in
// state. The rules must never panic.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"membership":"join"}`, `{"membership":"invite","third_party_invite":{"signed":{"mxid":"@bob:b","token":"tok","signatures":{"x":{"ed25519:0":"AAAA"}}}}}`,
		`{"membership":"join","join_authorised_via_users_server":"@alice:a"}`,
		`{"users":{"@bob:b":"50"},"ban":" +7 ","events":{"m.x":1.5e3},"notifications":{"room":null}}`,
		`{"users":{"@alice:a":1e400}}`, `{"users":[],"events":"x"}`, `{"a":{"b":[{"c":"\u0000"}]}}`,
		`{"membership":"knock"}`, `[`, `{"membership":`, `{"users":{"@bob:b":99999999999999999999999}}`,
	} {
		for _, ver := range []uint8{1, 6, 8, 10, 12} {
			f.Add(ver, s, s)
		}
	}
	f.Fuzz(func(t *testing.T, ver uint8, content, stateContent string) {
		v := mustVersion(strconv.Itoa(int(ver%12) + 1))
		r := newRoom(v, "")
		r.setMember(bob, "join")
		r.setJoinRule(JoinRuleRestricted)
		r.put(r.st(alice, TypeThirdPartyInvite, "tok", stateContent))
		r.setPL(stateContent)
		for _, ev := range []*tev{
			r.st(bob, TypePowerLevels, "", content),
			r.st(alice, TypePowerLevels, "", content),
			r.st(bob, TypeMember, bob, content).signed("a"),
			r.st(alice, TypeMember, bob, content),
			r.msg(bob, "m.room.message", content),
		} {
			_ = r.check(ev)
			_ = CheckAuthEvents(v, ev, []Event{r.create, ev})
			_ = AuthEventsNeededFor(v, ev)
		}
		// The create event's content matters to many rules.
		c := *r.create
		c.content = content
		r.put(&c)
		_ = r.check(&c)
		_ = r.check(r.msg(bob, "m.room.message", `{}`))
		_ = r.check(r.mem(bob, carol, "ban"))
	})
}
