package stateres

import (
	"bytes"
	"crypto/sha1"
	"slices"
	"strings"
)

// resolveV1 is the state resolution algorithm of room version 1 (rooms/v1
// "State resolution"). Two points the spec leaves open follow Synapse:
//
//   - Within one pass (power levels, join rules, memberships, others) every
//     conflicted key is resolved against the same R, the state after the
//     previous pass, so the result does not depend on the order of keys.
//   - When no event of an "other" conflict passes authentication in R, the
//     event with the lowest depth (last in the preference order) is used.
func (r *resolver) resolveV1(stateSets []StateMap) (StateMap, error) {
	unconflicted, conflicts := separateV1(stateSets)
	if len(conflicts) == 0 {
		return unconflicted, nil
	}
	var all []string
	for _, ids := range conflicts {
		all = append(all, ids...)
	}
	if err := r.fetch(all); err != nil {
		return nil, err
	}
	if err := r.findCreate(stateSets); err != nil {
		return nil, err
	}

	// R starts as the union of the states without the conflicting events.
	// Conflicts whose events are all unknown but one are no conflicts.
	R := &layered{base: unconflicted, over: make(StateMap)}
	groups := make(map[StateKey][]Event, len(conflicts))
	var keys []StateKey
	for k, ids := range conflicts {
		var evs []Event
		for _, id := range ids {
			if ev := r.get(id); ev != nil {
				evs = append(evs, ev)
			}
		}
		switch len(evs) {
		case 0:
		case 1:
			R.set(k, evs[0].EventID())
		default:
			groups[k] = evs
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)

	pass := func(match func(StateKey) bool, resolve func(StateKey, []Event, *layered) (Event, error)) error {
		snapshot := &layered{base: R.base, over: R.over.Clone()}
		for _, k := range keys {
			if !match(k) {
				continue
			}
			if err := r.tick(); err != nil {
				return err
			}
			ev, err := resolve(k, groups[k], snapshot)
			if err != nil {
				return err
			}
			if ev != nil {
				R.set(k, ev.EventID())
			}
		}
		return nil
	}
	passes := []struct {
		match   func(StateKey) bool
		resolve func(StateKey, []Event, *layered) (Event, error)
	}{
		{func(k StateKey) bool { return k == powerLevelsKey }, r.v1AuthConflict},
		{func(k StateKey) bool { return k.Type == typeJoinRules }, r.v1AuthConflict},
		{func(k StateKey) bool { return k.Type == typeMember }, r.v1AuthConflict},
		{func(k StateKey) bool {
			return k != powerLevelsKey && k.Type != typeJoinRules && k.Type != typeMember
		}, r.v1OtherConflict},
	}
	for _, p := range passes {
		if err := pass(p.match, p.resolve); err != nil {
			return nil, err
		}
	}
	out := unconflicted
	for k, id := range R.over {
		out[k] = id
	}
	return out, nil
}

// separateV1 splits the state sets: a key is conflicting when the states
// that have it name different events for it (v1 conflict definition).
// Conflicting event IDs are returned sorted per key.
func separateV1(stateSets []StateMap) (StateMap, map[StateKey][]string) {
	unconflicted := make(StateMap)
	conflicts := make(map[StateKey][]string)
	for _, s := range stateSets {
		for k := range s {
			if _, ok := unconflicted[k]; ok {
				continue
			}
			if _, ok := conflicts[k]; ok {
				continue
			}
			var ids []string
			for _, t := range stateSets {
				if id, ok := t[k]; ok {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			ids = slices.Compact(ids)
			if len(ids) == 1 {
				unconflicted[k] = ids[0]
			} else {
				conflicts[k] = ids
			}
		}
	}
	return unconflicted, conflicts
}

func compareKeys(a, b StateKey) int {
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return strings.Compare(a.StateKey, b.StateKey)
}

// v1Order sorts events by descending depth, then ascending sha1(event_id),
// then event ID: the preference order for "other" conflicts. Auth
// conflicts use it reversed (ascending depth, descending sha1).
func v1Order(evs []Event) []Event {
	type keyed struct {
		ev    Event
		depth int64
		sum   [sha1.Size]byte
	}
	ks := make([]keyed, len(evs))
	for i, ev := range evs {
		ks[i] = keyed{ev: ev, depth: ev.Depth(), sum: sha1.Sum([]byte(ev.EventID()))}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.depth != b.depth {
			if a.depth > b.depth {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(a.sum[:], b.sum[:]); c != 0 {
			return c
		}
		return strings.Compare(a.ev.EventID(), b.ev.EventID())
	})
	out := make([]Event, len(ks))
	for i, k := range ks {
		out[i] = k.ev
	}
	return out
}

// v1AuthConflict resolves a conflict of power levels, join rules or
// membership events: sorted by ascending depth then descending
// sha1(event_id), the first event is taken, then each following one
// replaces it while it is allowed by the auth rules in R updated with the
// events taken so far; the first one refused ends the pass.
func (r *resolver) v1AuthConflict(k StateKey, evs []Event, R *layered) (Event, error) {
	order := v1Order(evs)
	slices.Reverse(order)
	cur := order[0]
	state := func(key StateKey) (string, bool) {
		if key == k {
			return cur.EventID(), true
		}
		return R.get(key)
	}
	for _, ev := range order[1:] {
		if err := r.tick(); err != nil {
			return nil, err
		}
		err := r.authCheck(ev, r.stateLookup(ev, state, false))
		if r.lookupErr != nil {
			return nil, r.lookupErr
		}
		if err != nil {
			break
		}
		cur = ev
	}
	return cur, nil
}

// v1OtherConflict resolves any other conflict: the event with the highest
// depth and lowest sha1(event_id) that passes authentication in R.
func (r *resolver) v1OtherConflict(_ StateKey, evs []Event, R *layered) (Event, error) {
	order := v1Order(evs)
	for _, ev := range order {
		if err := r.tick(); err != nil {
			return nil, err
		}
		err := r.authCheck(ev, r.stateLookup(ev, R.get, false))
		if r.lookupErr != nil {
			return nil, r.lookupErr
		}
		if err == nil {
			return ev, nil
		}
	}
	return order[len(order)-1], nil
}
