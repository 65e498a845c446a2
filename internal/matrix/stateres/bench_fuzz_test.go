package stateres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// bigFork builds two state sets of about 10,000 entries each (10,000
// joined members plus the room's auth state) that differ in 50 keys, i.e.
// 100 conflicted events: 40 custom state events on each side, and 10
// members kicked by Alice on one side and leaving by themselves on the
// other.
func bigFork(v roomversion.Version) (*store, []StateMap) {
	b := newRoom(v)
	ma := b.add("$ma", alice, typeMember, alice, map[string]any{"membership": "join"})
	pl := b.add("$pl", alice, typePowerLevels, "", map[string]any{"users": adminUsers(v, nil)}, ma)
	jr := b.add("$jr", alice, typeJoinRules, "", map[string]any{"join_rule": "public"}, pl, ma)
	base := stateOf(b.c, ma, pl, jr)
	joins := make([]*testEvent, 10000)
	for i := range joins {
		u := fmt.Sprintf("@u%05d:example.com", i)
		joins[i] = b.add("$join-"+u, u, typeMember, u, map[string]any{"membership": "join"}, pl, jr)
		base[StateKey{typeMember, u}] = joins[i].id
	}
	a, c := base.Clone(), base.Clone()
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		ea := b.add("$a-"+k, alice, "m.room.custom", k, map[string]any{"side": "a"}, pl, ma)
		ec := b.add("$c-"+k, alice, "m.room.custom", k, map[string]any{"side": "c"}, pl, ma)
		a[StateKey{"m.room.custom", k}] = ea.id
		c[StateKey{"m.room.custom", k}] = ec.id
	}
	for i := range 10 {
		j := joins[i*997]
		u := j.sender
		kick := b.add("$kick-"+u, alice, typeMember, u, map[string]any{"membership": "leave"}, pl, ma, j)
		leave := b.add("$leave-"+u, u, typeMember, u, map[string]any{"membership": "leave"}, pl, j)
		a[StateKey{typeMember, u}] = kick.id
		c[StateKey{typeMember, u}] = leave.id
	}
	return b.st, []StateMap{a, c}
}

func BenchmarkResolve10kStates100Conflicts(b *testing.B) {
	for _, id := range []string{"1", "11", "12"} {
		b.Run("v"+id, func(b *testing.B) {
			v := roomversion.MustLookup(id)
			st, sets := bigFork(v)
			auth := testAuth(v)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := Resolve(ctx, v, sets, st.load, auth)
				if err != nil {
					b.Fatal(err)
				}
				if len(res) < 10000 {
					b.Fatalf("result has %d entries", len(res))
				}
			}
		})
	}
}

// TestBigFork checks the benchmark's resolution: Alice's kicks (power
// events, applied first) win over the self-leaves.
func TestBigFork(t *testing.T) {
	for _, id := range []string{"11", "12"} {
		v := roomversion.MustLookup(id)
		st, sets := bigFork(v)
		res := st.resolve(t, v, sets...)
		if len(res) != len(sets[0]) {
			t.Errorf("v%s: %d entries, want %d", id, len(res), len(sets[0]))
		}
		for k, eid := range res {
			if k.Type == typeMember && eid != sets[0][k] && eid != sets[1][k] {
				t.Errorf("v%s: %v = %s, from neither side", id, k, eid)
			}
		}
		u := "@u00997:example.com"
		if got := res[StateKey{typeMember, u}]; got != "$kick-"+u {
			// The kick is a power event, applied first; the self-leave,
			// replayed in the mainline pass, then fails: the user has
			// already left.
			t.Errorf("v%s: %s membership %s", id, u, got)
		}
	}
}

// FuzzResolve resolves random small auth graphs (DAGs, unless a forward
// reference closes a cycle): no panics, no errors but ErrAuthCycle, the
// same result whatever the order of the state sets, and every resolved
// event sits at its own key.
func FuzzResolve(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("state resolution v2.1 with conflicted subgraph"))
	f.Add([]byte{3, 200, 17, 99, 4, 4, 4, 0, 255, 128, 64, 32, 16, 8, 4, 2, 1, 0, 9, 9, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data: data}
		v := roomversion.MustLookup([]string{"1", "2", "11", "12"}[in.next()%4])
		auth := testAuth(v)
		if in.next()%4 == 0 {
			auth = acceptAll
		}
		st, sets := randomRoom(v, in)
		ctx := context.Background()
		res, err := Resolve(ctx, v, sets, st.load, auth)
		rev := slices.Clone(sets)
		slices.Reverse(rev)
		res2, err2 := Resolve(ctx, v, rev, st.load, auth)
		if errors.Is(err, ErrAuthCycle) && errors.Is(err2, ErrAuthCycle) {
			return // forward references made a cycle
		}
		if err != nil || err2 != nil {
			t.Fatalf("Resolve: %v / reversed: %v", err, err2)
		}
		if !maps.Equal(res, res2) {
			t.Fatalf("order dependent:\n%v\n%v", nodeNames(res), nodeNames(res2))
		}
		for k, id := range res {
			if e := st.events[id]; e != nil && (e.typ != k.Type || *e.stateKey != k.StateKey) {
				t.Fatalf("%s resolved at %v", id, k)
			}
		}
	})
}

type fuzzInput struct {
	data []byte
	pos  int
}

func (in *fuzzInput) next() int {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[in.pos%len(in.data)]
	in.pos++
	return int(b) + in.pos/len(in.data) // vary once the input wraps
}

func randomRoom(v roomversion.Version, in *fuzzInput) (*store, []StateMap) {
	users := []string{alice, bob, charlie}
	b := newRoom(v)
	events := []*testEvent{b.c}
	n := 2 + in.next()%20
	for i := range n {
		sender := users[in.next()%3]
		var typ, sk string
		var content any
		switch in.next() % 6 {
		case 0:
			typ = typePowerLevels
			lv := []int{0, 50, 100}
			content = map[string]any{"users": map[string]int{
				alice: lv[in.next()%3], bob: lv[in.next()%3], charlie: lv[in.next()%3],
			}}
		case 1:
			typ = typeJoinRules
			content = map[string]any{"join_rule": []string{"public", "invite"}[in.next()%2]}
		case 2, 3:
			typ = typeMember
			sk = users[in.next()%3]
			content = map[string]any{"membership": []string{"join", "leave", "ban", "invite"}[in.next()%4]}
		case 4:
			typ = "m.room.topic"
			content = map[string]any{}
		default:
			typ = "m.custom"
			sk = users[in.next()%3]
			content = map[string]any{}
		}
		var auth []*testEvent
		for _, e := range events[1:] {
			if in.next()%3 == 0 {
				auth = append(auth, e)
			}
		}
		e := b.add(fmt.Sprintf("$e%02d", i), sender, typ, sk, content, auth...)
		switch in.next() % 16 {
		case 0:
			e.auth = append(e.auth, "$missing")
		case 1:
			// A forward reference, which may close a cycle.
			e.auth = append(e.auth, fmt.Sprintf("$e%02d", i+1+in.next()%3))
		}
		e.ts = int64(in.next() % 4)
		e.depth = int64(i + 1)
		events = append(events, e)
	}
	var sets []StateMap
	for range 2 + in.next()%2 {
		s := StateMap{createKey: b.c.id}
		for _, e := range events[1:] {
			if in.next()%2 == 0 {
				s[StateKey{e.typ, *e.stateKey}] = e.id
			}
		}
		sets = append(sets, s)
	}
	return b.st, sets
}
