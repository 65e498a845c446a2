package syncer

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/push"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/streams"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// fullResponse sets every field of every section, including the
// optional ones, with values that need escaping.
func fullResponse() *Response {
	ev := raw(`{"type":"m.room.message","content":{"body":"<b>\"hi\"</b> \u2028 é"}}`)
	r := emptyResponse(streams.Token{Events: 12, Typing: 3})
	r.AccountData.Events = []json.RawMessage{raw(`{"type":"m.direct","content":{}}`)}
	r.Presence.Events = []json.RawMessage{raw(`{"type":"m.presence","sender":"@a:x","content":{"presence":"online"}}`)}
	r.Rooms.Join["!b:x"] = &JoinedRoom{
		Timeline:    Timeline{Events: raw(`[` + string(ev) + `]`), Limited: true, PrevBatch: "s1_2"},
		State:       &StateList{Events: raw(`[]`)},
		AccountData: EventList{Events: []json.RawMessage{}},
		Ephemeral:   EventList{Events: []json.RawMessage{raw(`{"type":"m.typing","content":{"user_ids":[]}}`)}},
		Summary:     &rooms.Summary{Heroes: []string{"@a:x", "@\"q\":x"}, JoinedMemberCount: 2, InvitedMemberCount: 1},

		UnreadNotifications:       &push.NotificationCounts{NotificationCount: 3, HighlightCount: 1},
		UnreadThreadNotifications: map[string]push.NotificationCounts{"$t2": {NotificationCount: 1}, "$t1": {HighlightCount: 2}},
	}
	r.Rooms.Join["!a<&>:x"] = &JoinedRoom{
		Timeline:    Timeline{Events: raw(`[]`)},
		StateAfter:  &StateList{Events: raw(`[` + string(ev) + `]`)},
		AccountData: EventList{Events: []json.RawMessage{ev}},
		Ephemeral:   EventList{},
		Summary:     &rooms.Summary{},
	}
	r.Rooms.Invite["!i:x"] = &InvitedRoom{InviteState: EventList{Events: []json.RawMessage{ev}}}
	r.Rooms.Knock["!k:x"] = &KnockedRoom{KnockState: EventList{Events: []json.RawMessage{}}}
	r.ToDevice = &EventList{Events: []json.RawMessage{raw(`{"content":{},"sender":"@a:x","type":"m.x"}`)}}
	r.DeviceLists = &DeviceLists{Changed: []string{"@a:x", "@\"b\":x"}, Left: []string{"@c:x"}}
	r.DeviceOneTimeKeysCount = map[string]int{"signed_curve25519": 0, "curve25519": 12}
	r.DeviceUnusedFallbackKeyTypes = []string{}
	r.Rooms.Leave["!l:x"] = &LeftRoom{
		Timeline:    Timeline{Events: raw(`[` + string(ev) + `,` + string(ev) + `]`), PrevBatch: "s0"},
		State:       &StateList{Events: raw(`[]`)},
		StateAfter:  &StateList{},
		AccountData: EventList{Events: []json.RawMessage{}},
	}
	return r
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for name, r := range map[string]*Response{
		"full":      fullResponse(),
		"empty":     emptyResponse(streams.Token{Events: 12, Typing: 3}),
		"zero":      {},
		"left only": {DeviceLists: &DeviceLists{Left: []string{"@c:x"}}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got := r.AppendJSON(nil)
		var gotV, wantV any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatalf("%s: invalid JSON %s: %v", name, got, err)
		}
		if err := json.Unmarshal(want, &wantV); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

// TestAppendJSONKnowsEveryField fails when a response type gains a field:
// AppendJSON must then learn to write it.
func TestAppendJSONKnowsEveryField(t *testing.T) {
	want := map[reflect.Type][]string{
		reflect.TypeFor[Response](): []string{"NextBatch", "AccountData", "Presence", "Rooms",
			"ToDevice", "DeviceLists", "DeviceOneTimeKeysCount", "DeviceUnusedFallbackKeyTypes"},
		reflect.TypeFor[DeviceLists]():             []string{"Changed", "Left"},
		reflect.TypeFor[RoomsResult]():             []string{"Join", "Invite", "Leave", "Knock"},
		reflect.TypeFor[JoinedRoom]():              []string{"Timeline", "State", "StateAfter", "AccountData", "Ephemeral", "Summary", "UnreadNotifications", "UnreadThreadNotifications"},
		reflect.TypeFor[LeftRoom]():                []string{"Timeline", "State", "StateAfter", "AccountData"},
		reflect.TypeFor[InvitedRoom]():             []string{"InviteState"},
		reflect.TypeFor[KnockedRoom]():             []string{"KnockState"},
		reflect.TypeFor[Timeline]():                []string{"Events", "Limited", "PrevBatch"},
		reflect.TypeFor[StateList]():               []string{"Events"},
		reflect.TypeFor[EventList]():               []string{"Events"},
		reflect.TypeFor[rooms.Summary]():           []string{"Heroes", "JoinedMemberCount", "InvitedMemberCount"},
		reflect.TypeFor[push.NotificationCounts](): []string{"NotificationCount", "HighlightCount"},
	}
	for typ, fields := range want {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, fields) {
			t.Errorf("%v has fields %v; AppendJSON writes %v", typ, got, fields)
		}
	}
}
