// Package receipts keeps read receipts (m.read, m.read.private, threaded
// or not) and the fully read marker (m.fully_read room account data).
//
// A receipt only moves forward: one for an earlier event than the user's
// current receipt of the same type and thread is ignored, as in Synapse.
// Every stored receipt takes the next position of the receipts stream,
// from which /sync builds each room's m.receipt event.
package receipts

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/axonhs/axon/internal/accountdata"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// Receipt types, and the thread ID of the main timeline.
const (
	TypeRead        = "m.read"
	TypeReadPrivate = "m.read.private"
	TypeFullyRead   = "m.fully_read"
	MainThread      = "main"
)

// Errors callers map to Matrix error codes.
var (
	// ErrNotJoined: only members of a room may send receipts in it.
	ErrNotJoined = errors.New("receipts: user is not in the room")
	// ErrUnknownEvent: the event is not in the room, or not visible to the user.
	ErrUnknownEvent = errors.New("receipts: event not found")
	// ErrNotInThread: the event does not belong to the receipt's thread.
	ErrNotInThread = errors.New("receipts: event is not in the thread")
	// ErrBadType: not a receipt type this service stores.
	ErrBadType = errors.New("receipts: unknown receipt type")
)

// Store is the storage the service needs.
type Store interface {
	IsJoined(ctx context.Context, userID, roomID string) (bool, error)
	EventsByID(ctx context.Context, ids []string) ([]storage.EventRow, error)
	PutReceipt(ctx context.Context, r storage.Receipt) (bool, error)
	ReceiptsInJoinedRooms(ctx context.Context, userID string, after, upTo int64) ([]storage.Receipt, error)
	RoomReceipts(ctx context.Context, roomIDs []string, upTo int64) ([]storage.Receipt, error)
}

// Events finds an event the user may see.
type Events interface {
	EventFor(ctx context.Context, user, roomID, eventID string) (*rooms.Event, error)
}

// AccountData holds the m.fully_read marker.
type AccountData interface {
	Get(ctx context.Context, userID, roomID, typ string) ([]byte, error)
	PutServerManaged(ctx context.Context, userID, roomID, typ string, content []byte) error
}

// Notifier wakes the syncs a receipt concerns.
type Notifier interface {
	WakeRoom(roomID string)
	WakeUser(userID string)
}

// Service stores receipts and read markers.
type Service struct {
	store       Store
	events      Events
	accountData AccountData
	seq         *streams.Sequence
	notifier    Notifier
	now         func() time.Time

	// markers serialises read-marker updates per user and room, so two
	// concurrent requests cannot move the marker backwards.
	markers [64]sync.Mutex
	// resetCounts, when set, clears the user's unread notification counts
	// up to a public or private read receipt.
	resetCounts func(ctx context.Context, user, roomID, threadID string, upToPos int64) error
}

// OnRead sets what clears unread notification counts when a read receipt
// is stored (the push service's ResetCounts).
func (s *Service) OnRead(reset func(ctx context.Context, user, roomID, threadID string, upToPos int64) error) {
	s.resetCounts = reset
}

// New returns the service; seq is the receipts stream's sequence.
func New(store Store, events Events, accountData AccountData, seq *streams.Sequence, notifier Notifier) *Service {
	return &Service{store: store, events: events, accountData: accountData, seq: seq, notifier: notifier, now: time.Now}
}

// Position is the receipts stream's current position.
func (s *Service) Position() int64 { return s.seq.Current() }

// Receipt is a receipt a user sends.
type Receipt struct {
	User     string
	RoomID   string
	Type     string // TypeRead or TypeReadPrivate
	EventID  string
	ThreadID string // "" for unthreaded, MainThread, or a thread root's event ID
}

