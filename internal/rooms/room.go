package rooms

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
	"github.com/axonhs/axon/internal/storage"
)

// maxStateChain bounds the deltas between a state group and its full
// snapshot, so loading any group reads at most this many groups (Synapse
// uses the same bound).
const maxStateChain = 100

// maxPrevEvents bounds the prev_events of a new event, as the spec
// suggests (Synapse uses 10 as well).
const maxPrevEvents = 10

// room is the in-memory head of one room: its current state and forward
// extremities. Events are built against it one at a time (mu), so a room's
// events form a chain in the order they were accepted, while other rooms
// proceed in parallel.
type room struct {
	id      string
	version roomversion.Version

	// gen is bumped when a commit of this room fails: the head then holds
	// an event the database does not, and a write built on an older
	// generation must not be committed because its parents never were.
	gen atomic.Uint64

	mu        sync.Mutex // serialises writers; guards the fields below
	loadedGen uint64     // the generation the head was loaded at
	loaded    bool

	state       map[authrules.StateKey]*event.Event
	extremities []*event.Event
	stateGroup  int64 // the state group of the current state
	chainLength int
	// push follows the current state for push rule evaluation; nil until
	// first needed.
	push *PushState
	// pendingTxns are sends with a transaction ID not yet durable.
	pendingTxns map[storage.TxnKey]*write
}

// stateProvider answers the auth rules' state lookups from the head.
func (r *room) stateProvider() authrules.StateProvider {
	return func(k authrules.StateKey) authrules.Event {
		if ev, ok := r.state[k]; ok {
			return ev
		}
		return nil
	}
}

// stateEvent returns the current state event for (typ, stateKey), or nil.
func (r *room) stateEvent(typ, stateKey string) *event.Event {
	return r.state[authrules.StateKey{Type: typ, StateKey: stateKey}]
}

// membership returns user's current membership ("" if none).
func (r *room) membership(user string) string {
	ev := r.stateEvent(typeMember, user)
	if ev == nil {
		return ""
	}
	return contentString(ev, "membership")
}

// load reads the room's head from the database. r.mu must be held.
func (r *room) load(ctx context.Context, db *storage.DB) error {
	head, err := db.LoadRoomHead(ctx, r.id)
	if err != nil {
		return err
	}
	v, ok := roomversion.Lookup(head.Version)
	if !ok {
		return fmt.Errorf("room %s has unknown version %q", r.id, head.Version)
	}
	state := make(map[authrules.StateKey]*event.Event, len(head.State))
	for _, row := range head.State {
		ev, err := parseStored(v, row)
		if err != nil {
			return err
		}
		state[authrules.StateKey{Type: row.Type, StateKey: *row.StateKey}] = ev
	}
	extremities := make([]*event.Event, 0, len(head.Extremities))
	for _, row := range head.Extremities {
		ev, err := parseStored(v, row)
		if err != nil {
			return err
		}
		extremities = append(extremities, ev)
	}
	r.version, r.state, r.extremities = v, state, extremities
	r.stateGroup, r.chainLength = head.StateGroup, head.ChainLength
	r.push = nil
	r.loaded, r.loadedGen = true, r.gen.Load()
	return nil
}

// ensureLoaded (re)loads the head if it was never loaded or a failed commit
// made it stale. r.mu must be held.
func (r *room) ensureLoaded(ctx context.Context, db *storage.DB) error {
	if r.loaded && r.loadedGen == r.gen.Load() {
		return nil
	}
	r.loaded = false
	return r.load(ctx, db)
}

// parseStored parses a PDU read back from the database. It was validated
// when it was accepted, so a failure means the database is damaged.
func parseStored(v roomversion.Version, row storage.EventRow) (*event.Event, error) {
	ev, err := event.ParseVersion(v, row.PDU)
	if err != nil {
		return nil, fmt.Errorf("stored event %s: %w", row.EventID, err)
	}
	return ev, nil
}

// contentString reads a string field of an event's content ("" if absent
// or not a string).
func contentString(ev interface{ Content() json.RawMessage }, key string) string {
	s, _ := rawjson.LookupString(ev.Content(), key)
	return s
}

// pduContentString reads content[field] of a PDU as a string.
func pduContentString(pdu []byte, field string) string {
	content, ok := rawjson.Lookup(pdu, "content")
	if !ok {
		return ""
	}
	s, _ := rawjson.LookupString(content, field)
	return s
}

func stateKeyOf(typ, stateKey string) authrules.StateKey {
	return authrules.StateKey{Type: typ, StateKey: stateKey}
}
