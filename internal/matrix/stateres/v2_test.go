package stateres

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// v2Versions are the room versions the classic scenarios run under: state
// resolution v2 (several auth rule generations) and v2.1.
var v2Versions = []string{"2", "6", "10", "11", "12"}

type scenario struct {
	name     string
	nodes    []node
	edges    [][]string
	expected []string
}

// The well-known state resolution v2 scenarios (the ones every
// implementation tests against, from the original MSC1442 work).
var classicScenarios = []scenario{
	{
		// Alice bans Bob while Bob concurrently changes the power levels:
		// the ban is ordered first (Alice has more power), so Bob's power
		// levels change fails.
		name: "ban vs power levels",
		nodes: []node{
			powerLevels("PA", alice, map[string]int{alice: 100, bob: 50}),
			member("MA", alice, alice, "join"),
			member("MB", alice, bob, "ban"),
			powerLevels("PB", bob, map[string]int{alice: 100, bob: 50}),
		},
		edges:    [][]string{{"END", "MB", "MA", "PA", "START"}, {"END", "PB", "PA"}},
		expected: []string{"PA", "MA", "MB"},
	},
	{
		// Evelyn joins concurrently with the room being made private: the
		// join rules change is a power event and wins.
		name: "join rule evasion",
		nodes: []node{
			stateNode("JR", alice, typeJoinRules, map[string]any{"join_rule": "private"}),
			member("ME", evelyn, evelyn, "join"),
		},
		edges:    [][]string{{"END", "JR", "START"}, {"END", "ME", "START"}},
		expected: []string{"JR"},
	},
	{
		// A power levels change on one side and an unrelated chain of
		// power level changes on the other.
		name: "offtopic power levels",
		nodes: []node{
			powerLevels("PA", alice, map[string]int{alice: 100, bob: 50}),
			powerLevels("PB", bob, map[string]int{alice: 100, bob: 50, charlie: 50}),
			powerLevels("PC", charlie, map[string]int{alice: 100, bob: 50, charlie: 0}),
		},
		edges:    [][]string{{"END", "PC", "PB", "PA", "START"}, {"END", "PA"}},
		expected: []string{"PC"},
	},
	{
		name: "topic basic",
		nodes: []node{
			topic("T1", alice),
			powerLevels("PA1", alice, map[string]int{alice: 100, bob: 50}),
			topic("T2", alice),
			powerLevels("PA2", alice, map[string]int{alice: 100, bob: 0}),
			powerLevels("PB", bob, map[string]int{alice: 100, bob: 50}),
			topic("T3", bob),
		},
		edges:    [][]string{{"END", "PA2", "T2", "PA1", "T1", "START"}, {"END", "T3", "PB", "PA1"}},
		expected: []string{"PA2", "T2"},
	},
	{
		// Bob's topic must not "reset" to T1 because of his ban.
		name: "topic reset",
		nodes: []node{
			topic("T1", alice),
			powerLevels("PA", alice, map[string]int{alice: 100, bob: 50}),
			topic("T2", bob),
			member("MB", alice, bob, "ban"),
		},
		edges:    [][]string{{"END", "MB", "T2", "PA", "T1", "START"}, {"END", "T1"}},
		expected: []string{"T1", "MB", "PA"},
	},
	{
		name: "topic",
		nodes: []node{
			topic("T1", alice),
			powerLevels("PA1", alice, map[string]int{alice: 100, bob: 50}),
			topic("T2", alice),
			powerLevels("PA2", alice, map[string]int{alice: 100, bob: 0}),
			powerLevels("PB", bob, map[string]int{alice: 100, bob: 50}),
			topic("T3", bob),
			{"MZ1", zara, "m.room.message", nil, map[string]any{}},
			topic("T4", alice),
		},
		edges: [][]string{
			{"END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"},
			{"END", "MZ1", "T3", "PB", "PA1"},
		},
		expected: []string{"T4", "PA2"},
	},
	{
		// T3 wins over the later T4 because T4 is based on an older power
		// levels event of the mainline.
		name: "mainline sort",
		nodes: []node{
			topic("T1", alice),
			powerLevels("PA1", alice, map[string]int{alice: 100, bob: 50}),
			topic("T2", alice),
			stateNode("PA2", alice, typePowerLevels, map[string]any{
				"users":  map[string]int{alice: 100, bob: 50},
				"events": map[string]int{typePowerLevels: 100},
			}),
			powerLevels("PB", bob, map[string]int{alice: 100, bob: 50}),
			topic("T3", bob),
			topic("T4", alice),
		},
		edges: [][]string{
			{"END", "T3", "PA2", "T2", "PA1", "T1", "START"},
			{"END", "T4", "PB", "PA1"},
		},
		expected: []string{"T3", "PA2"},
	},
	{
		// Bob and Charlie leave concurrently: each membership conflicts
		// with the old join on the other side; both leaves survive.
		name: "concurrent leaves",
		nodes: []node{
			member("JB", bob, bob, "leave"),
			member("JC", charlie, charlie, "leave"),
		},
		edges:    [][]string{{"END", "JB", "START"}, {"END", "JC", "START"}},
		expected: []string{"JB", "JC"},
	},
	{
		// Bob kicks Charlie while Alice demotes Bob: Alice is more powerful,
		// her demotion is ordered first, and the kick fails.
		name: "kick vs demotion",
		nodes: []node{
			powerLevels("PA", alice, map[string]int{alice: 100, bob: 50}),
			powerLevels("PD", alice, map[string]int{alice: 100}),
			member("KC", bob, charlie, "leave"),
		},
		edges:    [][]string{{"END", "PD", "PA", "START"}, {"END", "KC", "PA"}},
		expected: []string{"PD"},
	},
}

