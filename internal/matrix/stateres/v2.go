package stateres

import (
	"container/heap"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// resolveV2 is state resolution v2 (room versions 2–11) and, with v21,
// v2.1 (room version 12, MSC4297). Step numbers refer to the "Algorithm"
// section of the spec.
func (r *resolver) resolveV2(stateSets []StateMap, v21 bool) (StateMap, error) {
	unconflicted, conflicted := separateV2(stateSets)
	if len(conflicted) == 0 {
		return unconflicted, nil
	}
	if err := r.findCreate(stateSets); err != nil {
		return nil, err
	}
	fcs, err := r.fullConflictedSet(stateSets, unconflicted, conflicted, v21)
	if err != nil {
		return nil, err
	}

	// Step 1: the power events of the full conflicted set and the events of
	// their auth chains that belong to the full conflicted set, in reverse
	// topological power ordering.
	var powerEvents []string
	for _, id := range fcs.ids {
		if isPowerEvent(r.get(id)) {
			powerEvents = append(powerEvents, id)
		}
	}
	sortedPower, err := r.reverseTopologicalPowerOrder(powerEvents, fcs.set)
	if err != nil {
		return nil, err
	}

	// Step 2: iterative auth checks from the unconflicted state map (v2) or
	// from an empty state map (v2.1).
	state := &layered{base: unconflicted, over: make(StateMap)}
	if v21 {
		state.base = nil
	}
	if err := r.iterativeAuthChecks(state, sortedPower); err != nil {
		return nil, err
	}

	// Step 3: the remaining events in mainline ordering based on the power
	// levels event of the partially resolved state.
	picked := make(map[string]bool, len(sortedPower))
	for _, id := range sortedPower {
		picked[id] = true
	}
	var rest []string
	for _, id := range fcs.ids {
		if !picked[id] {
			rest = append(rest, id)
		}
	}
	plID, _ := state.get(powerLevelsKey)
	rest, err = r.mainlineOrder(rest, plID)
	if err != nil {
		return nil, err
	}

	// Step 4: iterative auth checks on the partially resolved state.
	if err := r.iterativeAuthChecks(state, rest); err != nil {
		return nil, err
	}

	// Step 5: the unconflicted state map wins over the resolved events.
	for k, id := range state.over {
		if _, ok := unconflicted[k]; !ok {
			unconflicted[k] = id
		}
	}
	return unconflicted, nil
}

// separateV2 splits the state sets into the unconflicted state map (the
// keys present in every set with the same event) and the conflicted state
// set (every other event), returned sorted.
func separateV2(stateSets []StateMap) (StateMap, []string) {
	first, rest := stateSets[0], stateSets[1:]
	unconflicted := make(StateMap, len(first))
	conflicted := make(map[string]struct{})
	for k, id := range first {
		same := true
		for _, t := range rest {
			if other, ok := t[k]; !ok || other != id {
				same = false
				break
			}
		}
		if same {
			unconflicted[k] = id
			continue
		}
		conflicted[id] = struct{}{}
		for _, t := range rest {
			if other, ok := t[k]; ok {
				conflicted[other] = struct{}{}
			}
		}
	}
	// Keys missing from the first set are conflicted in every set.
	for _, t := range rest {
		for k, id := range t {
			if _, ok := first[k]; !ok {
				conflicted[id] = struct{}{}
			}
		}
	}
	ids := make([]string, 0, len(conflicted))
	for id := range conflicted {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return unconflicted, ids
}

// eventSet is a set of event IDs with its members in sorted order.
type eventSet struct {
	set map[string]bool
	ids []string
}

// fullConflictedSet computes the full conflicted set: the conflicted state
// set, the auth difference and, for v2.1, the conflicted state subgraph.
// Only known state events are kept. It loads the conflicted events, their
// auth chains and (when needed to settle the auth difference) the auth
// chains of the unconflicted state.
func (r *resolver) fullConflictedSet(stateSets []StateMap, unconflicted StateMap, conflicted []string, v21 bool) (eventSet, error) {
	isConflicted := make(map[string]bool, len(conflicted))
	for _, id := range conflicted {
		isConflicted[id] = true
	}

	// The full auth chain C_i of state set S_i is the union of U, the
	// unconflicted events and their auth chains (common to every C_i), and
	// Y_i, the conflicted events of S_i and their auth chains. So
	// ∪C_i − ∩C_i = (∪Y_i − ∩Y_i) − U, and only the Y_i need walking in
	// full. inY counts, for every event, the Y_i it belongs to; its keys
	// are the conflicted events and their auth chains ("the closure").
	k := len(stateSets)
	inY := make(map[string]int)
	for _, s := range stateSets {
		var starts []string
		for _, id := range s {
			if isConflicted[id] {
				starts = append(starts, id)
			}
		}
		slices.Sort(starts)
		err := r.walk(starts, func(ev Event) (bool, error) {
			inY[ev.EventID()]++
			return true, nil
		})
		if err != nil {
			return eventSet{}, err
		}
	}
	candidates := make(map[string]bool)
	for id, n := range inY {
		if n < k {
			candidates[id] = true
		}
	}
	if len(candidates) > 0 {
		// Remove the candidates that belong to U. Events in every Y_i
		// have their whole auth chain in every Y_i, so the walk need not
		// go past them.
		starts := make([]string, 0, len(unconflicted))
		for _, id := range unconflicted {
			starts = append(starts, id)
		}
		slices.Sort(starts)
		remaining := len(candidates)
		err := r.walk(starts, func(ev Event) (bool, error) {
			id := ev.EventID()
			if candidates[id] {
				delete(candidates, id)
				remaining--
				if remaining == 0 {
					return false, errStopWalk
				}
			}
			return inY[id] < k, nil
		})
		if err != nil {
			return eventSet{}, err
		}
	}

	full := make(map[string]bool, len(conflicted)+len(candidates))
	add := func(id string) {
		if ev := r.get(id); ev != nil && ev.StateKey() != nil {
			full[id] = true
		}
	}
	for _, id := range conflicted {
		add(id)
	}
	for id := range candidates {
		add(id)
	}
	if v21 {
		sub, err := r.conflictedSubgraph(conflicted, inY)
		if err != nil {
			return eventSet{}, err
		}
		for _, id := range sub {
			add(id)
		}
	}
	ids := make([]string, 0, len(full))
	for id := range full {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return eventSet{set: full, ids: ids}, nil
}

// conflictedSubgraph returns the conflicted state subgraph (rooms/v12
// "Definitions", MSC4297): the events on auth-event paths between two
// conflicted events, endpoints included. Those are the events of the
// closure (reachable from a conflicted event) from which a conflicted event
// is reachable, found by walking the reversed auth edges of the closure
// back from the conflicted events.
func (r *resolver) conflictedSubgraph(conflicted []string, closure map[string]int) ([]string, error) {
	cited := make(map[string][]string) // auth event -> closure events citing it
	for id := range closure {
		if err := r.tick(); err != nil {
			return nil, err
		}
		for _, a := range r.auth(r.get(id)) {
			if _, ok := closure[a]; ok {
				cited[a] = append(cited[a], id)
			}
		}
	}
	in := make(map[string]bool)
	var queue []string
	for _, id := range conflicted {
		if _, ok := closure[id]; ok && !in[id] {
			in[id] = true
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		if err := r.tick(); err != nil {
			return nil, err
		}
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range cited[id] {
			if !in[c] {
				in[c] = true
				queue = append(queue, c)
			}
		}
	}
	out := make([]string, 0, len(in))
	for id := range in {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// reverseTopologicalPowerOrder takes the power events P of the full
// conflicted set, enlarges them with the events of their auth chains that
// belong to the full conflicted set, and sorts the result by the reverse
// topological power ordering: Kahn's algorithm over the auth DAG, taking at
// each step the candidate whose sender has the greatest power level, then
// the smallest origin_server_ts, then the smallest event ID.
//
// The ordering puts y before x whenever y is in the auth chain of x, also
// when the auth-event path from x to y leaves the full conflicted set.
func (r *resolver) reverseTopologicalPowerOrder(powerEvents []string, fcs map[string]bool) ([]string, error) {
	if len(powerEvents) == 0 {
		return nil, nil
	}
	inX := make(map[string]bool)
	err := r.walk(powerEvents, func(ev Event) (bool, error) {
		if id := ev.EventID(); fcs[id] {
			inX[id] = true
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	xs := make([]string, 0, len(inX))
	for id := range inX {
		xs = append(xs, id)
	}
	slices.Sort(xs)
	index := make(map[string]int, len(xs))
	for i, id := range xs {
		index[id] = i
	}

	below, err := r.ancestorsIn(xs, index)
	if err != nil {
		return nil, err
	}

	// Kahn's algorithm, consuming events whose auth-chain members of X
	// have all been emitted.
	pending := make([]int, len(xs))
	dependents := make([][]int, len(xs))
	for i, id := range xs {
		for w, word := range below[id] {
			for word != 0 {
				j := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				pending[i]++
				dependents[j] = append(dependents[j], i)
			}
		}
	}
	q := &powerQueue{}
	q.items = make([]powerItem, 0, len(xs))
	for i, id := range xs {
		ev := r.get(id)
		q.keys = append(q.keys, powerItem{idx: i, pow: r.senderPower(ev), ts: ev.OriginServerTS(), id: id})
	}
	for i := range xs {
		if pending[i] == 0 {
			heap.Push(q, q.keys[i])
		}
	}
	out := make([]string, 0, len(xs))
	for q.Len() > 0 {
		if err := r.tick(); err != nil {
			return nil, err
		}
		it := heap.Pop(q).(powerItem)
		out = append(out, it.id)
		for _, d := range dependents[it.idx] {
			pending[d]--
			if pending[d] == 0 {
				heap.Push(q, q.keys[d])
			}
		}
	}
	if len(out) != len(xs) {
		return nil, ErrAuthCycle
	}
	return out, nil
}

// ancestorsIn returns, for every event of xs, the bitset (over the indices
// of xs) of the events of xs in its auth chain. It walks the auth DAG below
// xs depth first, iteratively, memoising a bitset per event, and fails with
// ErrAuthCycle on a cycle.
func (r *resolver) ancestorsIn(xs []string, index map[string]int) (map[string][]uint64, error) {
	words := (len(xs) + 63) / 64
	below := make(map[string][]uint64)
	const (
		visiting = 1
		done     = 2
	)
	mark := make(map[string]uint8)
	type frame struct {
		id   string
		auth []string
		next int
	}
	var stack []frame
	for _, root := range xs {
		if mark[root] != 0 {
			continue
		}
		mark[root] = visiting
		stack = append(stack[:0], frame{id: root, auth: r.auth(r.get(root))})
		for len(stack) > 0 {
			if err := r.tick(); err != nil {
				return nil, err
			}
			f := &stack[len(stack)-1]
			if f.next < len(f.auth) {
				a := f.auth[f.next]
				f.next++
				ev := r.get(a)
				if ev == nil {
					continue
				}
				switch mark[a] {
				case visiting:
					return nil, ErrAuthCycle
				case done:
					continue
				}
				mark[a] = visiting
				stack = append(stack, frame{id: a, auth: r.auth(ev)})
				continue
			}
			set := make([]uint64, words)
			for _, a := range f.auth {
				if mark[a] != done {
					continue // unknown event
				}
				for w, word := range below[a] {
					set[w] |= word
				}
				if j, ok := index[a]; ok {
					set[j/64] |= 1 << (j % 64)
				}
			}
			below[f.id] = set
			mark[f.id] = done
			stack = stack[:len(stack)-1]
		}
	}
	return below, nil
}

type powerItem struct {
	idx int
	pow power
	ts  int64
	id  string
}

// powerQueue is a min-heap by the reverse topological power ordering's
// comparison: greater sender power first, then smaller origin_server_ts,
// then smaller event ID.
type powerQueue struct {
	items []powerItem
	keys  []powerItem // by index in X
}

func (q *powerQueue) Len() int { return len(q.items) }
func (q *powerQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if a.pow.greater(b.pow) {
		return true
	}
	if b.pow.greater(a.pow) {
		return false
	}
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	return a.id < b.id
}
func (q *powerQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *powerQueue) Push(x any)    { q.items = append(q.items, x.(powerItem)) }
func (q *powerQueue) Pop() any {
	it := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return it
}

// iterativeAuthChecks applies the events of ids, in order, to state when
// the auth check allows them against the state (falling back to each
// event's auth events for missing keys), and ignores them otherwise.
func (r *resolver) iterativeAuthChecks(state *layered, ids []string) error {
	for _, id := range ids {
		if err := r.tick(); err != nil {
			return err
		}
		ev := r.getLoad(id)
		if r.lookupErr != nil {
			return r.lookupErr
		}
		if ev == nil {
			continue
		}
		k, ok := keyOf(ev)
		if !ok {
			continue
		}
		err := r.authCheck(ev, r.stateLookup(ev, state.get, true))
		if r.lookupErr != nil {
			return r.lookupErr
		}
		if err == nil {
			state.set(k, id)
		}
	}
	return nil
}

// powerLevelsAuthEvent returns the ID of the m.room.power_levels event
// among ev's auth events (the first, should there be several), or "".
func (r *resolver) powerLevelsAuthEvent(ev Event) (string, error) {
	ids := r.auth(ev)
	if err := r.fetch(ids); err != nil {
		return "", err
	}
	for _, id := range ids {
		if a := r.get(id); a != nil {
			if k, ok := keyOf(a); ok && k == powerLevelsKey {
				return id, nil
			}
		}
	}
	return "", nil
}

// mainlineOrder sorts ids by the mainline ordering based on the power
// levels event plID ("" for none): greater mainline position first, then
// smaller origin_server_ts, then smaller event ID.
func (r *resolver) mainlineOrder(ids []string, plID string) ([]string, error) {
	if len(ids) == 0 {
		return ids, nil
	}
	// The mainline of P: P_0 = P, P_i+1 = the power levels event in the
	// auth events of P_i.
	mainline := make(map[string]int)
	for cur, i := plID, 0; cur != ""; i++ {
		if err := r.tick(); err != nil {
			return nil, err
		}
		if _, seen := mainline[cur]; seen {
			return nil, ErrAuthCycle
		}
		mainline[cur] = i
		ev := r.getLoad(cur)
		if r.lookupErr != nil {
			return nil, r.lookupErr
		}
		if ev == nil {
			break
		}
		next, err := r.powerLevelsAuthEvent(ev)
		if err != nil {
			return nil, err
		}
		cur = next
	}

	// The mainline position of e: the index in the mainline of the first
	// e_j (j ≥ 1) of e's power levels chain on it, or ∞. memo holds the
	// answer for power levels events met on the way, which share it.
	const infinity = math.MaxInt
	memo := make(map[string]int)
	position := func(e Event) (int, error) {
		var path []string
		onPath := make(map[string]bool)
		res := infinity
		cur, err := r.powerLevelsAuthEvent(e)
		if err != nil {
			return 0, err
		}
		for cur != "" {
			if err := r.tick(); err != nil {
				return 0, err
			}
			if p, ok := mainline[cur]; ok {
				res = p
				break
			}
			if p, ok := memo[cur]; ok {
				res = p
				break
			}
			if onPath[cur] {
				return 0, ErrAuthCycle
			}
			onPath[cur] = true
			path = append(path, cur)
			ev := r.getLoad(cur)
			if r.lookupErr != nil {
				return 0, r.lookupErr
			}
			if ev == nil {
				break
			}
			if cur, err = r.powerLevelsAuthEvent(ev); err != nil {
				return 0, err
			}
		}
		for _, p := range path {
			memo[p] = res
		}
		return res, nil
	}

	type keyed struct {
		id  string
		pos int
		ts  int64
	}
	ks := make([]keyed, 0, len(ids))
	for _, id := range ids {
		ev := r.getLoad(id)
		if r.lookupErr != nil {
			return nil, r.lookupErr
		}
		if ev == nil {
			continue
		}
		pos, err := position(ev)
		if err != nil {
			return nil, err
		}
		ks = append(ks, keyed{id: id, pos: pos, ts: ev.OriginServerTS()})
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.pos != b.pos {
			if a.pos > b.pos {
				return -1
			}
			return 1
		}
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.id
	}
	return out, nil
}
