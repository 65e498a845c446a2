package stateres

import (
	"context"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// roomBuilder builds events for hand-made auth DAGs, selecting create in
// auth events only for room versions that list it.
type roomBuilder struct {
	v  roomversion.Version
	st *store
	c  *testEvent
	ts int64
}

func newRoom(v roomversion.Version) *roomBuilder {
	b := &roomBuilder{v: v, st: newStore()}
	content := map[string]any{"creator": alice}
	if v.CreatorInSender() {
		content = map[string]any{}
	}
	b.c = b.st.add(&testEvent{id: "$create", typ: typeCreate, stateKey: sp(""), sender: alice, content: mustJSON(content)})
	return b
}

func (b *roomBuilder) add(id, sender, typ string, stateKey string, content any, auth ...*testEvent) *testEvent {
	b.ts++
	var ids []string
	if b.v.CreateEventInAuthEvents() {
		ids = append(ids, b.c.id)
	}
	for _, a := range auth {
		ids = append(ids, a.id)
	}
	return b.st.add(&testEvent{id: id, typ: typ, stateKey: sp(stateKey), sender: sender, content: mustJSON(content), auth: ids, ts: b.ts, prev: []string{b.c.id}})
}

func stateOf(evs ...*testEvent) StateMap {
	m := StateMap{}
	for _, e := range evs {
		m[StateKey{e.typ, *e.stateKey}] = e.id
	}
	return m
}

// adminUsers is the users map of the first power levels: Alice is admin,
// except in room version 12 where as the creator she must not be listed.
func adminUsers(v roomversion.Version, more map[string]int) map[string]int {
	users := map[string]int{}
	if !v.PrivilegedCreators() {
		users[alice] = 100
	}
	for k, n := range more {
		users[k] = n
	}
	return users
}

// TestProblemA is MSC4297's problem A: a state set obtained by partial
// synchronisation holds an outdated join rules event, so the two join
// rules events conflict, while both sides agree that Alice, who sent them,
// has left. Replaying the join rules on top of the unconflicted state (v2)
// rejects both and the room loses its join rules; v2.1 replays them from
// the empty state, falling back to their auth events, and keeps JR2.
func TestProblemA(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    string // join rules event, "" for none
	}{
		{"11", ""},
		{"12", "$jr2"},
	} {
		v := roomversion.MustLookup(tc.version)
		b := newRoom(v)
		ma := b.add("$ma", alice, typeMember, alice, map[string]any{"membership": "join"})
		pl := b.add("$pl", alice, typePowerLevels, "", map[string]any{"users": adminUsers(v, nil)}, ma)
		jr1 := b.add("$jr1", alice, typeJoinRules, "", map[string]any{"join_rule": "public"}, pl, ma)
		jr2 := b.add("$jr2", alice, typeJoinRules, "", map[string]any{"join_rule": "invite"}, pl, ma)
		la := b.add("$la", alice, typeMember, alice, map[string]any{"membership": "leave"}, pl, ma)

		got := b.st.resolve(t, v, stateOf(b.c, pl, la, jr2), stateOf(b.c, pl, la, jr1))
		if id := got[joinRulesKey]; id != tc.want {
			t.Errorf("v%s: join rules %q, want %q", tc.version, id, tc.want)
		}
		if got[StateKey{typeMember, alice}] != la.id || got[powerLevelsKey] != pl.id {
			t.Errorf("v%s: unconflicted state not kept: %v", tc.version, nodeNames(got))
		}
	}
}

// problemB builds MSC4297's problem B: Alice promotes Bob (PL1), Bob
// promotes Charlie (PL2). One state set, from partial synchronisation,
// still names PL0 although its other events (Charlie's topic) cite PL2, so
// PL1 is in every auth chain and not in the auth difference.
func problemB(v roomversion.Version) (*roomBuilder, []StateMap, map[string]*testEvent) {
	b := newRoom(v)
	ma := b.add("$ma", alice, typeMember, alice, map[string]any{"membership": "join"})
	pl0 := b.add("$pl0", alice, typePowerLevels, "", map[string]any{"users": adminUsers(v, nil)}, ma)
	jr := b.add("$jr", alice, typeJoinRules, "", map[string]any{"join_rule": "public"}, pl0, ma)
	mb := b.add("$mb", bob, typeMember, bob, map[string]any{"membership": "join"}, pl0, jr)
	mc := b.add("$mc", charlie, typeMember, charlie, map[string]any{"membership": "join"}, pl0, jr)
	pl1 := b.add("$pl1", alice, typePowerLevels, "", map[string]any{"users": adminUsers(v, map[string]int{bob: 50})}, pl0, ma)
	pl2 := b.add("$pl2", bob, typePowerLevels, "", map[string]any{"users": adminUsers(v, map[string]int{bob: 50, charlie: 50})}, pl1, mb)
	tc := b.add("$tc", charlie, "m.room.topic", "", map[string]any{"topic": "hi"}, pl2, mc)
	sets := []StateMap{
		stateOf(b.c, ma, jr, mb, mc, pl2, tc),
		stateOf(b.c, ma, jr, mb, mc, pl0, tc),
	}
	return b, sets, map[string]*testEvent{"pl0": pl0, "pl1": pl1, "pl2": pl2}
}

