package rooms

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/storage"
)

// Proto is an event a local user asks to send.
type Proto struct {
	Type     string
	StateKey *string // nil for a message event
	Sender   string
	Content  json.RawMessage
	// Redacts is the target of an m.room.redaction.
	Redacts string
	// Guest: the sender is a guest account (joins need guest access).
	Guest bool
}

// Txn identifies a client request for idempotent retries.
type Txn struct {
	DeviceID string
	Scope    string // the endpoint, e.g. "send/!room:server/m.room.message"
	TxnID    string
}

// submit builds p on the room's head, authorises it and waits until it is
// durable. With a txn that already produced an event, it returns that
// event's ID without sending anything.
func (s *Service) submit(ctx context.Context, roomID string, p Proto, txn *Txn) (string, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		r.mu.Unlock()
		return "", fmt.Errorf("load room: %w", err)
	}
	if id, ok := r.duplicateState(p); ok {
		r.mu.Unlock()
		return id, nil
	}
	if err := r.checkCreatorLevels(p); err != nil {
		r.mu.Unlock()
		return "", err
	}
	var key *storage.TxnKey
	if txn != nil {
		key = &storage.TxnKey{UserID: p.Sender, DeviceID: txn.DeviceID, Scope: txn.Scope, TxnID: txn.TxnID}
		// Checked under the room's lock: a retry racing its original
		// either finds the committed event or waits for it here.
		if w, ok := r.pendingTxns[*key]; ok {
			r.mu.Unlock()
			<-w.settled
			return w.row.Event.EventID, w.err
		}
		id, err := s.txns.eventID(ctx, s.db, *key)
		if err != nil || id != "" {
			r.mu.Unlock()
			return id, err
		}
	}
	ev, w, err := s.buildLocked(ctx, r, p, key)
	if err == nil {
		s.queueLocked(r, w, key)
	}
	r.mu.Unlock()
	if err != nil {
		return "", err
	}
	return ev.EventID(), s.await(r, w, key)
}

// await waits for w to be durable. The commit goes ahead even if the
// client goes away: the batch is shared with other senders.
func (s *Service) await(r *room, w *write, key *storage.TxnKey) error {
	w.err = <-w.done
	close(w.settled)
	if key != nil {
		r.mu.Lock()
		delete(r.pendingTxns, *key)
		r.mu.Unlock()
	}
	return w.err
}

// buildLocked builds, signs and authorises p against r's head and applies
// it to the head; the caller queues the write (queueLocked) or, if it
// abandons it, invalidates the head. r.mu must be held.
func (s *Service) buildLocked(ctx context.Context, r *room, p Proto, txn *storage.TxnKey) (*event.Event, *write, error) {
	v := r.version
	proto := event.ProtoEvent{
		Type: p.Type, StateKey: p.StateKey, Sender: p.Sender, RoomID: r.id,
		Content: p.Content, Redacts: p.Redacts,
	}
	if p.Type == typeCreate && v.RoomIDFromCreateEvent() {
		proto.RoomID = "" // derived from the create event itself
	}
	for _, k := range authrules.AuthEventsNeeded(v, p.Type, p.Sender, p.StateKey, p.Content) {
		if ev := r.state[k]; ev != nil {
			proto.AuthEvents = append(proto.AuthEvents, reference(ev))
		}
	}
	proto.PrevEvents, proto.Depth = r.prevEvents()
	ev, err := event.BuildVersion(v, proto, s.signer.ServerName, s.signer.KeyID, s.signer.Key, s.now())
	if err != nil {
		return nil, nil, buildError(err)
	}
	if err := s.checker.Check(v, ev, r.stateProvider()); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	row := storage.PersistEvent{
		Event: storage.EventRow{
			EventID: ev.EventID(), RoomID: ev.RoomID(), Type: ev.Type(), StateKey: ev.StateKey(),
			Sender: ev.Sender(), Depth: ev.Depth(), OriginServerTS: ev.OriginServerTS(), PDU: ev.Canonical(),
		},
		PrevEvents: ev.PrevEvents(),
		Txn:        txn,
		CreatedTS:  s.now().UnixMilli(),
	}
	if txn != nil {
		row.Event.DeviceID, row.Event.TxnID = txn.DeviceID, txn.TxnID
	}
	if p.Type == typeRedaction {
		if row.Redaction, err = s.redactionOf(ctx, r, ev); err != nil {
			return nil, nil, err
		}
	}
	s.applyLocked(r, ev, &row)
	s.evaluatePushLocked(ctx, r, ev, &row)
	return ev, &write{room: r, gen: r.loadedGen, row: row, done: make(chan error, 1), settled: make(chan struct{})}, nil
}

// queueLocked hands a built write to the committer. r.mu must be held, so
// that the room's writes are queued in the order they were built.
func (s *Service) queueLocked(r *room, w *write, txn *storage.TxnKey) {
	if txn != nil {
		if r.pendingTxns == nil {
			r.pendingTxns = map[storage.TxnKey]*write{}
		}
		r.pendingTxns[*txn] = w
	}
	s.committer.enqueue(w)
}

