package coretest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/roomversion"
	"github.com/axonhs/axon/internal/matrix/stateres"
)

// seed seeds the random differential tests. They are deterministic for a
// given seed; try others with go test -args -coretest.seed=N.
var seed = flag.Uint64("coretest.seed", 42, "seed of the random differential tests")

// keyID is the signing key ID every test server uses.
const keyID = "ed25519:1"

var (
	keysMu sync.Mutex
	keys   = map[string]ed25519.PrivateKey{}
)

// serverKey returns the deterministic signing key of a test server.
func serverKey(server string) ed25519.PrivateKey {
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[server]; ok {
		return k
	}
	seed := sha256.Sum256([]byte("axon coretest " + server))
	k := ed25519.NewKeyFromSeed(seed[:])
	keys[server] = k
	return k
}

// keyLookup is the event.KeyLookup of the test servers.
func keyLookup(server, id string) (ed25519.PublicKey, int64, bool) {
	if id != keyID {
		return nil, 0, false
	}
	return serverKey(server).Public().(ed25519.PublicKey), 1 << 62, true
}

func serverOf(user string) string {
	_, s, _ := strings.Cut(user, ":")
	return s
}

func sp(s string) *string { return &s }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// sk converts between the identical StateKey types of authrules and
// stateres.
func sk(k authrules.StateKey) stateres.StateKey { return stateres.StateKey(k) }

// authCheck is the stateres.AuthCheck of room version v: the real
// authorisation rules behind a small adapter. Events reach it as
// stateres.Event; the events of these tests are *event.Event, which also
// satisfy authrules.Event.
func authCheck(v roomversion.Version, checker *authrules.Checker) stateres.AuthCheck {
	return func(ev stateres.Event, state func(stateres.StateKey) stateres.Event) error {
		aev, ok := ev.(authrules.Event)
		if !ok {
			return fmt.Errorf("event %s (%T) does not satisfy authrules.Event", ev.EventID(), ev)
		}
		provider := func(k authrules.StateKey) authrules.Event {
			e := state(sk(k))
			if e == nil {
				return nil
			}
			ae, ok := e.(authrules.Event)
			if !ok {
				return nil
			}
			return ae
		}
		return checker.Check(v, aev, provider)
	}
}

// Interface satisfaction the task relies on.
var (
	_ authrules.Event = (*event.Event)(nil)
	_ stateres.Event  = (*event.Event)(nil)
)

// room is a real room DAG: signed events built with event.Build, re-parsed
// with event.Parse, authorised with authrules against the state before them
// (computed with stateres.Resolve when they have several prev events).
type room struct {
	tb      testing.TB
	v       roomversion.Version
	id      string
	create  *event.Event
	events  map[string]*event.Event
	after   map[string]stateres.StateMap // state after each accepted event
	order   []string                     // accepted events, in order of acceptance
	clock   int64                        // origin_server_ts of the next event
	n       int                          // event counter (v1/v2 event IDs)
	checker authrules.Checker
	last    string // last accepted event
	// gconv converts events for gomatrixserverlib (differential tests).
	gconv *gmslConv
	// verifySigs makes submit check hashes and signatures (slower).
	verifySigs bool
}

const startTS = 1_700_000_000_000

// newRoom creates a room of version ver whose creator is creator. extra is
// merged into the create event's content.
func newRoom(tb testing.TB, ver, creator string, extra map[string]any) *room {
	tb.Helper()
	v, ok := roomversion.Lookup(ver)
	if !ok {
		tb.Fatalf("unknown room version %q", ver)
	}
	r := &room{tb: tb, v: v, events: map[string]*event.Event{}, after: map[string]stateres.StateMap{}, clock: startTS}
	r.checker.SignedByServer = func(ev authrules.Event, server string) bool {
		e, ok := ev.(*event.Event)
		return ok && event.VerifySignatureFrom(e, server, keyLookup) == nil
	}
	content := map[string]any{"room_version": ver}
	if !v.CreatorInSender() {
		content["creator"] = creator
	}
	maps.Copy(content, extra)
	roomID := ""
	if !v.RoomIDFromCreateEvent() {
		roomID = "!room" + ver + ":" + serverOf(creator)
	}
	r.id = roomID
	create := r.buildWith(event.ProtoEvent{Type: authrules.TypeCreate, StateKey: sp(""), Sender: creator,
		RoomID: roomID, Content: mustJSON(content)}, nil, nil)
	r.id = create.RoomID()
	r.create = create
	if err := r.submit(create); err != nil {
		tb.Fatalf("create rejected: %v", err)
	}
	return r
}

