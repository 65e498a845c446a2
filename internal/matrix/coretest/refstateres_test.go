package coretest

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strings"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/stateres"
)

// refResolveV2 is a deliberately naive reference implementation of state
// resolution v2 (fragment v2-state-res, "Algorithm"), written line by line
// from the spec text to arbitrate between stateres and gomatrixserverlib.
// With a zero gmslQuirks it follows the spec (and the readings stateres
// documents: the full auth chain of S_i contains the events of S_i, as in
// Synapse). Each quirk reproduces one deviation of gomatrixserverlib, so
// that a difference can be attributed: if the reference agrees with ours,
// and the reference with some quirks agrees with gomatrixserverlib, those
// quirks explain the difference.
type gmslQuirks struct {
	// reverseKahn: gomatrixserverlib's kahnsAlgorithmUsingAuthEvents
	// builds the order from the end, repeatedly placing the greatest event
	// no remaining event cites. That is a topological order, but not "the
	// lexicographically smallest topological ordering" the spec asks for
	// ("Reverse topological power ordering": Kahn's algorithm "selecting,
	// among all the candidate vertices, the smallest vertex").
	reverseKahn bool
	// mainlineSteps: gomatrixserverlib breaks ties of mainline position by
	// the number of non-mainline power levels events walked before reaching
	// the mainline (sortStateResV2ConflictedOtherHeap). The spec's
	// comparison ("Mainline ordering") has only position, origin_server_ts
	// and event_id.
	mainlineSteps bool
	// brokenFallback: in the iterative auth checks, when a key is missing
	// from the partial state gomatrixserverlib means to use the event's own
	// auth event for it, but adds the event being checked instead
	// (addFromAuthEventsIfNotRejected calls AddEvent(event), not
	// AddEvent(authEv)). The spec ("Iterative auth checks"): "the
	// appropriate state event from the event's auth_events is used".
	brokenFallback bool
	// authRules: the iterative auth checks use gomatrixserverlib's
	// authorisation rules, whose own divergences (TestDifferentialAuth)
	// then show in the resolved state.
	authRules bool
}

func (r *room) refResolveV2(sets []stateres.StateMap, q gmslQuirks) stateres.StateMap {
	// Unconflicted state map and conflicted state set.
	keys := map[stateres.StateKey]bool{}
	for _, s := range sets {
		for k := range s {
			keys[k] = true
		}
	}
	unconflicted := stateres.StateMap{}
	conflicted := map[string]bool{}
	for k := range keys {
		id, same := sets[0][k]
		for _, s := range sets[1:] {
			if other, ok := s[k]; !ok || other != id {
				same = false
			}
		}
		if same {
			unconflicted[k] = id
			continue
		}
		for _, s := range sets {
			if id, ok := s[k]; ok {
				conflicted[id] = true
			}
		}
	}

	// Auth chains, auth difference, full conflicted set.
	chains := map[string]map[string]bool{}
	var chain func(id string) map[string]bool
	chain = func(id string) map[string]bool {
		if c, ok := chains[id]; ok {
			return c
		}
		c := map[string]bool{}
		for _, a := range r.events[id].AuthEvents() {
			c[a] = true
			for x := range chain(a) {
				c[x] = true
			}
		}
		chains[id] = c
		return c
	}
	full := make([]map[string]bool, len(sets))
	union := map[string]bool{}
	for i, s := range sets {
		full[i] = map[string]bool{}
		for _, id := range s {
			full[i][id] = true
			for x := range chain(id) {
				full[i][x] = true
			}
		}
		for x := range full[i] {
			union[x] = true
		}
	}
	fcs := map[string]bool{}
	for id := range conflicted {
		fcs[id] = true
	}
	for x := range union {
		for _, f := range full {
			if !f[x] {
				fcs[x] = true
				break
			}
		}
	}

	// Step 1.
	X := map[string]bool{}
	for id := range fcs {
		if isPowerEvent(r.events[id]) {
			X[id] = true
			for a := range chain(id) {
				if fcs[a] {
					X[a] = true
				}
			}
		}
	}
	order := r.refPowerOrder(X, q.reverseKahn)

	// Step 2.
	partial := unconflicted.Clone()
	r.refIterativeAuth(partial, order, q)

	// Steps 3 and 4.
	var rest []string
	for id := range fcs {
		if !X[id] {
			rest = append(rest, id)
		}
	}
	r.refMainlineSort(rest, partial[keyPL], q.mainlineSteps)
	r.refIterativeAuth(partial, rest, q)

	// Step 5.
	for k, id := range unconflicted {
		partial[k] = id
	}
	return partial
}

func isPowerEvent(e *event.Event) bool {
	sk := e.StateKey()
	if sk == nil {
		return false
	}
	switch e.Type() {
	case authrules.TypePowerLevels, authrules.TypeJoinRules:
		return *sk == ""
	case authrules.TypeMember:
		m := membershipOf(e)
		return (m == "leave" || m == "ban") && *sk != e.Sender()
	}
	return false
}