// applyLocked moves r's head past ev and fills in the state bookkeeping
// of its row.
func (s *Service) applyLocked(r *room, ev *event.Event, row *storage.PersistEvent) {
	if sk := ev.StateKey(); sk != nil {
		key := authrules.StateKey{Type: ev.Type(), StateKey: *sk}
		if old := r.state[key]; old != nil {
			row.Event.ReplacesState = old.EventID()
		}
		r.state[key] = ev
		if r.push != nil {
			r.push.apply(ev)
		}
		g := &storage.NewStateGroup{GroupID: s.nextGroup.Add(1)}
		if r.stateGroup == 0 || r.chainLength+1 > maxStateChain {
			g.Entries = r.stateEntries()
		} else {
			g.PrevGroup, g.ChainLength = r.stateGroup, r.chainLength+1
			g.Entries = []storage.StateEntry{{Type: key.Type, StateKey: key.StateKey, EventID: ev.EventID()}}
		}
		row.StateGroup = g
		r.stateGroup, r.chainLength = g.GroupID, g.ChainLength
		if ev.Type() == typeMember {
			row.Membership = contentString(ev, "membership")
		}
	}
	if red := row.Redaction; red != nil {
		// Redacted state counts as redacted for later auth checks.
		for k, st := range r.state {
			if st.EventID() == red.EventID {
				if redacted, err := event.ParseVersion(r.version, red.RedactedPDU); err == nil {
					r.state[k] = redacted
					if r.push != nil {
						r.push.apply(redacted)
					}
				}
			}
		}
	}
	row.Event.StateGroup = r.stateGroup
	r.extremities = []*event.Event{ev}
}

// evaluatePushLocked stores with ev the notifications it causes. r.mu
// must be held, and ev applied to the head.
func (s *Service) evaluatePushLocked(ctx context.Context, r *room, ev *event.Event, row *storage.PersistEvent) {
	if s.pusher == nil {
		return
	}
	if r.push == nil {
		r.push = pushStateOf(r.version, s.signer.ServerName, r.state)
	}
	row.Push = s.pusher.Evaluate(ctx, PushEvent{Event: ev, State: r.push})
}

// stateEntries lists the full current state, for a snapshot group.
func (r *room) stateEntries() []storage.StateEntry {
	out := make([]storage.StateEntry, 0, len(r.state))
	for k, ev := range r.state {
		out = append(out, storage.StateEntry{Type: k.Type, StateKey: k.StateKey, EventID: ev.EventID()})
	}
	return out
}

// prevEvents picks the new event's prev_events (the forward extremities,
// deepest first, at most maxPrevEvents) and depth.
func (r *room) prevEvents() ([]event.Reference, int64) {
	ext := slices.Clone(r.extremities)
	slices.SortFunc(ext, func(a, b *event.Event) int { return cmp.Compare(b.Depth(), a.Depth()) })
	if len(ext) > maxPrevEvents {
		ext = ext[:maxPrevEvents]
	}
	refs := make([]event.Reference, len(ext))
	var depth int64
	for i, ev := range ext {
		refs[i] = reference(ev)
		depth = max(depth, ev.Depth())
	}
	if len(ext) == 0 {
		return nil, 1 // the create event
	}
	return refs, min(depth+1, r.version.MaxDepth())
}

// reference cites ev in prev_events or auth_events.
func reference(ev *event.Event) event.Reference {
	ref := event.Reference{EventID: ev.EventID()}
	if ev.Version().PrevEventsHaveHashes() {
		ref.SHA256 = event.EncodeHash(ev.ReferenceHash())
	}
	return ref
}

// buildError classifies an error from event.Build.
func buildError(err error) error {
	switch {
	case errors.Is(err, event.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, event.ErrBadKey):
		return fmt.Errorf("signing key: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrBadRequest, err)
}

// duplicateState finds a state event identical to p (same sender and
// content) in the current state: setting state twice is idempotent, as in
// Synapse. r.mu must be held.
func (r *room) duplicateState(p Proto) (string, bool) {
	if p.StateKey == nil || p.Type == typeMember {
		return "", false
	}
	cur := r.stateEvent(p.Type, *p.StateKey)
	if cur == nil || cur.Sender() != p.Sender {
		return "", false
	}
	canonical, err := canonicaljson.Canonicalize(p.Content)
	if err != nil || !bytes.Equal(canonical, cur.Content()) {
		return "", false
	}
	return cur.EventID(), true
}

// checkCreatorLevels refuses, as a bad request (Synapse's answer), power
// levels that list a room creator in a version where creators stand above
// power levels (v12): the auth rules would reject the event anyway.
func (r *room) checkCreatorLevels(p Proto) error {
	if p.Type != typePowerLevels || !r.version.PrivilegedCreators() {
		return nil
	}
	users, ok := rawjson.Lookup(p.Content, "users")
	if !ok {
		return nil
	}
	for _, c := range r.creators() {
		if _, listed := rawjson.Lookup(users, c); listed {
			return fmt.Errorf("%w: room creators cannot be given a power level", ErrBadRequest)
		}
	}
	return nil
}

// creators are the create event's sender and additional_creators.
func (r *room) creators() []string {
	create := r.stateEvent(typeCreate, "")
	if create == nil {
		return nil
	}
	out := []string{create.Sender()}
	if extra, ok := rawjson.Lookup(create.Content(), "additional_creators"); ok {
		rawjson.ArrayEach(extra, func(elem []byte) bool {
			if s, ok := rawjson.StringValue(elem); ok {
				out = append(out, s)
			}
			return true
		})
	}
	return out
}
