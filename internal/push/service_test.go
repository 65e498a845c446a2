package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/accountdata"
	"github.com/axonhs/axon/internal/matrix/roomversion"
	"github.com/axonhs/axon/internal/push"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/signingkey"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
	"github.com/axonhs/axon/internal/streams"
)

const (
	alice = "@alice:example.org"
	bob   = "@bob:example.org"
	carol = "@carol:example.org"
	dan   = "@dan:example.org"
)

// profiles gives bob a display name for his member events.
type profiles struct{}

func (profiles) Get(_ context.Context, user string) (map[string][]byte, error) {
	if user == bob {
		return map[string][]byte{"displayname": []byte(`"Bobby"`)}, nil
	}
	return map[string][]byte{}, nil
}

type env struct {
	db    *storage.DB
	rooms *rooms.Service
	ad    *accountdata.Service
	push  *push.Service
}

func newEnv(t *testing.T, opts storage.Options) *env {
	t.Helper()
	ctx := context.Background()
	db := storagetest.Open(t, opts)
	for _, u := range []string{alice, bob, carol, dan} {
		if err := db.CreateUser(ctx, storage.NewUser{UserID: u}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	key, err := signingkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ad := accountdata.New(db, streams.NewSequence(0), nil)
	p := push.New(db, nil, "example.org", ad)
	rs := rooms.New(db, nil, rooms.Signer{ServerName: "example.org", KeyID: key.KeyID(), Key: key.Private}, profiles{}, rooms.Settings{DefaultRoomVersion: roomversion.Default})
	rs.WithPusher(p)
	if err := rs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Stop)
	return &env{db: db, rooms: rs, ad: ad, push: p}
}

func ruleIDs(rules []push.Rule, userOnly bool) []string {
	var out []string
	for _, r := range rules {
		if !userOnly || !r.Default {
			out = append(out, r.RuleID)
		}
	}
	return out
}

func TestRulesCRUDAndOrdering(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		e := newEnv(t, opts)
		p := e.push
		actions := json.RawMessage(`["notify"]`)
		put := func(id, before, after string) error {
			pattern := id
			return p.PutRule(ctx, bob, push.NewRule{Kind: push.KindContent, RuleID: id, Pattern: &pattern, Actions: actions, Before: before, After: after})
		}
		order := func() []string {
			rs, err := p.Rules(ctx, bob)
			if err != nil {
				t.Fatal(err)
			}
			return ruleIDs(rs.Content, false)
		}
		for _, step := range []struct {
			id, before, after string
			want              []string
		}{
			{"a", "", "", []string{"a", ".m.rule.contains_user_name"}},
			{"b", "", "", []string{"b", "a", ".m.rule.contains_user_name"}}, // new rules come first
			{"c", "", "b", []string{"b", "c", "a", ".m.rule.contains_user_name"}},
			{"d", "a", "", []string{"b", "c", "d", "a", ".m.rule.contains_user_name"}},
			{"e", "c", "a", []string{"b", "e", "c", "d", "a", ".m.rule.contains_user_name"}}, // before wins
			{"a", "", "", []string{"a", "b", "e", "c", "d", ".m.rule.contains_user_name"}},   // a replaced rule moves first, as in Synapse
		} {
			if err := put(step.id, step.before, step.after); err != nil {
				t.Fatalf("put %s: %v", step.id, err)
			}
			if got := order(); !slices.Equal(got, step.want) {
				t.Fatalf("after putting %s: %v, want %v", step.id, got, step.want)
			}
		}
		var invalid *push.InvalidRuleError
		if err := put("f", "nope", ""); !errors.As(err, &invalid) || invalid.Msg != "before/after rule not found: nope" {
			t.Errorf("unknown anchor: %v", err)
		}
		if err := put("f", ".m.rule.contains_user_name", ""); !errors.As(err, &invalid) {
			t.Errorf("a server-default anchor: %v", err)
		}

		// Disabling survives a replacement, and disabled rules are listed.
		if err := p.SetEnabled(ctx, bob, push.KindContent, "c", false); err != nil {
			t.Fatal(err)
		}
		if err := put("c", "", ""); err != nil {
			t.Fatal(err)
		}
		rs, _ := p.Rules(ctx, bob)
		if r, ok := rs.Find(push.KindContent, "c"); !ok || r.Enabled || r.Default || *r.Pattern != "c" {
			t.Errorf("rule c: %+v", r)
		}
		if err := p.SetActions(ctx, bob, push.KindContent, "c", json.RawMessage(`["notify",{"set_tweak":"sound","value":"bing"}]`)); err != nil {
			t.Fatal(err)
		}
		rs, _ = p.Rules(ctx, bob)
		if r, _ := rs.Find(push.KindContent, "c"); string(r.Actions) != `["notify",{"set_tweak":"sound","value":"bing"}]` {
			t.Errorf("actions of c: %s", r.Actions)
		}

		// Server-default rules: enabled flag and actions change, per user.
		if err := p.SetEnabled(ctx, bob, push.KindOverride, ".m.rule.master", true); err != nil {
			t.Fatal(err)
		}
		if err := p.SetActions(ctx, bob, push.KindUnderride, ".m.rule.message", json.RawMessage(`[]`)); err != nil {
			t.Fatal(err)
		}
		if err := p.SetEnabled(ctx, bob, push.KindUnderride, ".m.rule.message", false); err != nil {
			t.Fatal(err)
		}
		rs, _ = p.Rules(ctx, bob)
		if r, _ := rs.Find(push.KindOverride, ".m.rule.master"); !r.Enabled || !r.Default {
			t.Errorf("master: %+v", r)
		}
		if r, _ := rs.Find(push.KindUnderride, ".m.rule.message"); r.Enabled || string(r.Actions) != `[]` {
			t.Errorf(".m.rule.message: %+v", r)
		}
		other, _ := p.Rules(ctx, carol)
		if r, _ := other.Find(push.KindOverride, ".m.rule.master"); r.Enabled {
			t.Error("bob's change reached carol")
		}
		if len(ruleIDs(other.All(), true)) != 0 {
			t.Error("carol has bob's rules")
		}

		for name, err := range map[string]error{
			"enable unknown default":     p.SetEnabled(ctx, bob, push.KindOverride, ".m.rule.nope", true),
			"enable default, wrong kind": p.SetEnabled(ctx, bob, push.KindUnderride, ".m.rule.master", true),
			"enable missing rule":        p.SetEnabled(ctx, bob, push.KindContent, "zzz", true),
			"actions of missing rule":    p.SetActions(ctx, bob, push.KindContent, "zzz", actions),
			"delete missing rule":        p.DeleteRule(ctx, bob, push.KindContent, "zzz"),
			"delete in wrong kind":       p.DeleteRule(ctx, bob, push.KindOverride, "a"),
		} {
			if !errors.Is(err, push.ErrNotFound) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := p.DeleteRule(ctx, bob, push.KindOverride, ".m.rule.master"); !errors.Is(err, push.ErrServerDefault) {
			t.Errorf("delete a default rule: %v", err)
		}
		if err := p.DeleteRule(ctx, bob, push.KindContent, "a"); err != nil {
			t.Fatal(err)
		}
		if got := order(); !slices.Equal(got, []string{"c", "b", "e", "d", ".m.rule.contains_user_name"}) {
			t.Errorf("after deleting a: %v", got)
		}

		for name, nr := range map[string]push.NewRule{
			"dot":                {Kind: push.KindOverride, RuleID: ".mine", Conditions: json.RawMessage(`[]`), Actions: actions},
			"slash":              {Kind: push.KindOverride, RuleID: "a/b", Conditions: json.RawMessage(`[]`), Actions: actions},
			"backslash":          {Kind: push.KindOverride, RuleID: `a\b`, Conditions: json.RawMessage(`[]`), Actions: actions},
			"no conditions":      {Kind: push.KindUnderride, RuleID: "x", Actions: actions},
			"conditions object":  {Kind: push.KindUnderride, RuleID: "x", Conditions: json.RawMessage(`{}`), Actions: actions},
			"condition no kind":  {Kind: push.KindOverride, RuleID: "x", Conditions: json.RawMessage(`[{"key":"type"}]`), Actions: actions},
			"content no pattern": {Kind: push.KindContent, RuleID: "x", Actions: actions},
			"no actions":         {Kind: push.KindRoom, RuleID: "!r:example.org"},
			"unknown action":     {Kind: push.KindRoom, RuleID: "!r:example.org", Actions: json.RawMessage(`["notify","explode"]`)},
			"action object":      {Kind: push.KindRoom, RuleID: "!r:example.org", Actions: json.RawMessage(`[{"sound":"x"}]`)},
			"actions not a list": {Kind: push.KindRoom, RuleID: "!r:example.org", Actions: json.RawMessage(`"notify"`)},
		} {
			if err := p.PutRule(ctx, bob, nr); !errors.As(err, &invalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := p.SetActions(ctx, bob, push.KindContent, "b", json.RawMessage(`[5]`)); !errors.As(err, &invalid) {
			t.Errorf("invalid actions: %v", err)
		}
		// Unknown conditions are stored (they never match); legacy actions
		// are accepted.
		if err := p.PutRule(ctx, bob, push.NewRule{Kind: push.KindOverride, RuleID: "odd",
			Conditions: json.RawMessage(`[{"kind":"org.example.future","x":1}]`), Actions: json.RawMessage(`["dont_notify","coalesce"]`)}); err != nil {
			t.Fatal(err)
		}
		if err := p.PutRule(ctx, bob, push.NewRule{Kind: push.KindSender, RuleID: alice, Actions: json.RawMessage(`[]`)}); err != nil {
			t.Fatal(err)
		}

		// Every change is published as the m.push_rules account data.
		raw, err := e.ad.Get(ctx, bob, "", push.AccountDataType)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Global map[string][]push.Rule `json:"global"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if got := ruleIDs(doc.Global["content"], false); !slices.Equal(got, []string{"c", "b", "e", "d", ".m.rule.contains_user_name"}) {
			t.Errorf("m.push_rules content rules: %v", got)
		}
		if got := ruleIDs(doc.Global["override"], false); len(got) < 2 || got[0] != ".m.rule.master" || got[1] != "odd" {
			t.Errorf("m.push_rules override rules: %v", got)
		}
		if got := ruleIDs(doc.Global["sender"], false); !slices.Equal(got, []string{alice}) {
			t.Errorf("m.push_rules sender rules: %v", got)
		}
		if _, err := e.ad.Get(ctx, carol, "", push.AccountDataType); !errors.Is(err, accountdata.ErrNotFound) {
			t.Errorf("carol changed nothing, yet has m.push_rules: %v", err)
		}
	})
}

// eventPos is the stream position of an event.
func eventPos(t *testing.T, db *storage.DB, eventID string) int64 {
	t.Helper()
	rows, err := db.EventsByID(context.Background(), []string{eventID})
	if err != nil || len(rows) != 1 {
		t.Fatalf("event %s: %v %v", eventID, rows, err)
	}
	return rows[0].Pos
}

func TestUnreadCounts(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		e := newEnv(t, opts)
		room, err := e.rooms.CreateRoom(ctx, rooms.CreateRequest{Creator: alice, Preset: rooms.PresetPublicChat})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{bob, dan} {
			if _, err := e.rooms.ChangeMembership(ctx, rooms.MembershipChange{Sender: u, RoomID: room, Target: u, Membership: rooms.MembershipJoin}); err != nil {
				t.Fatal(err)
			}
		}
		send := func(sender, typ, content string) string {
			t.Helper()
			id, err := e.rooms.Send(ctx, room, rooms.Proto{Type: typ, Sender: sender, Content: json.RawMessage(content)}, nil)
			if err != nil {
				t.Fatalf("send %s: %v", content, err)
			}
			return id
		}
		counts := func(user string) push.Counts {
			t.Helper()
			c, err := e.push.Counts(ctx, user, []string{room, "!elsewhere:example.org"})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := c["!elsewhere:example.org"]; ok {
				t.Error("counts for a room without notifications")
			}
			return c[room]
		}
		main := func(user string, n, hl int64) {
			t.Helper()
			if got := counts(user).Main; got != (push.NotificationCounts{NotificationCount: n, HighlightCount: hl}) {
				t.Errorf("%s main timeline: %+v, want %d/%d", user, got, n, hl)
			}
		}

		// The room's own creation and the joins notify no one.
		main(bob, 0, 0)
		send(alice, "m.room.message", `{"body":"hello","msgtype":"m.text"}`)
		main(bob, 1, 0)
		main(dan, 1, 0)
		main(alice, 0, 0) // one's own events never notify
		mention := send(alice, "m.room.message", `{"body":"hi","msgtype":"m.text","m.mentions":{"user_ids":["@bob:example.org"]}}`)
		main(bob, 2, 1)
		main(dan, 2, 0)
		send(alice, "m.room.message", `{"body":"bot here","msgtype":"m.notice"}`)
		main(bob, 2, 1)
		send(alice, "m.room.message", `{"body":"hey bobby!","msgtype":"m.text"}`) // bob's display name, no m.mentions
		main(bob, 3, 2)

		// A thread: the root is in the main timeline, replies in the thread,
		// and an event relating to a reply belongs to the reply's thread.
		root := send(alice, "m.room.message", `{"body":"thread root","msgtype":"m.text"}`)
		main(bob, 4, 2)
		reply := send(alice, "m.room.message", `{"body":"in thread","msgtype":"m.text","m.relates_to":{"rel_type":"m.thread","event_id":"`+root+`"}}`)
		send(alice, "m.room.message", `{"body":"about that","msgtype":"m.text","m.relates_to":{"rel_type":"m.reference","event_id":"`+reply+`"}}`)
		send(alice, "m.reaction", `{"m.relates_to":{"rel_type":"m.annotation","event_id":"`+reply+`","key":"👍"}}`)
		c := counts(bob)
		if c.Threads[root] != (push.NotificationCounts{NotificationCount: 2}) || len(c.Threads) != 1 {
			t.Errorf("bob's threads: %+v", c.Threads)
		}
		if total := c.Total(); total != (push.NotificationCounts{NotificationCount: 6, HighlightCount: 2}) {
			t.Errorf("bob's total: %+v", total)
		}

		// A receipt for the main timeline at the mention clears it and
		// what came before, not the thread.
		if err := e.push.ResetCounts(ctx, bob, room, push.MainThread, eventPos(t, e.db, mention)); err != nil {
			t.Fatal(err)
		}
		main(bob, 2, 1)
		if c := counts(bob); c.Threads[root].NotificationCount != 2 {
			t.Errorf("a main-timeline receipt cleared the thread: %+v", c.Threads)
		}
		// A receipt never moves back.
		if err := e.push.ResetCounts(ctx, bob, room, "", 1); err != nil {
			t.Fatal(err)
		}
		main(bob, 2, 1)
		// A threaded receipt clears its thread only.
		if err := e.push.ResetCounts(ctx, bob, room, root, eventPos(t, e.db, reply)); err != nil {
			t.Fatal(err)
		}
		if c := counts(bob); c.Threads[root].NotificationCount != 1 || c.Main.NotificationCount != 2 {
			t.Errorf("after a threaded receipt: %+v", c)
		}
		// An unthreaded receipt clears every thread.
		last := send(alice, "m.room.message", `{"body":"last","msgtype":"m.text"}`)
		if err := e.push.ResetCounts(ctx, bob, room, "", eventPos(t, e.db, last)); err != nil {
			t.Fatal(err)
		}
		if c, _ := e.push.Counts(ctx, bob, []string{room}); len(c) != 0 {
			t.Errorf("after an unthreaded receipt: %+v", c)
		}

		// Sending an event reads the room up to it (spec: "by sending an
		// event").
		main(dan, 5, 0)
		send(dan, "m.room.message", `{"body":"caught up","msgtype":"m.text"}`)
		main(dan, 0, 0)
		main(bob, 1, 0)

		// An invite notifies the invited user.
		if _, err := e.rooms.ChangeMembership(ctx, rooms.MembershipChange{Sender: alice, RoomID: room, Target: carol, Membership: rooms.MembershipInvite}); err != nil {
			t.Fatal(err)
		}
		main(carol, 1, 0)
		main(bob, 1, 0)

		// Rules are per user: bob silences alice.
		if err := e.push.PutRule(ctx, bob, push.NewRule{Kind: push.KindSender, RuleID: alice, Actions: json.RawMessage(`[]`)}); err != nil {
			t.Fatal(err)
		}
		send(alice, "m.room.message", `{"body":"muted","msgtype":"m.text"}`)
		main(bob, 1, 0)
		main(dan, 1, 0)

		// Counts are stored with the events: another service on the
		// database reads the same.
		send(alice, "m.room.message", `{"body":"again","msgtype":"m.text"}`)
		e.push = push.New(e.db, nil, "example.org", e.ad)
		main(dan, 2, 0)
		main(bob, 1, 0)
	})
}

func TestRulesEventFollowsTheRules(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		p := newEnv(t, opts).push
		check := func(when string) {
			t.Helper()
			ev, err := p.RulesEvent(ctx, bob)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := p.Rules(ctx, bob)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(map[string]any{"type": "m.push_rules", "content": map[string]any{"global": rs}})
			if !bytes.Equal(ev, want) {
				t.Errorf("%s: event %s\nwant %s", when, ev, want)
			}
		}
		check("defaults")
		pattern := "cake"
		if err := p.PutRule(ctx, bob, push.NewRule{Kind: push.KindContent, RuleID: "cake", Pattern: &pattern, Actions: json.RawMessage(`["notify"]`)}); err != nil {
			t.Fatal(err)
		}
		check("after adding a rule")
		if ev, _ := p.RulesEvent(ctx, bob); !bytes.Contains(ev, []byte(`"rule_id":"cake"`)) {
			t.Errorf("the new rule is missing: %s", ev)
		}
	})
}
