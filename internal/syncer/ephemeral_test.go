package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/streams"
)

// fakeTyping reports a fixed typing set per room, changed at pos.
type fakeTyping struct {
	pos  int64
	sets map[string][]string
	at   map[string]int64
}

func (f *fakeTyping) Position() int64 { return f.pos }

func (f *fakeTyping) Changed(rooms []string, after, upTo int64) map[string][]string {
	out := map[string][]string{}
	for _, r := range rooms {
		if at, ok := f.at[r]; ok && at > after && at <= upTo {
			out[r] = f.sets[r]
		}
	}
	return out
}

type fakeReceipts struct{ calls []string }

func (f *fakeReceipts) Position() int64 { return 9 }

func (f *fakeReceipts) ForSync(_ context.Context, user string, after, upTo int64, full []string) (map[string]json.RawMessage, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s %d %d %v", user, after, upTo, full))
	return map[string]json.RawMessage{"!a": json.RawMessage(`{"type":"m.receipt"}`), "!hidden": json.RawMessage(`{}`)}, nil
}

type fakePresence struct {
	events  []json.RawMessage
	current []string // users asked for by Current
}

func (f *fakePresence) Position() int64 { return 4 }
func (f *fakePresence) Syncing(context.Context, string, string, string) func() {
	return func() {}
}
func (f *fakePresence) ForSync(context.Context, string, int64, int64, bool, []string) ([]json.RawMessage, error) {
	return f.events, nil
}
func (f *fakePresence) Current(_ context.Context, users []string) ([]json.RawMessage, error) {
	f.current = append(f.current, users...)
	var out []json.RawMessage
	for _, u := range users {
		out = append(out, json.RawMessage(`{"type":"m.presence","sender":"`+u+`","content":{"presence":"online"}}`))
	}
	return out, nil
}

// typingRooms returns, per room, the typing lists in the events added.
func typingRooms(t *testing.T, out map[string][]json.RawMessage) string {
	t.Helper()
	var parts []string
	for r, evs := range out {
		for _, ev := range evs {
			var e struct {
				Type    string
				Content struct {
					UserIDs []string `json:"user_ids"`
				}
			}
			if err := json.Unmarshal(ev, &e); err != nil || e.Type != "m.typing" || e.Content.UserIDs == nil {
				t.Fatalf("event %s: %v", ev, err)
			}
			parts = append(parts, fmt.Sprintf("%s=%v", r, e.Content.UserIDs))
		}
	}
	slices.Sort(parts)
	return fmt.Sprint(parts)
}

func TestTypingEvents(t *testing.T) {
	ty := &fakeTyping{pos: 5,
		sets: map[string][]string{"!a": {"@x"}, "!b": {}, "!c": {}},
		at:   map[string]int64{"!a": 5, "!b": 4, "!c": 1}}
	s := &Service{ephemeral: Ephemeral{Typing: ty}}
	since := streams.Token{Typing: 3}
	cur := streams.Token{Typing: 5}
	run := func(req Request, joined, fresh []string) string {
		out := map[string][]json.RawMessage{}
		if err := s.typingEvents(req, since, cur, joined, fresh, out); err != nil {
			t.Fatal(err)
		}
		return typingRooms(t, out)
	}
	inc := Request{Since: &since}
	// Changes since 3: !a (someone typing) and !b (everyone stopped).
	if got := run(inc, []string{"!a", "!b", "!c", "!d"}, nil); got != "[!a=[@x] !b=[]]" {
		t.Errorf("incremental: %s", got)
	}
	// A fresh room gets its set only when someone is typing.
	if got := run(inc, []string{"!a", "!c"}, []string{"!a", "!c"}); got != "[!a=[@x]]" {
		t.Errorf("fresh rooms: %s", got)
	}
	// After a restart every known room is told, typing or not.
	reset := Request{Since: &since, typingReset: true}
	if got := run(reset, []string{"!a", "!b", "!c", "!d"}, []string{"!d"}); got != "[!a=[@x] !b=[] !c=[]]" {
		t.Errorf("after a restart: %s", got)
	}
}

