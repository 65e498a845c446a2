// Package stateres implements Matrix state resolution: the algorithm that
// merges the room states at the tips of a forked room DAG into one state.
//
//   - v1, room version 1 (rooms/v1.md "State resolution").
//   - v2, room versions 2–11 (fragment v2-state-res, MSC1442).
//   - v2.1, room version 12 (rooms/v12.md, MSC4297): the full conflicted set
//     also holds the conflicted state subgraph, and the first iterative
//     auth checks start from an empty state map instead of the unconflicted
//     state map.
//
// The package is pure: it sees events through the [Event] interface, loads
// them through an [EventLoader] and authorises them through an [AuthCheck]
// supplied by the caller (normally authrules.Check behind a small adapter).
// The result depends only on the inputs, never on map iteration order,
// input order or timing.
//
// Two readings of the spec text are worth recording (both match Synapse and
// Ruma, and so keep Axon's resolved state in agreement with theirs):
//
//   - Auth difference: the "full auth chain" of a state set S_i is taken to
//     contain the events of S_i themselves as well as their auth chains.
//     The two readings can differ only on unconflicted events, which the
//     literal reading could pull into the full conflicted set when they are
//     cited by the auth chains of some state sets but not others.
//   - Iterative auth checks: an event's own auth event is used for a key
//     missing from the partial state, and also for a key whose partial
//     state event is rejected (see [RejectedEvent]).
//
// Where the spec text and Synapse differ on graph structure we follow the
// spec: the events "in the auth chain of P which also belong to the full
// conflicted set" are found through the whole auth chain, and the reverse
// topological power ordering respects every auth-chain path between them,
// including paths through events outside the full conflicted set.
package stateres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// Event is what state resolution needs to know about an event. The method
// set matches *event.Event so that parsed PDUs satisfy it directly.
type Event interface {
	EventID() string
	Type() string
	// StateKey is nil for non-state events.
	StateKey() *string
	Sender() string
	// Content is the raw JSON object of the event's content.
	Content() json.RawMessage
	// AuthEvents and PrevEvents are the referenced event IDs.
	AuthEvents() []string
	PrevEvents() []string
	OriginServerTS() int64
	Depth() int64
}

// RejectedEvent is optionally implemented by events that know whether they
// were rejected by the checks performed on receipt of a PDU. Rejected auth
// events are not used by the iterative auth checks (rooms/v2 "Rejected
// events"). Events that do not implement it are treated as not rejected.
type RejectedEvent interface {
	Rejected() bool
}

// StateKey is the key of a piece of room state: (event_type, state_key).
type StateKey struct {
	Type     string
	StateKey string
}

// StateMap maps state keys to event IDs.
type StateMap map[StateKey]string