// state returns the state after an accepted event.
func (r *room) state(id string) stateres.StateMap {
	s, ok := r.after[id]
	if !ok {
		r.tb.Fatalf("no state after %s (not accepted?)", id)
	}
	return s
}

// load is the stateres.EventLoader of the room.
func (r *room) load(ids []string) (map[string]stateres.Event, error) {
	out := make(map[string]stateres.Event, len(ids))
	for _, id := range ids {
		if e, ok := r.events[id]; ok {
			out[id] = e
		}
	}
	return out, nil
}

// resolve resolves state maps with stateres.Resolve wired to the real
// authorisation rules.
func (r *room) resolve(sets ...stateres.StateMap) (stateres.StateMap, error) {
	return stateres.Resolve(context.Background(), r.v, sets, r.load, authCheck(r.v, &r.checker))
}

// stateBefore is the state before an event with the given prev events.
func (r *room) stateBefore(prev []string) stateres.StateMap {
	switch len(prev) {
	case 0:
		return stateres.StateMap{}
	case 1:
		return r.state(prev[0]).Clone()
	}
	sets := make([]stateres.StateMap, len(prev))
	for i, p := range prev {
		sets[i] = r.state(p)
	}
	res, err := r.resolve(sets...)
	if err != nil {
		r.tb.Fatalf("resolving the state before an event with prev events %v: %v", prev, err)
	}
	return res
}

// provider is a map-based authrules.StateProvider over a state map.
func (r *room) provider(s stateres.StateMap) authrules.StateProvider {
	return func(k authrules.StateKey) authrules.Event {
		id, ok := s[sk(k)]
		if !ok {
			return nil
		}
		e, ok := r.events[id]
		if !ok {
			return nil
		}
		return e
	}
}

func (r *room) ref(id string) event.Reference {
	e := r.events[id]
	if e == nil {
		r.tb.Fatalf("unknown event %s", id)
	}
	ref := event.Reference{EventID: id}
	if r.v.EventIDInPDU() {
		ref.SHA256 = event.EncodeHash(e.ReferenceHash())
	}
	return ref
}

// buildWith completes p (auth events from the state before it, prev events,
// depth, event ID), builds, signs and re-parses it. auth overrides the auth
// events selection when non-nil.
func (r *room) buildWith(p event.ProtoEvent, prev []string, auth []string) *event.Event {
	r.tb.Helper()
	if p.RoomID == "" && !(p.Type == authrules.TypeCreate && r.v.RoomIDFromCreateEvent()) {
		p.RoomID = r.id
	}
	before := r.stateBefore(prev)
	if auth == nil && p.Type != authrules.TypeCreate {
		for _, k := range authrules.AuthEventsNeeded(r.v, p.Type, p.Sender, p.StateKey, p.Content) {
			if id, ok := before[sk(k)]; ok {
				auth = append(auth, id)
			}
		}
	}
	var depth int64
	for _, id := range prev {
		p.PrevEvents = append(p.PrevEvents, r.ref(id))
		depth = max(depth, r.events[id].Depth())
	}
	p.Depth = depth + 1
	for _, id := range auth {
		p.AuthEvents = append(p.AuthEvents, r.ref(id))
	}
	origin := serverOf(p.Sender)
	r.n++
	if r.v.EventIDInPDU() && p.EventID == "" {
		p.EventID = "$e" + strconv.Itoa(r.n) + ":" + origin
	}
	ts := r.clock
	r.clock += 1000
	built, err := event.BuildVersion(r.v, p, origin, keyID, serverKey(origin), time.UnixMilli(ts))
	if err != nil {
		r.tb.Fatalf("building %s from %s: %v", p.Type, p.Sender, err)
	}
	parsed, err := event.ParseVersion(r.v, built.Raw())
	if err != nil {
		r.tb.Fatalf("parsing our own %s: %v\n%s", p.Type, err, built.Raw())
	}
	if parsed.EventID() != built.EventID() {
		r.tb.Fatalf("event ID changed by parsing: built %s, parsed %s", built.EventID(), parsed.EventID())
	}
	return parsed
}

// build makes an event whose prev events are prev (default: the last
// accepted event). content may be a string of JSON or any value.
func (r *room) build(prev []string, sender, typ string, stateKey *string, content any) *event.Event {
	r.tb.Helper()
	if prev == nil && r.last != "" {
		prev = []string{r.last}
	}
	var raw json.RawMessage
	switch c := content.(type) {
	case string:
		raw = json.RawMessage(c)
	case nil:
		raw = json.RawMessage(`{}`)
	default:
		raw = mustJSON(c)
	}
	return r.buildWith(event.ProtoEvent{Type: typ, StateKey: stateKey, Sender: sender, Content: raw}, prev, nil)
}

