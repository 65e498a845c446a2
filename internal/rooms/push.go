package rooms

import (
	"context"
	"math"
	"strings"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
	"github.com/axonhs/axon/internal/storage"
)

// defaultNotificationLevel is the level a notifications key requires when
// the power levels do not say (spec: m.room.power_levels).
const defaultNotificationLevel = 50

// Pusher evaluates push rules for each event as it is built, so that its
// notifications are stored in the transaction that stores the event: the
// unread counts are never behind the timeline, and no second writer
// competes with the committer.
type Pusher interface {
	// Evaluate returns what ev does to unread counts (nil: nothing). It
	// runs under the room's lock: it must not call back into the rooms
	// service.
	Evaluate(ctx context.Context, ev PushEvent) *storage.EventPush
}

// PushEvent is an event being built, with its room's state after it.
type PushEvent struct {
	Event *event.Event
	State *PushState
}

// WithPusher makes s evaluate push rules for every event it builds. Call it
// before Start.
func (s *Service) WithPusher(p Pusher) *Service {
	s.pusher = p
	return s
}

// PushState is a room's state as push rule evaluation reads it: the joined
// members with their display names, and what decides power levels. Each
// room head keeps one up to date as events are built; it is read and
// changed only under the room's lock.
type PushState struct {
	version     roomversion.Version
	serverName  string
	create      []byte // the m.room.create PDU
	powerLevels []byte // content of m.room.power_levels; nil without one
	joined      map[string]string
	local       map[string]struct{} // joined users of this server
}

func newPushState(v roomversion.Version, serverName string) *PushState {
	return &PushState{version: v, serverName: serverName, joined: map[string]string{}, local: map[string]struct{}{}}
}

// MemberCount is the number of joined members.
func (p *PushState) MemberCount() int { return len(p.joined) }

// JoinedLocal calls fn for each joined member of this server.
func (p *PushState) JoinedLocal(fn func(user string)) {
	for u := range p.local {
		fn(u)
	}
}

// Joined reports whether user is a joined member.
func (p *PushState) Joined(user string) bool {
	_, ok := p.joined[user]
	return ok
}

// DisplayName is a joined member's display name in the room ("" if none).
func (p *PushState) DisplayName(user string) string { return p.joined[user] }

// UserLevel is user's power level, as the auth rules compute it.
func (p *PushState) UserLevel(user string) int64 {
	var creator string
	if p.create != nil {
		creator, _ = rawjson.LookupString(p.create, "sender")
		if p.version.PrivilegedCreators() && (user == creator || p.additionalCreator(user)) {
			return math.MaxInt64
		}
		if !p.version.CreatorInSender() {
			creator = pduContentString(p.create, "creator")
		}
	}
	if p.powerLevels == nil {
		if !p.version.PrivilegedCreators() && user == creator && creator != "" {
			return 100
		}
		return 0
	}
	return authrules.UserLevel(p.version, p.powerLevels, user)
}

func (p *PushState) additionalCreator(user string) bool {
	content, _ := rawjson.Lookup(p.create, "content")
	list, ok := rawjson.Lookup(content, "additional_creators")
	if !ok {
		return false
	}
	found := false
	rawjson.ArrayEach(list, func(el []byte) bool {
		found = rawjson.StringEquals(el, user)
		return !found
	})
	return found
}

// NotificationLevel is the power level notifications[key] requires.
func (p *PushState) NotificationLevel(key string) int64 {
	if notif, ok := rawjson.Lookup(p.powerLevels, "notifications"); ok && rawjson.IsObject(notif) {
		if v, ok := rawjson.Lookup(notif, key); ok {
			if l, ok := authrules.ParseLevel(p.version, v); ok {
				return l
			}
		}
	}
	return defaultNotificationLevel
}

// apply moves the state past a state event (redacted or not).
func (p *PushState) apply(ev *event.Event) {
	sk := ev.StateKey()
	if sk == nil {
		return
	}
	switch ev.Type() {
	case typeCreate:
		p.create = ev.Canonical()
	case typePowerLevels:
		if *sk == "" {
			p.powerLevels = ev.Content()
		}
	case typeMember:
		user := *sk
		if contentString(ev, "membership") != membershipJoin {
			delete(p.joined, user)
			delete(p.local, user)
			return
		}
		p.joined[user] = contentString(ev, "displayname")
		if strings.HasSuffix(user, ":"+p.serverName) {
			p.local[user] = struct{}{}
		}
	}
}

// pushStateOf builds the push state of a room's current state.
func pushStateOf(v roomversion.Version, serverName string, state map[authrules.StateKey]*event.Event) *PushState {
	p := newPushState(v, serverName)
	for k, ev := range state {
		if k.Type == typeMember || (k.Type == typeCreate || k.Type == typePowerLevels) && k.StateKey == "" {
			p.apply(ev)
		}
	}
	return p
}