// TestProblemB: v2 replays PL0 and PL2 only; PL2 fails against PL0 and the
// power levels reset to PL0. v2.1 adds PL1, on the path between them (the
// conflicted state subgraph), and PL2 survives.
func TestProblemB(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    string
		fcs     []string
	}{
		{"11", "$pl0", []string{"$pl0", "$pl2"}},
		// Bob's join and the join rules are on the paths PL2 → MB → PL0
		// and PL2 → MB → JR → PL0.
		{"12", "$pl2", []string{"$jr", "$mb", "$pl0", "$pl1", "$pl2"}},
	} {
		v := roomversion.MustLookup(tc.version)
		b, sets, _ := problemB(v)
		got := b.st.resolve(t, v, sets...)
		if got[powerLevelsKey] != tc.want {
			t.Errorf("v%s: power levels %s, want %s", tc.version, got[powerLevelsKey], tc.want)
		}
		r := newResolver(context.Background(), v, b.st.load, testAuth(v))
		unconflicted, conflicted := separateV2(sets)
		fcs, err := r.fullConflictedSet(sets, unconflicted, conflicted, v.StateResAlgorithm() == roomversion.StateResV2_1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fcs.ids, tc.fcs) {
			t.Errorf("v%s: full conflicted set %v, want %v", tc.version, fcs.ids, tc.fcs)
		}
	}
}

// TestConflictedSubgraph: the subgraph is the events on auth paths between
// conflicted events, endpoints included, and nothing hanging off them.
func TestConflictedSubgraph(t *testing.T) {
	v := roomversion.MustLookup("12")
	st := newStore()
	ev := func(id string, auth ...string) string {
		st.add(&testEvent{id: id, typ: "m.custom", stateKey: sp(id), sender: alice, content: mustJSON(map[string]any{}), auth: auth})
		return id
	}
	z := ev("$z")
	a := ev("$a", z)
	bb := ev("$b", a)
	x := ev("$x", z) // below a conflicted event but leads to none
	c := ev("$c", bb, x)
	e := ev("$e", z)
	d := ev("$d", c, e)
	f := ev("$f", z)
	g := ev("$g", f, a) // second path to a, through f? no: f leads only to z
	r := newResolver(context.Background(), v, st.load, acceptAll)
	closure := map[string]int{}
	if err := r.walk([]string{a, d, g}, func(ev Event) (bool, error) {
		closure[ev.EventID()] = 1
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := r.conflictedSubgraph([]string{a, d, g}, closure)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a, bb, c, d, g}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestV21DiffersOnlyWhereExpected: on a plain fork with no outdated state
// (Bob kicks Charlie while Alice demotes Bob), v2 and v2.1 agree.
func TestV21DiffersOnlyWhereExpected(t *testing.T) {
	for _, id := range []string{"11", "12"} {
		v := roomversion.MustLookup(id)
		b := newRoom(v)
		ma := b.add("$ma", alice, typeMember, alice, map[string]any{"membership": "join"})
		pl := b.add("$pl", alice, typePowerLevels, "", map[string]any{"users": adminUsers(v, map[string]int{bob: 50})}, ma)
		jr := b.add("$jr", alice, typeJoinRules, "", map[string]any{"join_rule": "public"}, pl, ma)
		mb := b.add("$mb", bob, typeMember, bob, map[string]any{"membership": "join"}, pl, jr)
		mc := b.add("$mc", charlie, typeMember, charlie, map[string]any{"membership": "join"}, pl, jr)
		kick := b.add("$kick", bob, typeMember, charlie, map[string]any{"membership": "leave"}, pl, mb, mc)
		demote := b.add("$demote", alice, typePowerLevels, "", map[string]any{"users": adminUsers(v, nil)}, pl, ma)
		tb := b.add("$tb", bob, "m.room.topic", "", map[string]any{}, pl, mb)
		base := []*testEvent{b.c, ma, jr, mb}
		s1 := stateOf(append(base, pl, mc, tb)...)
		s2 := stateOf(append(base, demote, kick)...)
		got := b.st.resolve(t, v, s1, s2)
		want := stateOf(append(base, demote, mc)...)
		if !mapsEqual(got, want) {
			t.Errorf("v%s: got %v\nwant %v", id, nodeNames(got), nodeNames(want))
		}
	}
}

func mapsEqual(a, b StateMap) bool {
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
