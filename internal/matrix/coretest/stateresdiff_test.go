package coretest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/stateres"
)

// baseRoom builds a valid room (every event authorised) with a random cast
// and power levels, from which forks grow.
func baseRoom(tb testing.TB, rng *rand.Rand, ver string) *room {
	r := newRoom(tb, ver, pAlice, nil)
	r.must("alice joins", pAlice, authrules.TypeMember, sp(pAlice), member("join"))
	users := map[string]any{}
	if !r.v.PrivilegedCreators() {
		users[pAlice] = 100
	}
	for _, u := range pool[1:5] {
		users[u] = pick(rng, 0, 0, 50, 50, 75, 100)
	}
	pl := map[string]any{"users": users, "ban": pick(rng, 50, 75), "kick": pick(rng, 50, 75),
		"invite": pick(rng, 0, 50), "state_default": 50, "events_default": 0,
		"events": map[string]any{"m.room.name": pick(rng, 0, 50), authrules.TypePowerLevels: pick(rng, 50, 100)}}
	r.must("alice sets power levels", pAlice, authrules.TypePowerLevels, sp(""), pl)
	r.must("alice opens the room", pAlice, authrules.TypeJoinRules, sp(""), `{"join_rule":"public"}`)
	for _, u := range pool[1:] {
		if rng.IntN(5) != 0 {
			r.must(u+" joins", u, authrules.TypeMember, sp(u), member("join"))
		}
	}
	if rng.IntN(2) == 0 {
		r.must("alice names the room", pAlice, "m.room.name", sp(""), `{"name":"base"}`)
	}
	return r
}

// growBranch appends n events accepted by both our rules and
// gomatrixserverlib's to the branch ending at r.last. Timestamps are drawn
// from a small window so that ties happen.
func growBranch(t *testing.T, rng *rand.Rand, r *room, conv *gmslConv, baseTS int64, n int) {
	t.Helper()
	for range n {
		for range 30 {
			r.clock = baseTS + 1000*rng.Int64N(6)
			ev := randomEvent(rng, r)
			if ev.Type() == authrules.TypeAliases {
				continue // judged differently by gomatrixserverlib after v5
			}
			state := r.state(r.last)
			if err := r.checker.Check(r.v, ev, r.provider(state)); err != nil {
				continue
			}
			g, err := conv.pdu(ev)
			if err != nil {
				continue
			}
			var gstate []gmsl.PDU
			for _, id := range state {
				gstate = append(gstate, conv.mustPDU(r.events[id]))
			}
			provider, _ := gmsl.NewAuthEvents(gstate)
			if gmsl.Allowed(g, provider, gmslUserID) != nil {
				continue
			}
			if err := r.submit(ev); err != nil {
				t.Fatalf("event accepted against the state is rejected on submission: %v", err)
			}
			break
		}
	}
}

// authChainEvents returns the events of the state maps and their auth
// chains.
func (r *room) authChainEvents(sets []stateres.StateMap) []*event.Event {
	seen := map[string]bool{}
	var out []*event.Event
	var walk func(id string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		e := r.events[id]
		if e == nil {
			return
		}
		out = append(out, e)
		for _, a := range e.AuthEvents() {
			walk(a)
		}
	}
	for _, s := range sets {
		for _, id := range s {
			walk(id)
		}
	}
	return out
}

// gmslResolve resolves with gomatrixserverlib's v2 state resolution.
func gmslResolve(r *room, conv *gmslConv, sets []stateres.StateMap, algo gmsl.StateResAlgorithm) (res stateres.StateMap, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	gsets := make([][]gmsl.PDU, len(sets))
	for i, s := range sets {
		for _, id := range s {
			gsets[i] = append(gsets[i], conv.mustPDU(r.events[id]))
		}
	}
	var auth []gmsl.PDU
	for _, e := range r.authChainEvents(sets) {
		auth = append(auth, conv.mustPDU(e))
	}
	out := gmsl.ResolveStateConflictsV2New(algo, gsets, auth, gmslUserID, func(string) bool { return false })
	res = stateres.StateMap{}
	for _, e := range out {
		res[stateres.StateKey{Type: e.Type(), StateKey: *e.StateKey()}] = e.EventID()
	}
	return res, nil
}

// stateResDiffVersions are the versions of the state resolution
// differential: v2 for 6, 10, 11; v2.1 for 12.
var stateResDiffVersions = []struct {
	ver  string
	algo gmsl.StateResAlgorithm
}{{"6", gmsl.StateResV2}, {"10", gmsl.StateResV2}, {"11", gmsl.StateResV2}}

const stateResDiffForks = 150 // random forks per version

