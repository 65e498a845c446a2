package push

import (
	"context"
	"strings"

	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
)

// MainThread is the thread ID of a room's main timeline (spec: threaded
// read receipts).
const MainThread = "main"

const (
	// maxCachedThreads bounds the remembered threads of recent events.
	maxCachedThreads = 100000
	// maxThreadHops bounds the relations followed to find an event's
	// thread (the spec recommends 3).
	maxThreadHops = 3
)

// NotificationCounts is the unread_notifications object of /sync.
type NotificationCounts struct {
	NotificationCount int64 `json:"notification_count"`
	HighlightCount    int64 `json:"highlight_count"`
}

// Counts are a user's unread notifications in one room.
type Counts struct {
	Main    NotificationCounts            // the main timeline
	Threads map[string]NotificationCounts // by thread root; nil when there are none
}

// Total is the room's count over every thread, which /sync reports as
// unread_notifications unless the filter asks for
// unread_thread_notifications.
func (c Counts) Total() NotificationCounts {
	t := c.Main
	for _, n := range c.Threads {
		t.NotificationCount += n.NotificationCount
		t.HighlightCount += n.HighlightCount
	}
	return t
}

// Evaluate implements rooms.Pusher: it runs the push rules of the event's
// recipients against it, and marks a local sender's own event as read.
// Failing to load a recipient's rules costs that event its notifications,
// never the event itself.
func (s *Service) Evaluate(ctx context.Context, pe rooms.PushEvent) *storage.EventPush {
	ev, state := pe.Event, pe.State
	recipients := s.recipients(ev, state)
	senderLocal := s.isLocal(ev.Sender())
	if len(recipients) == 0 && !senderLocal {
		return nil
	}
	thread, err := s.threadOf(ctx, ev)
	if err != nil {
		s.log.Warn("find the thread of an event", "event", ev.EventID(), "err", err)
		thread = MainThread
	}
	push := &storage.EventPush{ThreadID: thread, SenderRead: senderLocal}
	if len(recipients) == 0 {
		return push
	}
	compiled, err := s.compiledFor(ctx, recipients)
	if err != nil {
		s.log.Warn("evaluate push rules for an event", "event", ev.EventID(), "err", err)
		return push
	}
	pev := NewEvent(ev.Canonical(), state)
	for _, u := range recipients {
		out := compiled[u].Evaluate(pev, state.DisplayName(u))
		if out.Notify {
			push.Notified = append(push.Notified, storage.Notified{UserID: u, Highlight: out.Highlight})
		}
	}
	return push
}

// recipients are the local users whose rules run for the event: the
// joined members except the sender. A membership event is evaluated for
// its target only, when that is another local user who is invited or in
// the room (as Synapse does, so joins in large rooms stay cheap).
func (s *Service) recipients(ev *event.Event, state *rooms.PushState) []string {
	if sk := ev.StateKey(); ev.Type() == "m.room.member" && sk != nil {
		target := *sk
		if target == ev.Sender() || !s.isLocal(target) {
			return nil
		}
		if m, _ := rawjson.LookupString(ev.Content(), "membership"); m == "invite" || state.Joined(target) {
			return []string{target}
		}
		return nil
	}
	out := make([]string, 0, state.MemberCount())
	state.JoinedLocal(func(u string) {
		if u != ev.Sender() {
			out = append(out, u)
		}
	})
	return out
}

func (s *Service) isLocal(user string) bool { return strings.HasSuffix(user, ":"+s.serverName) }

// threadOf is the thread an event belongs to: the root of an m.thread
// relation, the thread of the event another relation points at (up to
// maxThreadHops), or the main timeline. Results are remembered, so that
// reactions and edits find their target's thread without a query.
func (s *Service) threadOf(ctx context.Context, ev *event.Event) (string, error) {
	thread, err := s.followRelations(ctx, ev.RoomID(), ev.Canonical())
	if err != nil {
		return "", err
	}
	s.threadsMu.Lock()
	defer s.threadsMu.Unlock()
	if len(s.threads) >= maxCachedThreads {
		clear(s.threads)
	}
	s.threads[ev.EventID()] = thread
	return thread, nil
}

func (s *Service) followRelations(ctx context.Context, roomID string, pdu []byte) (string, error) {
	for range maxThreadHops {
		relType, parent := relation(pdu)
		if parent == "" {
			return MainThread, nil
		}
		if relType == "m.thread" {
			return parent, nil
		}
		s.threadsMu.Lock()
		t, ok := s.threads[parent]
		s.threadsMu.Unlock()
		if ok {
			return t, nil
		}
		rows, err := s.db.EventsByID(ctx, []string{parent})
		if err != nil {
			return "", err
		}
		if len(rows) == 0 || rows[0].RoomID != roomID {
			return MainThread, nil
		}
		pdu = rows[0].PDU
	}
	return MainThread, nil
}

// relation reads content["m.relates_to"]: its rel_type and event_id.
func relation(pdu []byte) (relType, eventID string) {
	content, _ := rawjson.Lookup(pdu, "content")
	rel, ok := rawjson.Lookup(content, "m.relates_to")
	if !ok {
		return "", ""
	}
	relType, _ = rawjson.LookupString(rel, "rel_type")
	eventID, _ = rawjson.LookupString(rel, "event_id")
	if relType == "" {
		return "", "" // a reply (m.in_reply_to) is not a relation
	}
	return relType, eventID
}

// Counts returns user's unread notifications in roomIDs (rooms without
// any are absent). Notifications are stored with their events, so the
// counts include every event a /sync response computed now can contain.
func (s *Service) Counts(ctx context.Context, user string, roomIDs []string) (map[string]Counts, error) {
	rows, err := s.db.PushCounts(ctx, user, roomIDs)
	if err != nil {
		return nil, err
	}
	out := map[string]Counts{}
	for _, r := range rows {
		c := out[r.RoomID]
		n := NotificationCounts{NotificationCount: r.Notifications, HighlightCount: r.Highlights}
		if r.ThreadID == MainThread {
			c.Main = n
		} else {
			if c.Threads == nil {
				c.Threads = map[string]NotificationCounts{}
			}
			c.Threads[r.ThreadID] = n
		}
		out[r.RoomID] = c
	}
	return out, nil
}

// ResetCounts marks user's notifications in roomID read up to and
// including stream position upToPos: those of threadID ("main" or a
// thread root), or of every thread when threadID is "" (an unthreaded
// receipt). Read marks never move back. Call it for m.read and
// m.read.private receipts.
func (s *Service) ResetCounts(ctx context.Context, user, roomID, threadID string, upToPos int64) error {
	return s.db.MarkPushRead(ctx, storage.PushReadMark{UserID: user, RoomID: roomID, ThreadID: threadID, Pos: upToPos})
}
