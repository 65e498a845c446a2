package stateres

import (
	"bytes"
	"crypto/sha1"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// v1Room is a room version 1 room: Alice (creator, 100) and Bob (50) have
// joined.
func v1Room() (*roomBuilder, []*testEvent, *testEvent) {
	v := roomversion.MustLookup("1")
	b := newRoom(v)
	ma := b.add("$ma", alice, typeMember, alice, map[string]any{"membership": "join"})
	pl := b.add("$pl", alice, typePowerLevels, "", map[string]any{"users": map[string]int{alice: 100, bob: 50}}, ma)
	jr := b.add("$jr", alice, typeJoinRules, "", map[string]any{"join_rule": "public"}, pl, ma)
	mb := b.add("$mb", bob, typeMember, bob, map[string]any{"membership": "join"}, pl, jr)
	for i, e := range []*testEvent{ma, pl, jr, mb} {
		e.depth = int64(i + 1)
	}
	return b, []*testEvent{b.c, ma, jr, mb}, pl
}

func withDepth(e *testEvent, d int64) *testEvent { e.depth = d; return e }

func TestV1PowerLevelsConflict(t *testing.T) {
	v := roomversion.MustLookup("1")
	for _, tc := range []struct {
		name       string
		aliceUsers map[string]int
		want       string
	}{
		// Alice's change (lower depth) is taken first; Bob's is then
		// checked against it.
		{"demotion first", map[string]int{alice: 100, bob: 0}, "$pa"},
		{"no demotion", map[string]int{alice: 100, bob: 50}, "$pb"},
	} {
		b, base, pl := v1Room()
		pa := withDepth(b.add("$pa", alice, typePowerLevels, "", map[string]any{"users": tc.aliceUsers}, pl, base[1]), 5)
		pb := withDepth(b.add("$pb", bob, typePowerLevels, "", map[string]any{"users": map[string]int{alice: 100, bob: 50, charlie: 10}}, pl, base[3]), 6)
		got := b.st.resolve(t, v, stateOf(append(base, pa)...), stateOf(append(base, pb)...))
		if got[powerLevelsKey] != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got[powerLevelsKey], tc.want)
		}
	}
}

func TestV1OtherConflicts(t *testing.T) {
	v := roomversion.MustLookup("1")
	b, base, pl := v1Room()
	topicKey := StateKey{"m.room.topic", ""}
	t1 := withDepth(b.add("$t1", alice, "m.room.topic", "", map[string]any{}, pl, base[1]), 3)
	t2 := withDepth(b.add("$t2", charlie, "m.room.topic", "", map[string]any{}, pl), 7) // Charlie is not in the room
	t3 := withDepth(b.add("$t3", alice, "m.room.topic", "", map[string]any{}, pl, base[1]), 5)
	s := func(t *testEvent) StateMap { return stateOf(append(base, pl, t)...) }

	// The highest depth that passes authentication.
	if got := b.st.resolve(t, v, s(t1), s(t2), s(t3)); got[topicKey] != t3.id {
		t.Errorf("got %s, want $t3", got[topicKey])
	}
	// None passes: the lowest depth.
	t4 := withDepth(b.add("$t4", charlie, "m.room.topic", "", map[string]any{}, pl), 2)
	if got := b.st.resolve(t, v, s(t2), s(t4)); got[topicKey] != t4.id {
		t.Errorf("got %s, want $t4", got[topicKey])
	}
	// Equal depth: the lowest sha1(event_id).
	x := withDepth(b.add("$x", alice, "m.room.topic", "", map[string]any{}, pl, base[1]), 9)
	y := withDepth(b.add("$y", alice, "m.room.topic", "", map[string]any{}, pl, base[1]), 9)
	want := x.id
	if sx, sy := sha1.Sum([]byte(x.id)), sha1.Sum([]byte(y.id)); bytes.Compare(sy[:], sx[:]) < 0 {
		want = y.id
	}
	if got := b.st.resolve(t, v, s(x), s(y)); got[topicKey] != want {
		t.Errorf("got %s, want %s", got[topicKey], want)
	}
}

// TestV1MissingKeyIsNotAConflict: in v1 a key present in only some states
// is not a conflict and is taken without an auth check; v2 replays it.
func TestV1MissingKeyIsNotAConflict(t *testing.T) {
	b, base, pl := v1Room()
	topicKey := StateKey{"m.room.topic", ""}
	bad := withDepth(b.add("$bad", charlie, "m.room.topic", "", map[string]any{}, pl), 3)
	s1 := stateOf(append(base, pl, bad)...)
	s2 := stateOf(append(base, pl)...)
	if got := b.st.resolve(t, roomversion.MustLookup("1"), s1, s2); got[topicKey] != bad.id {
		t.Errorf("v1: got %v", nodeNames(got))
	}
	if got := b.st.resolve(t, roomversion.MustLookup("2"), s1, s2); got[topicKey] != "" {
		t.Errorf("v2: got %v", nodeNames(got))
	}
}