// Send records a receipt of a user joined to the room, for an event they
// can see.
func (s *Service) Send(ctx context.Context, r Receipt) error {
	if r.Type != TypeRead && r.Type != TypeReadPrivate {
		return ErrBadType
	}
	ev, err := s.eventFor(ctx, r.User, r.RoomID, r.EventID)
	if err != nil {
		return err
	}
	if r.ThreadID != "" {
		if err := s.checkThread(ctx, ev, r.ThreadID); err != nil {
			return err
		}
	}
	pos := s.seq.Reserve()
	stored, err := s.store.PutReceipt(ctx, storage.Receipt{
		RoomID: r.RoomID, UserID: r.User, Type: r.Type, ThreadID: r.ThreadID, EventID: r.EventID,
		EventPos: ev.Pos, TS: s.now().UnixMilli(), Pos: pos,
	})
	s.seq.Finish(pos)
	if err != nil {
		return err
	}
	if s.resetCounts != nil {
		// Also when the receipt did not move: a reset is idempotent.
		if err := s.resetCounts(ctx, r.User, r.RoomID, r.ThreadID, ev.Pos); err != nil {
			return err
		}
	}
	if !stored {
		return nil
	}
	if r.Type == TypeReadPrivate {
		s.notifier.WakeUser(r.User) // nobody else ever sees it
	} else {
		s.notifier.WakeRoom(r.RoomID)
	}
	return nil
}

// eventFor checks that user is joined to roomID and may see eventID there.
func (s *Service) eventFor(ctx context.Context, user, roomID, eventID string) (storage.EventRow, error) {
	joined, err := s.store.IsJoined(ctx, user, roomID)
	if err != nil {
		return storage.EventRow{}, err
	}
	if !joined {
		return storage.EventRow{}, ErrNotJoined
	}
	ev, err := s.events.EventFor(ctx, user, roomID, eventID)
	switch {
	case errors.Is(err, rooms.ErrNotFound):
		return storage.EventRow{}, ErrUnknownEvent
	case errors.Is(err, rooms.ErrForbidden):
		return storage.EventRow{}, ErrNotJoined
	case err != nil:
		return storage.EventRow{}, err
	}
	return ev.EventRow, nil
}

// maxRelationHops bounds the walk up an event's relations, as the spec
// recommends for deciding which thread an event is in.
const maxRelationHops = 3

// checkThread decides whether ev may carry a receipt for thread, as
// Synapse does: for the main timeline, no event up its relations may be
// in a thread; for a thread, the event must be the thread's root, in it,
// or related to either.
func (s *Service) checkThread(ctx context.Context, ev storage.EventRow, thread string) error {
	top, threadRoot := ev.EventID, ""
	cur := ev
	for range maxRelationHops {
		relType, parent := relation(cur.PDU)
		if parent == "" {
			break
		}
		if relType == "m.thread" {
			threadRoot = parent
		}
		top = parent
		rows, err := s.store.EventsByID(ctx, []string{parent})
		if err != nil {
			return err
		}
		if len(rows) == 0 || rows[0].RoomID != ev.RoomID {
			break // the relation ends at an event we do not have
		}
		cur = rows[0]
	}
	if thread == MainThread {
		if threadRoot != "" {
			return fmt.Errorf("%w: %s is in thread %s", ErrNotInThread, ev.EventID, threadRoot)
		}
		return nil
	}
	if threadRoot != thread && top != thread {
		return fmt.Errorf("%w: %s is not related to thread %s", ErrNotInThread, ev.EventID, thread)
	}
	return nil
}

// relation returns content["m.relates_to"]'s rel_type and event_id.
func relation(pdu []byte) (relType, eventID string) {
	content, ok := rawjson.Lookup(pdu, "content")
	if !ok {
		return "", ""
	}
	rel, ok := rawjson.Lookup(content, "m.relates_to")
	if !ok || !rawjson.IsObject(rel) {
		return "", ""
	}
	relType, _ = rawjson.LookupString(rel, "rel_type")
	eventID, _ = rawjson.LookupString(rel, "event_id")
	return relType, eventID
}

