package event

import (
	"strconv"
	"strings"
	"testing"
)

// The redaction algorithm of every room version, for every event type the
// spec names, checked against expectations written from the spec text
// (fragments v1-redactions, v6-redactions, rooms/v8.md, v9-redactions,
// v11-redactions) rather than derived from roomversion's tables.

// topKeys is every top-level key a PDU might carry, with a distinct value.
const topKeys = `"age_ts":1,"auth_events":[],"depth":5,"destinations":["x"],"event_id":"$e:x","hashes":{"sha256":"h"},"membership":"join","origin":"x","origin_server_ts":7,"outlier":true,"prev_events":[],"prev_state":[],"redacts":"$r:x","room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}},"unsigned":{"age":3,"replaces_state":"$p:x"}`

// Top-level keys kept (sorted), before and from room version 11.
const (
	keptTopOld = `"auth_events":[],"depth":5,"event_id":"$e:x","hashes":{"sha256":"h"},"membership":"join","origin":"x","origin_server_ts":7,"prev_events":[],"prev_state":[],"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}}`
	keptTopV11 = `"auth_events":[],"depth":5,"event_id":"$e:x","hashes":{"sha256":"h"},"origin_server_ts":7,"prev_events":[],"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}}`
)

type redactCase struct {
	typ, content string
	// want maps room versions (inclusive ranges "a-b") to the content kept.
	want map[string]string
}

var redactCases = []redactCase{
	{
		typ:     "m.room.member",
		content: `{"avatar_url":"mxc://x/y","displayname":"D","join_authorised_via_users_server":"@a:x","membership":"join","reason":"r","third_party_invite":{"display_name":"d","signed":{"mxid":"@s:x","token":"t"}}}`,
		want: map[string]string{
			"1-8":   `{"membership":"join"}`,
			"9-10":  `{"join_authorised_via_users_server":"@a:x","membership":"join"}`,
			"11-12": `{"join_authorised_via_users_server":"@a:x","membership":"join","third_party_invite":{"signed":{"mxid":"@s:x","token":"t"}}}`,
		},
	},
	{
		// third_party_invite without signed: Synapse keeps an empty object.
		typ:     "m.room.member",
		content: `{"membership":"invite","third_party_invite":{"display_name":"d"}}`,
		want: map[string]string{
			"1-10":  `{"membership":"invite"}`,
			"11-12": `{"membership":"invite","third_party_invite":{}}`,
		},
	},
	{
		typ:     "m.room.member",
		content: `{"membership":"invite","third_party_invite":"not an object"}`,
		want:    map[string]string{"1-12": `{"membership":"invite"}`},
	},
	{
		typ:     "m.room.create",
		content: `{"additional_creators":["@b:x"],"creator":"@s:x","m.federate":false,"predecessor":{"room_id":"!o:x"},"room_version":"9","type":"m.space"}`,
		want: map[string]string{
			"1-10":  `{"creator":"@s:x"}`,
			"11-12": `{"additional_creators":["@b:x"],"creator":"@s:x","m.federate":false,"predecessor":{"room_id":"!o:x"},"room_version":"9","type":"m.space"}`,
		},
	},
	{
		typ:     "m.room.join_rules",
		content: `{"allow":[{"room_id":"!s:x","type":"m.room_membership"}],"extra":1,"join_rule":"restricted"}`,
		want: map[string]string{
			"1-7":  `{"join_rule":"restricted"}`,
			"8-12": `{"allow":[{"room_id":"!s:x","type":"m.room_membership"}],"join_rule":"restricted"}`,
		},
	},
	{
		typ:     "m.room.power_levels",
		content: `{"ban":50,"events":{"m.room.name":50},"events_default":0,"invite":0,"kick":50,"notifications":{"room":50},"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0}`,
		want: map[string]string{
			"1-10":  `{"ban":50,"events":{"m.room.name":50},"events_default":0,"kick":50,"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0}`,
			"11-12": `{"ban":50,"events":{"m.room.name":50},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0}`,
		},
	},
	{
		typ:     "m.room.history_visibility",
		content: `{"extra":"x","history_visibility":"shared"}`,
		want:    map[string]string{"1-12": `{"history_visibility":"shared"}`},
	},
	{
		typ:     "m.room.aliases",
		content: `{"aliases":["#a:x"],"extra":1}`,
		want: map[string]string{
			"1-5":  `{"aliases":["#a:x"]}`,
			"6-12": `{}`,
		},
	},
	{
		typ:     "m.room.redaction",
		content: `{"reason":"spam","redacts":"$r:x"}`,
		want: map[string]string{
			"1-10":  `{}`,
			"11-12": `{"redacts":"$r:x"}`,
		},
	},
	{
		typ:     "m.room.message",
		content: `{"body":"hello","m.relates_to":{"event_id":"$x","rel_type":"m.thread"},"msgtype":"m.text"}`,
		want:    map[string]string{"1-12": `{}`},
	},
	{
		typ:     "m.room.name",
		content: `{"name":"Room"}`,
		want:    map[string]string{"1-12": `{}`},
	},
	{
		typ:     "m.room.third_party_invite",
		content: `{"display_name":"d","key_validity_url":"u","public_key":"k"}`,
		want:    map[string]string{"1-12": `{}`},
	},
}