func TestClassicScenarios(t *testing.T) {
	for _, sc := range classicScenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, id := range v2Versions {
				checkScenario(t, roomversion.MustLookup(id), sc.nodes, sc.edges, sc.expected)
			}
		})
	}
}

// TestDeterminism resolves the forks at END of every scenario 50 times with
// the state sets shuffled (and duplicated), expecting the same answer.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sc := range classicScenarios {
		for _, id := range v2Versions {
			v := roomversion.MustLookup(id)
			g := buildGraph(t, v, sc.nodes, sc.edges)
			var sets []StateMap
			for _, p := range g.byNode["END"].prev {
				sets = append(sets, g.stateAt[nodeOf(p)])
			}
			want := g.st.resolve(t, v, sets...)
			for range 50 {
				in := slices.Clone(sets)
				if rng.IntN(2) == 0 {
					in = append(in, in[rng.IntN(len(in))].Clone())
				}
				rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
				got := g.st.resolve(t, v, in...)
				if !maps.Equal(got, want) {
					t.Fatalf("%s v%s: result depends on input order:\n got %v\nwant %v", sc.name, id, nodeNames(got), nodeNames(want))
				}
			}
		}
	}
}

func nodeOf(eventID string) string { return eventID[1 : len(eventID)-len(":example.com")] }

func TestUnconflictedPassthrough(t *testing.T) {
	for _, id := range []string{"1", "2", "11", "12"} {
		v := roomversion.MustLookup(id)
		st := newStore()
		s := StateMap{}
		for i := range 20 {
			s[StateKey{"m.custom", string(rune('a' + i))}] = "$e" + string(rune('a'+i))
		}
		got := st.resolve(t, v, s, s.Clone(), s.Clone())
		if !maps.Equal(got, s) {
			t.Errorf("v%s: got %v", id, got)
		}
		if st.loads != 0 {
			t.Errorf("v%s: unconflicted resolution loaded events %d times", id, st.loads)
		}
		got[StateKey{"x", ""}] = "y" // the result is a new map
		if _, ok := s[StateKey{"x", ""}]; ok {
			t.Errorf("v%s: result aliases the input", id)
		}
		if got := st.resolve(t, v); len(got) != 0 {
			t.Errorf("v%s: no state sets gave %v", id, got)
		}
		one := st.resolve(t, v, s)
		if !maps.Equal(one, s) {
			t.Errorf("v%s: one state set gave %v", id, one)
		}
	}
}