// SetFullyRead moves the user's fully read marker in a room to eventID,
// unless it is already at a later event (Synapse's rule), by writing the
// m.fully_read room account data, which /sync then delivers.
func (s *Service) SetFullyRead(ctx context.Context, user, roomID, eventID string) error {
	ev, err := s.eventFor(ctx, user, roomID, eventID)
	if err != nil {
		return err
	}
	mu := &s.markers[markerStripe(user, roomID)]
	mu.Lock()
	defer mu.Unlock()
	ahead, err := s.markerAhead(ctx, user, roomID, ev.Pos)
	if err != nil || ahead {
		return err
	}
	content, err := json.Marshal(map[string]string{"event_id": eventID})
	if err != nil {
		return err
	}
	return s.accountData.PutServerManaged(ctx, user, roomID, TypeFullyRead, content)
}

// markerAhead reports whether the current marker is at or after stream
// position pos. A marker at an event we no longer have is not.
func (s *Service) markerAhead(ctx context.Context, user, roomID string, pos int64) (bool, error) {
	old, err := s.accountData.Get(ctx, user, roomID, TypeFullyRead)
	if errors.Is(err, accountdata.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	oldID, _ := rawjson.LookupString(old, "event_id")
	if oldID == "" {
		return false, nil
	}
	rows, err := s.store.EventsByID(ctx, []string{oldID})
	if err != nil {
		return false, err
	}
	return len(rows) == 1 && rows[0].RoomID == roomID && rows[0].Pos >= pos, nil
}

func markerStripe(user, roomID string) int {
	h := fnv.New32a()
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(roomID))
	return int(h.Sum32() % 64)
}

// ForSync returns the m.receipt event of each of user's joined rooms
// with receipts at stream positions in (after, upTo], and of each of
// fullRooms (rooms new to the client) with all their receipts. Other
// users' private receipts are left out.
func (s *Service) ForSync(ctx context.Context, user string, after, upTo int64, fullRooms []string) (map[string]json.RawMessage, error) {
	var rs []storage.Receipt
	if after < upTo {
		var err error
		if rs, err = s.store.ReceiptsInJoinedRooms(ctx, user, after, upTo); err != nil {
			return nil, err
		}
	}
	if len(fullRooms) > 0 {
		full, err := s.store.RoomReceipts(ctx, fullRooms, upTo)
		if err != nil {
			return nil, err
		}
		// The full lists replace whatever changed in those rooms.
		rs = slices.DeleteFunc(rs, func(r storage.Receipt) bool { return slices.Contains(fullRooms, r.RoomID) })
		rs = append(rs, full...)
	}
	byRoom := map[string][]storage.Receipt{}
	for _, r := range rs {
		if r.Type == TypeReadPrivate && r.UserID != user {
			continue
		}
		byRoom[r.RoomID] = append(byRoom[r.RoomID], r)
	}
	out := make(map[string]json.RawMessage, len(byRoom))
	for room, list := range byRoom {
		ev, err := receiptEvent(list)
		if err != nil {
			return nil, err
		}
		out[room] = ev
	}
	return out, nil
}

type receiptData struct {
	TS       int64  `json:"ts"`
	ThreadID string `json:"thread_id,omitempty"`
}

// receiptEvent builds one room's m.receipt event: event ID → receipt
// type → user → {ts, thread_id}. Where two receipts collide (one user's
// threaded receipts on the same event) the later one wins.
func receiptEvent(list []storage.Receipt) (json.RawMessage, error) {
	slices.SortFunc(list, func(a, b storage.Receipt) int { return cmp.Compare(a.Pos, b.Pos) })
	content := map[string]map[string]map[string]receiptData{}
	for _, r := range list {
		byType := content[r.EventID]
		if byType == nil {
			byType = map[string]map[string]receiptData{}
			content[r.EventID] = byType
		}
		byUser := byType[r.Type]
		if byUser == nil {
			byUser = map[string]receiptData{}
			byType[r.Type] = byUser
		}
		byUser[r.UserID] = receiptData{TS: r.TS, ThreadID: r.ThreadID}
	}
	return json.Marshal(struct {
		Type    string `json:"type"`
		Content any    `json:"content"`
	}{"m.receipt", content})
}