func TestCheckTypingPosition(t *testing.T) {
	s := &Service{ephemeral: Ephemeral{Typing: &fakeTyping{pos: 2}}}
	req := Request{Since: &streams.Token{Events: 7, Typing: 5}}
	s.checkTypingPosition(&req)
	if !req.typingReset || *req.Since != (streams.Token{Events: 7}) {
		t.Errorf("a token ahead of the typing stream: %+v, reset %v", *req.Since, req.typingReset)
	}
	req = Request{Since: &streams.Token{Events: 7, Typing: 2}}
	s.checkTypingPosition(&req)
	if req.typingReset || req.Since.Typing != 2 {
		t.Errorf("a current token was changed: %+v", *req.Since)
	}
}

func TestReceiptEvents(t *testing.T) {
	rs := &fakeReceipts{}
	s := &Service{ephemeral: Ephemeral{Receipts: rs}}
	since, cur := streams.Token{Receipts: 3}, streams.Token{Receipts: 9}
	out := map[string][]json.RawMessage{}
	if err := s.receiptEvents(context.Background(), Request{User: "@u", Since: &since}, since, cur, []string{"!a", "!b"}, []string{"!b"}, out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || len(out["!a"]) != 1 {
		t.Errorf("events %v: only the joined rooms that have one", out)
	}
	if err := s.receiptEvents(context.Background(), Request{User: "@u"}, streams.Token{}, cur, []string{"!a"}, []string{"!a"}, out); err != nil {
		t.Fatal(err)
	}
	if want := "[@u 3 9 [!b] @u 0 9 []]"; fmt.Sprint(rs.calls) != want {
		t.Errorf("queries %v, want %s", rs.calls, want)
	}
}

func TestPresenceSectionFilter(t *testing.T) {
	p := &fakePresence{events: []json.RawMessage{
		json.RawMessage(`{"type":"m.presence","sender":"@a","content":{"presence":"online"}}`),
		json.RawMessage(`{"type":"m.presence","sender":"@b","content":{"presence":"online"}}`),
	}}
	s := &Service{ephemeral: Ephemeral{Presence: p}}
	count := func(f *filter.Filter) int {
		resp := emptyResponse(streams.Token{})
		if err := s.presenceSection(context.Background(), Request{Filter: f}, streams.Token{}, streams.Token{}, nil, resp); err != nil {
			t.Fatal(err)
		}
		return len(resp.Presence.Events)
	}
	if n := count(nil); n != 2 {
		t.Errorf("no filter: %d events", n)
	}
	if n := count(&filter.Filter{Presence: &filter.EventFilter{NotSenders: []string{"@b"}}}); n != 1 {
		t.Errorf("not_senders: %d events", n)
	}
	if n := count(&filter.Filter{Presence: &filter.EventFilter{Types: []string{}}}); n != 0 {
		t.Errorf("types []: %d events", n)
	}
}

func TestPresenceOfNewMembers(t *testing.T) {
	p := &fakePresence{events: []json.RawMessage{
		json.RawMessage(`{"type":"m.presence","sender":"@a","content":{"presence":"online"}}`),
	}}
	s := &Service{ephemeral: Ephemeral{Presence: p}}
	since := streams.Token{Presence: 2}
	req := Request{Since: &since, newMembers: map[string]bool{"@a": true, "@c": true, "@b": true}}
	resp := emptyResponse(streams.Token{})
	if err := s.presenceSection(context.Background(), req, since, streams.Token{Presence: 4}, nil, resp); err != nil {
		t.Fatal(err)
	}
	var senders []string
	for _, ev := range resp.Presence.Events {
		var e struct{ Sender string }
		_ = json.Unmarshal(ev, &e)
		senders = append(senders, e.Sender)
	}
	if fmt.Sprint(senders) != "[@a @b @c]" {
		t.Errorf("senders %v: each user once", senders)
	}
	if fmt.Sprint(p.current) != "[@a @b @c]" {
		t.Errorf("asked for %v", p.current)
	}

	// A full-state sync sends everyone's presence anyway.
	p.current = nil
	req.FullState = true
	if err := s.presenceSection(context.Background(), req, since, streams.Token{Presence: 4}, nil, emptyResponse(streams.Token{})); err != nil {
		t.Fatal(err)
	}
	if p.current != nil {
		t.Errorf("full-state sync asked for %v", p.current)
	}
}