// TestV1MembershipAfterPowerLevels: membership conflicts are resolved in R
// after the power levels pass.
func TestV1MembershipAfterPowerLevels(t *testing.T) {
	v := roomversion.MustLookup("1")
	b, base, pl := v1Room()
	ban := withDepth(b.add("$ban", alice, typeMember, bob, map[string]any{"membership": "ban"}, pl, base[1], base[3]), 6)
	// Charlie joins on one side; his join is not in the other state.
	mc := withDepth(b.add("$mc", charlie, typeMember, charlie, map[string]any{"membership": "join"}, pl, base[2]), 5)
	s1 := stateOf(append(base, pl, mc)...)
	s2 := stateOf(b.c, base[1], base[2], pl, ban)
	got := b.st.resolve(t, v, s1, s2)
	if got[StateKey{typeMember, bob}] != ban.id || got[StateKey{typeMember, charlie}] != mc.id {
		t.Errorf("got %v", nodeNames(got))
	}

	// On the first side Alice also lowers her own level below the ban
	// level. PL (depth 2) is taken first, PD (depth 4) passes against it,
	// and the ban then fails in R: Bob's join stays.
	pd := withDepth(b.add("$pd", alice, typePowerLevels, "", map[string]any{"users": map[string]int{alice: 40, bob: 50}}, pl, base[1]), 4)
	s1[powerLevelsKey] = pd.id
	got = b.st.resolve(t, v, s1, s2)
	if got[powerLevelsKey] != pd.id || got[StateKey{typeMember, bob}] != base[3].id {
		t.Errorf("got %v", nodeNames(got))
	}

	// A change Alice may not make (the ban level above her own) is refused
	// against PL, and the ban passes.
	px := withDepth(b.add("$px", alice, typePowerLevels, "", map[string]any{"users": map[string]int{alice: 100, bob: 50}, "ban": 101}, pl, base[1]), 4)
	s1[powerLevelsKey] = px.id
	got = b.st.resolve(t, v, s1, s2)
	if got[powerLevelsKey] != pl.id || got[StateKey{typeMember, bob}] != ban.id {
		t.Errorf("got %v", nodeNames(got))
	}
}

func TestV1Determinism(t *testing.T) {
	v := roomversion.MustLookup("1")
	b, base, pl := v1Room()
	var sets []StateMap
	for i := range 6 {
		ev := withDepth(b.add("$t"+string(rune('a'+i)), []string{alice, bob, charlie}[i%3], "m.room.topic", "", map[string]any{}, pl, base[1+2*(i%2)]), int64(3+i%3))
		pv := withDepth(b.add("$p"+string(rune('a'+i)), []string{alice, bob}[i%2], typePowerLevels, "", map[string]any{"users": map[string]int{alice: 100, bob: 50 - i}}, pl), int64(4+i%2))
		sets = append(sets, stateOf(append(base, pv, ev)...))
	}
	want := b.st.resolve(t, v, sets...)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		in := slices.Clone(sets)
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		if got := b.st.resolve(t, v, in...); !maps.Equal(got, want) {
			t.Fatalf("got %v\nwant %v", nodeNames(got), nodeNames(want))
		}
	}
}

func TestParseLevel(t *testing.T) {
	v1, v6, v10 := roomversion.MustLookup("1"), roomversion.MustLookup("6"), roomversion.MustLookup("10")
	for _, tc := range []struct {
		v    roomversion.Version
		raw  string
		want int64
		ok   bool
	}{
		{v10, `50`, 50, true},
		{v10, `-7`, -7, true},
		{v10, `"50"`, 0, false},
		{v10, `50.5`, 0, false},
		{v6, `" +0050 "`, 50, true},
		{v6, `"-100"`, -100, true},
		{v6, `"1e3"`, 0, false},
		{v6, `"+"`, 0, false},
		{v6, `50.5`, 0, false},
		{v1, `5.114698E4`, 51146, true},
		{v1, `-3.9`, -3, true},
		{v1, `"12"`, 12, true},
		{v1, `1e400`, 0, false},
		{v1, `null`, 0, false},
		{v1, `true`, 0, false},
		{v1, `""`, 0, false},
	} {
		got, ok := authrules.ParseLevel(tc.v, []byte(tc.raw))
		if got != tc.want || ok != tc.ok {
			t.Errorf("v%s %s: got %d %v, want %d %v", tc.v, tc.raw, got, ok, tc.want, tc.ok)
		}
	}
	if got := authrules.UserLevel(v10, []byte(`{"users":{"@a:x":"5"},"users_default":3}`), "@a:x"); got != 3 {
		t.Errorf("invalid users entry should fall back to users_default: %d", got)
	}
	if got := authrules.UserLevel(v10, []byte(`{"users":{"@a:x":7}}`), "@b:x"); got != 0 {
		t.Errorf("default users_default: %d", got)
	}
}
