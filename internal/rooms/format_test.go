package rooms

import (
	"encoding/json"
	"testing"

	"github.com/axonhs/axon/internal/storage"
)

func TestAppendClientEvent(t *testing.T) {
	sk := "@bob:example.org"
	ev := &Event{
		EventRow: storage.EventRow{
			EventID: "$abc", RoomID: "!room:example.org", Type: "m.room.member", StateKey: &sk,
			Sender: "@bob:example.org", OriginServerTS: 1000, ReplacesState: "$old", DeviceID: "DEV", TxnID: "t1",
			PDU: []byte(`{"auth_events":[],"content":{"membership":"join"},"depth":3,"hashes":{"sha256":"x"},` +
				`"origin_server_ts":1000,"prev_events":[],"room_id":"!room:example.org","sender":"@bob:example.org",` +
				`"signatures":{},"state_key":"@bob:example.org","type":"m.room.member"}`),
		},
		PrevContent: json.RawMessage(`{"membership":"invite"}`),
		PrevSender:  "@alice:example.org",
		Membership:  "join",
	}
	var got map[string]any
	out := ClientEvent(ev, Format{NowMS: 1500, UserID: "@bob:example.org", DeviceID: "DEV"})
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("not JSON: %s", out)
	}
	for _, k := range []string{"auth_events", "depth", "hashes", "prev_events", "signatures"} {
		if _, ok := got[k]; ok {
			t.Errorf("federation field %s leaked into the client event", k)
		}
	}
	if got["event_id"] != "$abc" || got["room_id"] != "!room:example.org" || got["state_key"] != sk {
		t.Errorf("identity fields: %v", got)
	}
	unsigned := got["unsigned"].(map[string]any)
	want := map[string]any{"age": 500.0, "transaction_id": "t1", "prev_sender": "@alice:example.org", "replaces_state": "$old", "membership": "join"}
	for k, v := range want {
		if unsigned[k] != v {
			t.Errorf("unsigned.%s = %v, want %v", k, unsigned[k], v)
		}
	}
	if pc, _ := unsigned["prev_content"].(map[string]any); pc["membership"] != "invite" {
		t.Errorf("prev_content = %v", unsigned["prev_content"])
	}

	// Another device of the same user does not see the transaction ID; sync
	// omits the room ID.
	out = ClientEvent(ev, Format{NowMS: 1500, UserID: "@bob:example.org", DeviceID: "OTHER", OmitRoomID: true})
	got = nil
	_ = json.Unmarshal(out, &got)
	if _, ok := got["room_id"]; ok {
		t.Error("room_id present with OmitRoomID")
	}
	if _, ok := got["unsigned"].(map[string]any)["transaction_id"]; ok {
		t.Error("transaction_id shown to another device")
	}
}

func TestClientEventsIsAnArray(t *testing.T) {
	if got := string(ClientEvents(nil, Format{})); got != "[]" {
		t.Errorf("empty list = %s", got)
	}
}