// Clone returns a copy of m.
func (m StateMap) Clone() StateMap {
	out := make(StateMap, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// AuthCheck authorises ev against a room state: it must return nil when the
// authorisation rules of the room version allow ev in the state given by
// state, which returns the state event for a key or nil when there is none.
// State resolution calls it from the iterative auth checks; the caller wires
// the auth rules in. It must not retain state after returning.
type AuthCheck func(ev Event, state func(StateKey) Event) error

// EventLoader fetches events by ID (from the caller's cache or database). It
// returns the events it has; IDs it does not know are left out of the map,
// which state resolution tolerates (a missing event is ignored, as if it
// were outside the room). An error aborts the resolution.
type EventLoader func(ids []string) (map[string]Event, error)

// Errors returned by [Resolve].
var (
	// ErrUnknownAlgorithm: the room version has no known state resolution
	// algorithm (e.g. the zero roomversion.Version).
	ErrUnknownAlgorithm = errors.New("stateres: unknown state resolution algorithm")
	// ErrAuthCycle: the auth events of the input form a cycle, which no
	// valid room can contain.
	ErrAuthCycle = errors.New("stateres: cycle in auth events")
	// ErrConflictingCreate: in a room whose ID is derived from its create
	// event (room version 12), the state sets name different create
	// events, so they cannot belong to the same room.
	ErrConflictingCreate = errors.New("stateres: state sets name different m.room.create events")
)

// Event types and memberships the algorithms look at.
const (
	typeCreate      = "m.room.create"
	typeMember      = "m.room.member"
	typeJoinRules   = "m.room.join_rules"
	typePowerLevels = "m.room.power_levels"
)

var (
	createKey      = StateKey{typeCreate, ""}
	powerLevelsKey = StateKey{typePowerLevels, ""}
	joinRulesKey   = StateKey{typeJoinRules, ""}
)

// Resolve resolves stateSets, the room states after each of the prev events
// of some event, with the state resolution algorithm of room version v, and
// returns the resolved state as a new map (the inputs are not modified).
//
// load fetches events: the conflicted events and their auth chains always,
// and for v2 the unconflicted events as well (to compute the auth
// difference). Each call asks for a sorted batch of IDs not fetched before
// during this resolution. authCheck authorises events in the iterative auth
// checks (v2, v2.1) and the passes of v1.
//
// The state sets should include the m.room.create event: room version 12
// takes the room creators, whose power level is infinite (MSC4289), from it.
func Resolve(ctx context.Context, v roomversion.Version, stateSets []StateMap, load EventLoader, authCheck AuthCheck) (StateMap, error) {
	if !v.Valid() {
		return nil, ErrUnknownAlgorithm
	}
	alg := v.StateResAlgorithm()
	switch alg {
	case roomversion.StateResV1, roomversion.StateResV2, roomversion.StateResV2_1:
	default:
		return nil, ErrUnknownAlgorithm
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch len(stateSets) {
	case 0:
		return StateMap{}, nil
	case 1:
		return stateSets[0].Clone(), nil
	}
	r := newResolver(ctx, v, load, authCheck)
	if alg == roomversion.StateResV1 {
		return r.resolveV1(stateSets)
	}
	return r.resolveV2(stateSets, alg == roomversion.StateResV2_1)
}

// resolver holds the per-resolution caches.
type resolver struct {
	ctx       context.Context
	v         roomversion.Version
	load      EventLoader
	authCheck AuthCheck

	// events caches every event loaded during this resolution; a nil
	// value records an ID the loader did not know.
	events map[string]Event
	// authIDs caches AuthEvents() per event: implementations may build a
	// new slice on every call.
	authIDs map[string][]string
	// create is the room's m.room.create event as named by the state sets,
	// if they agree on one.
	create Event
	// creators are the room creators with infinite power (MSC4289), for
	// room versions with privileged creators.
	creators map[string]bool

	ticks int
	// lookupErr records a loader error met inside a state lookup, which
	// cannot return errors itself.
	lookupErr error
}

func newResolver(ctx context.Context, v roomversion.Version, load EventLoader, authCheck AuthCheck) *resolver {
	return &resolver{
		ctx:       ctx,
		v:         v,
		load:      load,
		authCheck: authCheck,
		events:    make(map[string]Event),
		authIDs:   make(map[string][]string),
	}
}

// tick is called once per iteration of every loop whose length depends on
// the input; it checks for cancellation every 256 calls.
func (r *resolver) tick() error {
	r.ticks++
	if r.ticks&255 == 0 {
		return r.ctx.Err()
	}
	return nil
}

// fetch loads the events among ids not loaded yet, in one loader call.
func (r *resolver) fetch(ids []string) error {
	var need []string
	for _, id := range ids {
		if _, ok := r.events[id]; !ok {
			need = append(need, id)
		}
	}
	if len(need) == 0 {
		return nil
	}
	slices.Sort(need)
	need = slices.Compact(need)
	if err := r.ctx.Err(); err != nil {
		return err
	}
	got, err := r.load(need)
	if err != nil {
		return fmt.Errorf("stateres: loading events: %w", err)
	}
	for _, id := range need {
		ev := got[id]
		if ev != nil && ev.EventID() != id {
			ev = nil // the loader answered for another ID: treat as missing
		}
		r.events[id] = ev
	}
	return nil
}

// get returns a loaded event, or nil if it is unknown or not loaded.
func (r *resolver) get(id string) Event { return r.events[id] }

// getLoad returns an event, loading it if needed. Loader errors are kept in
// r.lookupErr and reported by the caller.
func (r *resolver) getLoad(id string) Event {
	if ev, ok := r.events[id]; ok {
		return ev
	}
	if err := r.fetch([]string{id}); err != nil {
		if r.lookupErr == nil {
			r.lookupErr = err
		}
		return nil
	}
	return r.events[id]
}

// auth returns the auth event IDs of ev, cached.
func (r *resolver) auth(ev Event) []string {
	id := ev.EventID()
	if a, ok := r.authIDs[id]; ok {
		return a
	}
	a := ev.AuthEvents()
	r.authIDs[id] = a
	return a
}

// errStopWalk stops a walk early without error.
var errStopWalk = errors.New("stop walk")

// walk visits every event reachable from starts by following auth events
// (starts included), breadth first, loading one batch per level. visit
// decides whether to follow the auth events of an event; it may return
// errStopWalk to end the walk. Unknown events are skipped. The walk is
// iterative and visits each event at most once, so cycles terminate.
func (r *resolver) walk(starts []string, visit func(Event) (bool, error)) error {
	seen := make(map[string]struct{}, len(starts))
	var frontier []string
	for _, id := range starts {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			frontier = append(frontier, id)
		}
	}
	for len(frontier) > 0 {
		if err := r.fetch(frontier); err != nil {
			return err
		}
		var next []string
		for _, id := range frontier {
			if err := r.tick(); err != nil {
				return err
			}
			ev := r.get(id)
			if ev == nil {
				continue
			}
			follow, err := visit(ev)
			if err == errStopWalk {
				return nil
			}
			if err != nil {
				return err
			}
			if !follow {
				continue
			}
			for _, a := range r.auth(ev) {
				if _, ok := seen[a]; !ok {
					seen[a] = struct{}{}
					next = append(next, a)
				}
			}
		}
		frontier = next
	}
	return nil
}

// keyOf returns the state key of a state event.
func keyOf(ev Event) (StateKey, bool) {
	sk := ev.StateKey()
	if sk == nil {
		return StateKey{}, false
	}
	return StateKey{ev.Type(), *sk}, true
}

func isRejected(ev Event) bool {
	re, ok := ev.(RejectedEvent)
	return ok && re.Rejected()
}

// membership returns content.membership of an m.room.member event, or "".
func membership(ev Event) string {
	var c struct {
		Membership json.RawMessage `json:"membership"`
	}
	if json.Unmarshal(ev.Content(), &c) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(c.Membership, &s) != nil {
		return ""
	}
	return s
}

// isPowerEvent reports whether ev is a power event (rooms/v2
// "Definitions"): a state event of type m.room.power_levels or
// m.room.join_rules, or an m.room.member state event with membership leave
// or ban whose sender is not its state key.
func isPowerEvent(ev Event) bool {
	sk := ev.StateKey()
	if sk == nil {
		return false
	}
	switch ev.Type() {
	case typePowerLevels, typeJoinRules:
		return true
	case typeMember:
		if ev.Sender() == *sk {
			return false
		}
		m := membership(ev)
		return m == "leave" || m == "ban"
	}
	return false
}

// layered is a state map made of a read-only base and the changes on top.
type layered struct {
	base StateMap
	over StateMap
}

func (l *layered) get(k StateKey) (string, bool) {
	if id, ok := l.over[k]; ok {
		return id, true
	}
	id, ok := l.base[k]
	return id, ok
}

func (l *layered) set(k StateKey, id string) { l.over[k] = id }

// findCreate records the create event named by the state sets, and the
// room creators when the room version gives them infinite power.
func (r *resolver) findCreate(stateSets []StateMap) error {
	var ids []string
	for _, s := range stateSets {
		if id, ok := s[createKey]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 1 && r.v.RoomIDFromCreateEvent() {
		return ErrConflictingCreate
	}
	if len(ids) != 1 {
		return nil
	}
	if err := r.fetch(ids); err != nil {
		return err
	}
	r.create = r.get(ids[0])
	if r.create != nil && r.v.PrivilegedCreators() {
		r.creators = creatorsOf(r.create)
	}
	return nil
}

// creatorsOf returns the room creators named by a create event: its sender
// plus content.additional_creators (room version 12, MSC4289).
func creatorsOf(create Event) map[string]bool {
	m := map[string]bool{create.Sender(): true}
	var c struct {
		Additional []json.RawMessage `json:"additional_creators"`
	}
	if json.Unmarshal(create.Content(), &c) == nil {
		for _, raw := range c.Additional {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				m[s] = true
			}
		}
	}
	return m
}

// stateLookup returns the state function passed to the auth check of ev in
// the iterative auth checks: the partial state, falling back to ev's own
// non-rejected auth events for keys the state lacks, and to the room's
// create event (which room version 12 events do not list in auth_events).
// With authFallback false (state resolution v1) only the state is used.
func (r *resolver) stateLookup(ev Event, state func(StateKey) (string, bool), authFallback bool) func(StateKey) Event {
	var byKey map[StateKey]Event
	if authFallback {
		ids := r.auth(ev)
		if err := r.fetch(ids); err != nil && r.lookupErr == nil {
			r.lookupErr = err
		}
		for _, id := range ids {
			a := r.get(id)
			if a == nil || isRejected(a) {
				continue
			}
			k, ok := keyOf(a)
			if !ok {
				continue
			}
			if byKey == nil {
				byKey = make(map[StateKey]Event, len(ids))
			}
			if _, dup := byKey[k]; !dup {
				byKey[k] = a
			}
		}
	}
	return func(k StateKey) Event {
		if id, ok := state(k); ok {
			if e := r.getLoad(id); e != nil && !isRejected(e) {
				return e
			}
		}
		if e, ok := byKey[k]; ok {
			return e
		}
		if k == createKey && r.create != nil {
			return r.create
		}
		return nil
	}
}