// TestDifferentialStateRes compares stateres.Resolve with
// gomatrixserverlib's v2 resolution on random forks of random rooms.
func TestDifferentialStateRes(t *testing.T) {
	for vi, tc := range stateResDiffVersions {
		t.Run("v"+tc.ver, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(*seed, 100+uint64(vi)))
			var cases, conflicted, agree, unexplained, refDiffer int
			known := map[string]int{}
			for range stateResDiffForks {
				r := baseRoom(t, rng, tc.ver)
				conv := newGMSLConv(t, r.v)
				r.gconv = conv
				tip := r.last
				baseTS := r.clock
				var tips []string
				for range 2 + rng.IntN(2) {
					r.last = tip
					growBranch(t, rng, r, conv, baseTS, 1+rng.IntN(4))
					tips = append(tips, r.last)
				}
				sets := make([]stateres.StateMap, len(tips))
				for i, id := range tips {
					sets[i] = r.state(id)
				}
				cases++
				if !anyConflict(sets) {
					continue
				}
				conflicted++
				ours, err := r.resolve(sets...)
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				ref := r.refResolveV2(sets, gmslQuirks{})
				if !equalState(ours, ref) {
					refDiffer++
					if refDiffer <= 3 {
						t.Errorf("v%s: stateres and the reference implementation differ\n%s", tc.ver, r.explainFork(tips, sets, ours, ref))
					}
				}
				theirs, p := gmslResolve(r, conv, sets, tc.algo)
				if p != nil {
					known["gmsl-panics"]++
					continue
				}
				if equalState(ours, theirs) {
					agree++
					continue
				}
				if names, ok := r.explainByQuirks(sets, theirs); ok && equalState(ours, ref) {
					known[strings.Join(names, "+")]++
					continue
				}
				if gmslUnstable(r, conv, sets, tc.algo, theirs) && equalState(ours, ref) {
					known["gmsl-nondeterministic"]++
					continue
				}
				if equalState(ours, ref) {
					// Ours agrees with the spec reference; no modelled quirk
					// reproduces gomatrixserverlib. Seen so far: events its
					// control-event list holds twice get double-counted
					// in-degrees in kahnsAlgorithmUsingAuthEvents and are
					// prepended as "stray" events, out of auth order (e.g. an
					// older join of the same user applied after a newer one).
					known["gmsl-unmodelled (ours = reference)"]++
					if testing.Verbose() {
						t.Logf("v%s: unmodelled gomatrixserverlib difference\n%s", tc.ver, r.explainFork(tips, sets, ours, theirs))
					}
					continue
				}
				unexplained++
				if unexplained <= 3 {
					t.Errorf("v%s: resolutions differ\n%s\ntrace of ours:\n%s", tc.ver, r.explainFork(tips, sets, ours, theirs), r.traceResolve(sets))
				}
			}
			t.Logf("%d forks, %d with conflicts (%d differ from the reference); gomatrixserverlib: %d agree, known divergences %v, unexplained %d",
				cases, conflicted, refDiffer, agree, sortedCounts(known), unexplained)
		})
	}
}

// gmslUnstable reports whether gomatrixserverlib's resolution of sets
// changes from run to run (it iterates over Go maps: the conflicted events
// and the auth difference come out of maps, and the control-event list it
// builds from them can hold duplicates, whose double-counted in-degrees in
// kahnsAlgorithmUsingAuthEvents leave "stray" events that it prepends out
// of topological order). The spec's algorithm is a function of its input.
func gmslUnstable(r *room, conv *gmslConv, sets []stateres.StateMap, algo gmsl.StateResAlgorithm, first stateres.StateMap) bool {
	for range 20 {
		again, p := gmslResolve(r, conv, sets, algo)
		if p != nil || !equalState(again, first) {
			return true
		}
	}
	return false
}

func anyConflict(sets []stateres.StateMap) bool {
	for _, s := range sets[1:] {
		if !equalState(s, sets[0]) {
			return true
		}
	}
	return false
}

// traceResolve resolves sets with ours, listing every auth check.
func (r *room) traceResolve(sets []stateres.StateMap) string {
	var b strings.Builder
	inner := authCheck(r.v, &r.checker)
	_, err := stateres.Resolve(context.Background(), r.v, sets, r.load, func(ev stateres.Event, state func(stateres.StateKey) stateres.Event) error {
		err := inner(ev, state)
		fmt.Fprintf(&b, "  check %s %s %s %s: %v\n", ev.EventID(), ev.Sender(), ev.Type(), ptr(ev.StateKey()), err)
		return err
	})
	if err != nil {
		fmt.Fprintf(&b, "  error: %v\n", err)
	}
	return b.String()
}

// explainFork renders a fork and the two resolutions for a failure
// message.
func (r *room) explainFork(tips []string, sets []stateres.StateMap, ours, theirs stateres.StateMap) string {
	var b strings.Builder
	fork := map[string]bool{}
	for i, tip := range tips {
		fmt.Fprintf(&b, "branch %d:\n", i)
		var chain []string
		for id := tip; id != ""; {
			e := r.events[id]
			if len(sets) > 0 && fork[id] {
				break
			}
			chain = append(chain, id)
			prev := e.PrevEvents()
			if len(prev) == 0 {
				break
			}
			id = prev[0]
			if len(chain) > 6 {
				break
			}
		}
		for _, id := range chain {
			fork[id] = true
		}
		slices.Reverse(chain)
		for _, id := range chain {
			e := r.events[id]
			fmt.Fprintf(&b, "  %s ts=%d depth=%d %s %s %s %s auth=%v\n", id, e.OriginServerTS(), e.Depth(), e.Sender(), e.Type(), ptr(e.StateKey()), e.Content(), e.AuthEvents())
		}
	}
	diffKeys := map[stateres.StateKey]bool{}
	for k, v := range ours {
		if theirs[k] != v {
			diffKeys[k] = true
		}
	}
	for k, v := range theirs {
		if ours[k] != v {
			diffKeys[k] = true
		}
	}
	for k := range diffKeys {
		fmt.Fprintf(&b, "key (%s, %q): ours %s, gomatrixserverlib %s; in sets:", k.Type, k.StateKey, ours[k], theirs[k])
		for _, s := range sets {
			fmt.Fprintf(&b, " %s", s[k])
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "ours:\n%s", r.describe(ours))
	return b.String()
}