var errAuthEvents = errors.New("auth events check failed")

// submit authorises e the way a server receiving it would: hashes and
// signatures (if verifySigs), the auth events rule and the rules against
// its auth events, then the rules against the state before it. An accepted
// event becomes part of the room; a rejected one is remembered as an event
// (it has an ID) but never enters any state.
func (r *room) submit(e *event.Event) error {
	r.tb.Helper()
	r.events[e.EventID()] = e
	if r.verifySigs {
		c, err := event.CheckHashAndSignatures(e, keyLookup)
		if err != nil || c.Outcome != event.Valid {
			r.tb.Fatalf("our own event fails hash/signature checks: %v (outcome %v)", err, c.Outcome)
		}
	}
	before := r.stateBefore(e.PrevEvents())
	if e.Type() != authrules.TypeCreate {
		var auth []authrules.Event
		for _, id := range e.AuthEvents() {
			a, ok := r.events[id]
			if !ok {
				return fmt.Errorf("%w: unknown auth event %s", errAuthEvents, id)
			}
			auth = append(auth, a)
		}
		var create authrules.Event
		if r.create != nil {
			create = r.create
		}
		if err := r.checker.CheckAgainstAuthEvents(r.v, e, auth, create); err != nil {
			return fmt.Errorf("%w: %w", errAuthEvents, err)
		}
	}
	prov := r.provider(before)
	if e.Type() != authrules.TypeCreate && r.v.RoomIDFromCreateEvent() {
		// v12: the create event is not an auth event; the caller supplies it.
		inner := prov
		prov = func(k authrules.StateKey) authrules.Event {
			if k == (authrules.StateKey{Type: authrules.TypeCreate}) {
				return r.create
			}
			return inner(k)
		}
	}
	if err := r.checker.Check(r.v, e, prov); err != nil {
		return err
	}
	if key := e.StateKey(); key != nil {
		before[stateres.StateKey{Type: e.Type(), StateKey: *key}] = e.EventID()
	}
	r.after[e.EventID()] = before
	r.order = append(r.order, e.EventID())
	r.last = e.EventID()
	return nil
}

// send builds and submits an event after the last accepted one.
func (r *room) send(sender, typ string, stateKey *string, content any) (*event.Event, error) {
	r.tb.Helper()
	e := r.build(nil, sender, typ, stateKey, content)
	return e, r.submit(e)
}

// must sends an event that must be accepted and returns its ID.
func (r *room) must(step, sender, typ string, stateKey *string, content any) string {
	r.tb.Helper()
	e, err := r.send(sender, typ, stateKey, content)
	if err != nil {
		r.tb.Fatalf("%s: rejected: %v", step, err)
	}
	return e.EventID()
}

// mustAfter is must with explicit prev events.
func (r *room) mustAfter(step string, prev []string, sender, typ string, stateKey *string, content any) string {
	r.tb.Helper()
	e := r.build(prev, sender, typ, stateKey, content)
	if err := r.submit(e); err != nil {
		r.tb.Fatalf("%s: rejected: %v", step, err)
	}
	return e.EventID()
}

// reject sends an event that the rules must reject with the named rule
// (authrules.RuleError.Name); the room's tip does not move.
func (r *room) reject(step, rule, sender, typ string, stateKey *string, content any) {
	r.tb.Helper()
	_, err := r.send(sender, typ, stateKey, content)
	assertRule(r.tb, step, err, rule)
}

func assertRule(tb testing.TB, step string, err error, rule string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: accepted, want rejection by %s", step, rule)
	}
	var re *authrules.RuleError
	if !errors.As(err, &re) {
		tb.Fatalf("%s: rejected with %v, want a RuleError %s", step, err, rule)
	}
	if re.Name != rule {
		tb.Fatalf("%s: rejected by %s (%v), want %s", step, re.Name, err, rule)
	}
}

// describe renders a state map for failure messages.
func (r *room) describe(s stateres.StateMap) string {
	keys := slices.SortedFunc(maps.Keys(s), func(a, b stateres.StateKey) int {
		return strings.Compare(a.Type+"\x00"+a.StateKey, b.Type+"\x00"+b.StateKey)
	})
	var b strings.Builder
	for _, k := range keys {
		id := s[k]
		fmt.Fprintf(&b, "  (%s, %q) = %s", k.Type, k.StateKey, id)
		if e := r.events[id]; e != nil {
			fmt.Fprintf(&b, " from %s %s", e.Sender(), e.Content())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func member(m string) string { return `{"membership":"` + m + `"}` }