// authEventAt returns the auth event of e for key k, if any.
func (r *room) authEventAt(e *event.Event, k stateres.StateKey) *event.Event {
	for _, a := range e.AuthEvents() {
		ae := r.events[a]
		if ae != nil && ae.StateKey() != nil && ae.Type() == k.Type && *ae.StateKey() == k.StateKey {
			return ae
		}
	}
	return nil
}

// refSenderPower is the sender's power level "when looking at their
// respective auth_events" (v12 creators: infinite; without power levels:
// the creator 100, others 0, as in Synapse).
func (r *room) refSenderPower(e *event.Event) int64 {
	if slices.Contains(creatorsOf(r), e.Sender()) {
		return math.MaxInt64
	}
	if pl := r.authEventAt(e, keyPL); pl != nil {
		var c struct {
			Users        map[string]json.RawMessage `json:"users"`
			UsersDefault json.RawMessage            `json:"users_default"`
		}
		_ = json.Unmarshal(pl.Content(), &c)
		if x, ok := c.Users[e.Sender()]; ok {
			if l, ok := authrules.ParseLevel(r.v, x); ok {
				return l
			}
		}
		if l, ok := authrules.ParseLevel(r.v, c.UsersDefault); ok {
			return l
		}
		return 0
	}
	if create := r.authEventAt(e, keyCreate); create != nil && !r.v.PrivilegedCreators() {
		creator := create.Sender()
		if !r.v.CreatorInSender() {
			var c struct {
				Creator string `json:"creator"`
			}
			_ = json.Unmarshal(create.Content(), &c)
			creator = c.Creator
		}
		if creator == e.Sender() {
			return 100
		}
	}
	return 0
}

// refPowerOrder sorts X by the reverse topological power ordering (or by
// gomatrixserverlib's reverse construction).
func (r *room) refPowerOrder(X map[string]bool, reverse bool) []string {
	less := func(a, b string) int {
		ea, eb := r.events[a], r.events[b]
		if c := cmp.Compare(r.refSenderPower(eb), r.refSenderPower(ea)); c != 0 {
			return c
		}
		if c := cmp.Compare(ea.OriginServerTS(), eb.OriginServerTS()); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	}
	// Edges: a must come before b when a is in b's auth chain (the DAG
	// formed by auth events, restricted to X through paths outside X too).
	before := map[string][]string{} // b -> members of X in its auth chain
	for b := range X {
		var walk func(id string, seen map[string]bool)
		walk = func(id string, seen map[string]bool) {
			for _, a := range r.events[id].AuthEvents() {
				if seen[a] || r.events[a] == nil {
					continue
				}
				seen[a] = true
				if X[a] {
					before[b] = append(before[b], a)
				}
				walk(a, seen)
			}
		}
		walk(b, map[string]bool{})
	}
	if reverse {
		// gomatrixserverlib: direct auth_events edges only, built from the
		// end, taking the greatest event nothing remaining cites.
		citedBy := map[string]int{}
		for b := range X {
			for _, a := range r.events[b].AuthEvents() {
				citedBy[a]++
			}
		}
		var ready, out []string
		for b := range X {
			if citedBy[b] == 0 {
				ready = append(ready, b)
			}
		}
		done := map[string]bool{}
		for len(ready) > 0 {
			slices.SortFunc(ready, less)
			e := ready[len(ready)-1]
			ready = ready[:len(ready)-1]
			out = append(out, e)
			done[e] = true
			for _, a := range r.events[e].AuthEvents() {
				citedBy[a]--
				if citedBy[a] == 0 && X[a] && !done[a] {
					ready = append(ready, a)
				}
			}
		}
		slices.Reverse(out)
		return out
	}
	pending := map[string]int{}
	after := map[string][]string{}
	for b := range X {
		pending[b] = len(before[b])
		for _, a := range before[b] {
			after[a] = append(after[a], b)
		}
	}
	var ready, out []string
	for b := range X {
		if pending[b] == 0 {
			ready = append(ready, b)
		}
	}
	for len(ready) > 0 {
		slices.SortFunc(ready, less)
		e := ready[0]
		ready = ready[1:]
		out = append(out, e)
		for _, b := range after[e] {
			pending[b]--
			if pending[b] == 0 {
				ready = append(ready, b)
			}
		}
	}
	return out
}