func expandRanges(t *testing.T, m map[string]string) map[int]string {
	t.Helper()
	out := map[int]string{}
	for r, v := range m {
		lo, hi, ok := strings.Cut(r, "-")
		if !ok {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad range %q", r)
		}
		for i := a; i <= b; i++ {
			if _, dup := out[i]; dup {
				t.Fatalf("overlapping range %q", r)
			}
			out[i] = v
		}
	}
	return out
}

func TestRedactEveryVersionAndType(t *testing.T) {
	for _, tc := range redactCases {
		want := expandRanges(t, tc.want)
		if len(want) != 12 {
			t.Fatalf("%s: expectations cover %d versions", tc.typ, len(want))
		}
		for n := 1; n <= 12; n++ {
			ver := strconv.Itoa(n)
			t.Run(tc.typ+"/v"+ver, func(t *testing.T) {
				in := `{` + topKeys + `,"content":` + tc.content + `,"state_key":"","type":"` + tc.typ + `"}`
				got, err := Redact(ver, []byte(in))
				if err != nil {
					t.Fatal(err)
				}
				top := keptTopOld
				if n >= 11 {
					top = keptTopV11
				}
				// content sorts between auth_events and depth.
				head, tail, _ := strings.Cut(top, `,"depth"`)
				exp := `{` + head + `,"content":` + want[n] + `,"depth"` + tail + `,"state_key":"","type":"` + tc.typ + `"}`
				if string(got) != exp {
					t.Errorf("got  %s\nwant %s", got, exp)
				}
				// Redaction is idempotent.
				again, err := Redact(ver, got)
				if err != nil || string(again) != string(got) {
					t.Errorf("redacting twice: %s, %v", again, err)
				}
			})
		}
	}
}

func TestRedactEdgeCases(t *testing.T) {
	cases := []struct{ name, ver, in, want string }{
		{"no content", "11", `{"type":"m.room.message","sender":"@a:x"}`, `{"content":{},"sender":"@a:x","type":"m.room.message"}`},
		{"content not an object", "11", `{"type":"m.room.member","content":"x"}`, `{"content":{},"type":"m.room.member"}`},
		{"only keys after content", "1", `{"zzz":1,"type":"m.room.message"}`, `{"content":{},"type":"m.room.message"}`},
		{"non-canonical input", "9", "{ \"type\" : \"m.room.member\", \"content\": {\"membership\" :\"join\", \"x\":\"\\u0041\"} }", `{"content":{"membership":"join"},"type":"m.room.member"}`},
		{"create without state_key still keeps content", "11", `{"type":"m.room.create","content":{"a":1}}`, `{"content":{"a":1},"type":"m.room.create"}`},
	}
	for _, tc := range cases {
		got, err := Redact(tc.ver, []byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if _, err := Redact("99", []byte(`{}`)); err == nil {
		t.Error("unknown version accepted")
	}
	if _, err := Redact("11", []byte(`[]`)); err == nil {
		t.Error("array accepted")
	}
	if _, err := Redact("11", []byte(`{"a":1.5}`)); err == nil {
		t.Error("float accepted in v11")
	}
}