// TestAuthDifferenceIncludesStateEvents pins our reading of the auth
// difference: the full auth chain of a state set includes its own events,
// so an unconflicted event cited by only one side's conflicted events is
// not in the full conflicted set.
func TestAuthDifferenceIncludesStateEvents(t *testing.T) {
	v := roomversion.MustLookup("11")
	st := newStore()
	c := st.add(&testEvent{id: "$c", typ: typeCreate, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{})})
	m := st.add(&testEvent{id: "$m", typ: typeMember, stateKey: sp(alice), sender: alice, content: mustJSON(map[string]any{"membership": "join"}), auth: []string{c.id}})
	p0 := st.add(&testEvent{id: "$p0", typ: typePowerLevels, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{"users": map[string]int{alice: 100}}), auth: []string{c.id, m.id}})
	p1 := st.add(&testEvent{id: "$p1", typ: typePowerLevels, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{"users": map[string]int{alice: 100, bob: 50}}), auth: []string{c.id, m.id, p0.id}})
	t1 := st.add(&testEvent{id: "$t1", typ: "m.room.topic", stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{}), auth: []string{c.id, m.id, p1.id}, ts: 1})
	t2 := st.add(&testEvent{id: "$t2", typ: "m.room.topic", stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{}), auth: []string{c.id, m.id, p0.id}, ts: 2})
	base := StateMap{createKey: c.id, {typeMember, alice}: m.id, powerLevelsKey: p1.id}
	s1, s2 := base.Clone(), base.Clone()
	s1[StateKey{"m.room.topic", ""}] = t1.id
	s2[StateKey{"m.room.topic", ""}] = t2.id

	r := newResolver(context.Background(), v, st.load, testAuth(v))
	unconflicted, conflicted := separateV2([]StateMap{s1, s2})
	fcs, err := r.fullConflictedSet([]StateMap{s1, s2}, unconflicted, conflicted, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"$t1", "$t2"}; !slices.Equal(fcs.ids, want) {
		t.Errorf("full conflicted set %v, want %v", fcs.ids, want)
	}
	got := st.resolve(t, v, s1, s2)
	// T1 cites P1, the head of the mainline, so it is ordered after T2.
	if got[StateKey{"m.room.topic", ""}] != t1.id || got[powerLevelsKey] != p1.id {
		t.Errorf("got %v", got)
	}
}