// refMainlineSort sorts events by the mainline ordering based on the power
// levels event pl.
func (r *room) refMainlineSort(ids []string, pl string, steps bool) {
	pos := map[string]int{}
	for i, p := 0, pl; p != ""; i++ {
		pos[p] = i
		next := r.authEventAt(r.events[p], keyPL)
		if next == nil {
			break
		}
		p = next.EventID()
	}
	type key struct {
		pos, steps int
	}
	keys := map[string]key{}
	for _, id := range ids {
		k := key{pos: math.MaxInt}
		for e := r.authEventAt(r.events[id], keyPL); e != nil; e = r.authEventAt(e, keyPL) {
			if i, ok := pos[e.EventID()]; ok {
				k.pos = i
				break
			}
			k.steps++
		}
		keys[id] = k
	}
	slices.SortFunc(ids, func(a, b string) int {
		ka, kb := keys[a], keys[b]
		if c := cmp.Compare(kb.pos, ka.pos); c != 0 {
			return c
		}
		if steps {
			if c := cmp.Compare(ka.steps, kb.steps); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(r.events[a].OriginServerTS(), r.events[b].OriginServerTS()); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

// refIterativeAuth applies the iterative auth checks to partial.
func (r *room) refIterativeAuth(partial stateres.StateMap, ids []string, q gmslQuirks) {
	broken := q.brokenFallback
	for _, id := range ids {
		e := r.events[id]
		var provider authrules.StateProvider
		if broken {
			st := map[authrules.StateKey]authrules.Event{}
			for _, k := range gmslNeeded(r, e) {
				if pid, ok := partial[sk(k)]; ok {
					st[k] = r.events[pid]
				} else if r.authEventAt(e, sk(k)) != nil && e.StateKey() != nil {
					st[authrules.StateKey{Type: e.Type(), StateKey: *e.StateKey()}] = e
				}
			}
			provider = func(k authrules.StateKey) authrules.Event {
				if x, ok := st[k]; ok {
					return x
				}
				return nil
			}
		} else {
			provider = func(k authrules.StateKey) authrules.Event {
				if pid, ok := partial[sk(k)]; ok {
					return r.events[pid]
				}
				if a := r.authEventAt(e, sk(k)); a != nil {
					return a
				}
				return nil
			}
		}
		if q.authRules {
			var gstate []gmsl.PDU
			for _, k := range gmslNeeded(r, e) {
				if x := provider(k); x != nil {
					gstate = append(gstate, r.gconv.mustPDU(x.(*event.Event)))
				}
			}
			ap, _ := gmsl.NewAuthEvents(gstate)
			if gmsl.Allowed(r.gconv.mustPDU(e), ap, gmslUserID) != nil {
				continue
			}
		} else if r.checker.Check(r.v, e, provider) != nil {
			continue
		}
		if s := e.StateKey(); s != nil {
			partial[stateres.StateKey{Type: e.Type(), StateKey: *s}] = id
		}
	}
}

// gmslNeeded is the order in which gomatrixserverlib fills the state for
// an iterative auth check: create, join rules, power levels, members,
// third-party invites (authAndApplyEvents).
func gmslNeeded(r *room, e *event.Event) []authrules.StateKey {
	needed := authrules.AuthEventsNeededFor(r.v, e)
	rank := func(k authrules.StateKey) int {
		switch k.Type {
		case authrules.TypeCreate:
			return 0
		case authrules.TypeJoinRules:
			return 1
		case authrules.TypePowerLevels:
			return 2
		case authrules.TypeMember:
			return 3
		}
		return 4
	}
	slices.SortStableFunc(needed, func(a, b authrules.StateKey) int { return cmp.Compare(rank(a), rank(b)) })
	if !slices.Contains(needed, authrules.StateKey{Type: authrules.TypeCreate}) {
		needed = append([]authrules.StateKey{{Type: authrules.TypeCreate}}, needed...)
	}
	return needed
}

// explainByQuirks returns the smallest set of quirks with which the
// reference reproduces want, or ok false.
func (r *room) explainByQuirks(sets []stateres.StateMap, want stateres.StateMap) (names []string, ok bool) {
	type named struct {
		q     gmslQuirks
		names []string
	}
	var combos []named
	for m := 1; m < 16; m++ {
		var n named
		if m&1 != 0 {
			n.q.reverseKahn = true
			n.names = append(n.names, "gmsl-reverse-kahn")
		}
		if m&2 != 0 {
			n.q.mainlineSteps = true
			n.names = append(n.names, "gmsl-mainline-steps")
		}
		if m&4 != 0 {
			n.q.brokenFallback = true
			n.names = append(n.names, "gmsl-auth-event-fallback")
		}
		if m&8 != 0 {
			n.q.authRules = true
			n.names = append(n.names, "gmsl-auth-rules")
		}
		combos = append(combos, n)
	}
	slices.SortStableFunc(combos, func(a, b named) int { return cmp.Compare(len(a.names), len(b.names)) })
	for _, c := range combos {
		if equalState(r.refResolveV2(sets, c.q), want) {
			return c.names, true
		}
	}
	return nil, false
}