// TestReverseTopologicalPowerOrder checks Kahn's algorithm with the
// tie-breaks: power level, then origin_server_ts, then event ID.
func TestReverseTopologicalPowerOrder(t *testing.T) {
	v := roomversion.MustLookup("11")
	st := newStore()
	pl := st.add(&testEvent{id: "$pl", typ: typePowerLevels, stateKey: sp(""), sender: alice,
		content: mustJSON(map[string]any{"users": map[string]int{alice: 100, bob: 50}})})
	mk := func(id, sender string, ts int64, auth ...string) string {
		st.add(&testEvent{id: id, typ: typePowerLevels, stateKey: sp(""), sender: sender, content: mustJSON(map[string]any{}), auth: append([]string{pl.id}, auth...), ts: ts})
		return id
	}
	// The graph of Synapse's lexicographical sort test (l→o, m→n,o, n→o,
	// p→o), all with the same sender and timestamp: event ID decides.
	o := mk("$o", charlie, 5)
	mk("$n", charlie, 5, o)
	mk("$m", charlie, 5, "$n", o)
	mk("$l", charlie, 5, o)
	mk("$p", charlie, 5, o)
	// Power beats timestamp, timestamp beats ID.
	mk("$z-alice-late", alice, 9)
	mk("$y-bob-early", bob, 1)
	mk("$x-bob-late", bob, 2)

	r := newResolver(context.Background(), v, st.load, acceptAll)
	ids := []string{"$p", "$o", "$n", "$m", "$l", "$z-alice-late", "$y-bob-early", "$x-bob-late"}
	fcs := map[string]bool{}
	for _, id := range ids {
		fcs[id] = true
	}
	if err := r.fetch(append(ids, pl.id)); err != nil {
		t.Fatal(err)
	}
	got, err := r.reverseTopologicalPowerOrder(ids, fcs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"$z-alice-late", "$y-bob-early", "$x-bob-late", "$o", "$l", "$n", "$m", "$p"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestTopologicalOrderThroughOutsideEvents: y is in the auth chain of x
// only through an event outside the full conflicted set; y must still come
// first although x's sender is more powerful.
func TestTopologicalOrderThroughOutsideEvents(t *testing.T) {
	v := roomversion.MustLookup("11")
	st := newStore()
	pl := st.add(&testEvent{id: "$pl", typ: typePowerLevels, stateKey: sp(""), sender: alice,
		content: mustJSON(map[string]any{"users": map[string]int{alice: 100, bob: 50}})})
	y := st.add(&testEvent{id: "$y", typ: typeJoinRules, stateKey: sp(""), sender: bob, content: mustJSON(map[string]any{}), auth: []string{pl.id}, ts: 1})
	mid := st.add(&testEvent{id: "$mid", typ: typeMember, stateKey: sp(alice), sender: alice, content: mustJSON(map[string]any{"membership": "join"}), auth: []string{pl.id, y.id}, ts: 2})
	x := st.add(&testEvent{id: "$x", typ: typeMember, stateKey: sp(bob), sender: alice, content: mustJSON(map[string]any{"membership": "ban"}), auth: []string{pl.id, mid.id}, ts: 3})
	r := newResolver(context.Background(), v, st.load, acceptAll)
	if err := r.fetch([]string{pl.id, y.id, mid.id, x.id}); err != nil {
		t.Fatal(err)
	}
	got, err := r.reverseTopologicalPowerOrder([]string{x.id, y.id}, map[string]bool{x.id: true, y.id: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{y.id, x.id}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestMainlineOrder(t *testing.T) {
	v := roomversion.MustLookup("11")
	st := newStore()
	ev := func(id, typ string, ts int64, auth ...string) string {
		st.add(&testEvent{id: id, typ: typ, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{}), auth: auth, ts: ts})
		return id
	}
	p0 := ev("$p0", typePowerLevels, 0)
	p1 := ev("$p1", typePowerLevels, 1, p0)
	p2 := ev("$p2", typePowerLevels, 2, p1)
	side := ev("$side", typePowerLevels, 3, p0) // off the mainline, based on p0
	a := ev("$a", "m.room.topic", 10, p2)       // position 0
	b := ev("$b", "m.room.topic", 11, p1)       // position 1
	c := ev("$c", "m.room.topic", 1, side)      // via side → p0: position 2
	d := ev("$d", "m.room.topic", 12)           // no power levels: ∞
	e := ev("$e", "m.room.topic", 5, p1)        // position 1, earlier than b
	f := ev("$f", "m.room.topic", 5, p1)        // same position and ts as e
	r := newResolver(context.Background(), v, st.load, acceptAll)
	got, err := r.mainlineOrder([]string{a, b, c, d, e, f}, p2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{d, c, e, f, b, a}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// No power levels event: position ∞ for all, by timestamp then ID.
	got, err = r.mainlineOrder([]string{a, b, c, d, e, f}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{c, e, f, a, b, d}; !slices.Equal(got, want) {
		t.Errorf("no mainline: got %v, want %v", got, want)
	}
}

// TestCreatorsInfinitePower: in room version 12 a creator (sender or
// additional_creators) outranks users with any explicit power level; in
// version 11 the creator is just another user once power levels exist.
func TestCreatorsInfinitePower(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"12", []string{"$2-carol", "$1-bob"}},
		{"11", []string{"$1-bob", "$2-carol"}},
	} {
		v := roomversion.MustLookup(tc.version)
		st := newStore()
		create := st.add(&testEvent{id: "$create", typ: typeCreate, stateKey: sp(""), sender: alice,
			content: mustJSON(map[string]any{"additional_creators": []string{charlie}})})
		pl := st.add(&testEvent{id: "$pl", typ: typePowerLevels, stateKey: sp(""), sender: alice,
			content: mustJSON(map[string]any{"users": map[string]int{bob: 1000}})})
		st.add(&testEvent{id: "$1-bob", typ: typeJoinRules, stateKey: sp(""), sender: bob, content: mustJSON(map[string]any{}), auth: []string{pl.id}, ts: 1})
		st.add(&testEvent{id: "$2-carol", typ: typeJoinRules, stateKey: sp(""), sender: charlie, content: mustJSON(map[string]any{}), auth: []string{pl.id}, ts: 2})
		r := newResolver(context.Background(), v, st.load, acceptAll)
		if err := r.findCreate([]StateMap{{createKey: create.id}}); err != nil {
			t.Fatal(err)
		}
		ids := []string{"$1-bob", "$2-carol"}
		if err := r.fetch(append(ids, pl.id)); err != nil {
			t.Fatal(err)
		}
		got, err := r.reverseTopologicalPowerOrder(ids, map[string]bool{ids[0]: true, ids[1]: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("v%s: got %v, want %v", tc.version, got, tc.want)
		}
	}
}

func TestSenderPowerWithoutPowerLevels(t *testing.T) {
	v := roomversion.MustLookup("6")
	st := newStore()
	create := st.add(&testEvent{id: "$c", typ: typeCreate, stateKey: sp(""), sender: bob, content: mustJSON(map[string]any{"creator": alice})})
	a := st.add(&testEvent{id: "$a", typ: "x", sender: alice, auth: []string{create.id}})
	b := st.add(&testEvent{id: "$b", typ: "x", sender: bob, auth: []string{create.id}})
	r := newResolver(context.Background(), v, st.load, acceptAll)
	if err := r.fetch([]string{create.id, a.id, b.id}); err != nil {
		t.Fatal(err)
	}
	if p := r.senderPower(a); p.level != 100 {
		t.Errorf("content.creator before v11: got %v", p)
	}
	if p := r.senderPower(b); p.level != 0 {
		t.Errorf("create sender before v11: got %v", p)
	}
	r.v = roomversion.MustLookup("11")
	if p := r.senderPower(b); p.level != 100 {
		t.Errorf("create sender from v11: got %v", p)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	v := roomversion.MustLookup("11")
	st := newStore()
	a := st.add(&testEvent{id: "$a", typ: typePowerLevels, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{}), auth: []string{"$b"}})
	b := st.add(&testEvent{id: "$b", typ: typePowerLevels, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{}), auth: []string{"$a"}})
	sets := []StateMap{{powerLevelsKey: a.id}, {powerLevelsKey: b.id}}

	if _, err := Resolve(ctx, v, sets, st.load, acceptAll); !errors.Is(err, ErrAuthCycle) {
		t.Errorf("auth cycle: got %v", err)
	}
	if _, err := Resolve(ctx, roomversion.Version{}, sets, st.load, acceptAll); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("zero version: got %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Resolve(cctx, v, sets, st.load, acceptAll); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	boom := errors.New("boom")
	st.fail = boom
	if _, err := Resolve(ctx, v, sets, st.load, acceptAll); !errors.Is(err, boom) {
		t.Errorf("loader error: got %v", err)
	}
	st.fail = nil
	v12 := roomversion.MustLookup("12")
	if _, err := Resolve(ctx, v12, []StateMap{{createKey: "$c1"}, {createKey: "$c2"}}, st.load, acceptAll); !errors.Is(err, ErrConflictingCreate) {
		t.Errorf("two create events in v12: got %v", err)
	}
}

// TestMissingEvents: unknown events (conflicted or in auth chains) are
// ignored rather than failing the resolution.
func TestMissingEvents(t *testing.T) {
	v := roomversion.MustLookup("11")
	st := newStore()
	c := st.add(&testEvent{id: "$c", typ: typeCreate, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{})})
	m := st.add(&testEvent{id: "$m", typ: typeMember, stateKey: sp(alice), sender: alice, content: mustJSON(map[string]any{"membership": "join"}), auth: []string{c.id, "$gone"}})
	t1 := st.add(&testEvent{id: "$t1", typ: "m.room.topic", stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{}), auth: []string{c.id, m.id, "$gone2"}})
	base := StateMap{createKey: c.id, {typeMember, alice}: m.id}
	s1, s2 := base.Clone(), base.Clone()
	s1[StateKey{"m.room.topic", ""}] = t1.id
	s2[StateKey{"m.room.topic", ""}] = "$unknown"
	got := st.resolve(t, v, s1, s2)
	if got[StateKey{"m.room.topic", ""}] != t1.id {
		t.Errorf("got %v", got)
	}
}

// TestRejectedAuthEventsIgnored: a rejected auth event is not used as the
// fallback of the iterative auth checks.
func TestRejectedAuthEventsIgnored(t *testing.T) {
	v := roomversion.MustLookup("12")
	st := newStore()
	c := st.add(&testEvent{id: "$c", typ: typeCreate, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{})})
	ma := st.add(&testEvent{id: "$ma", typ: typeMember, stateKey: sp(alice), sender: alice, content: mustJSON(map[string]any{"membership": "join"}), prev: []string{c.id}})
	pl := st.add(&testEvent{id: "$pl", typ: typePowerLevels, stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{"users": map[string]int{bob: 50}}), auth: []string{ma.id}})
	mb := st.add(&testEvent{id: "$mb", typ: typeMember, stateKey: sp(bob), sender: bob, content: mustJSON(map[string]any{"membership": "join"}), auth: []string{pl.id}, rejected: true})
	t1 := st.add(&testEvent{id: "$t1", typ: "m.room.topic", stateKey: sp(""), sender: bob, content: mustJSON(map[string]any{}), auth: []string{pl.id, mb.id}, ts: 1})
	t2 := st.add(&testEvent{id: "$t2", typ: "m.room.topic", stateKey: sp(""), sender: alice, content: mustJSON(map[string]any{}), auth: []string{pl.id, ma.id}, ts: 2})
	base := StateMap{createKey: c.id, {typeMember, alice}: ma.id, powerLevelsKey: pl.id}
	s1, s2 := base.Clone(), base.Clone()
	s1[StateKey{"m.room.topic", ""}] = t1.id
	s2[StateKey{"m.room.topic", ""}] = t2.id
	got := st.resolve(t, v, s1, s2)
	if got[StateKey{"m.room.topic", ""}] != t2.id {
		t.Errorf("got %v: Bob's topic passed with a rejected membership", nodeNames(got))
	}
	mb.rejected = false
	got = st.resolve(t, v, s1, s2)
	if got[StateKey{"m.room.topic", ""}] != t2.id {
		// Both pass; T2 is later in the mainline ordering.
		t.Errorf("got %v", nodeNames(got))
	}
}
