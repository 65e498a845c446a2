package rooms

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// maxPushDeltas bounds how many state-group deltas PushStateAt applies to
// an earlier result before it reads the whole state instead.
const maxPushDeltas = 16

// defaultNotificationLevel is the level a notifications key requires when
// the power levels do not say (spec: m.room.power_levels).
const defaultNotificationLevel = 50

// PushState is a room's state after one event, as push rule evaluation
// reads it: the joined members with their display names, and what decides
// power levels. It is immutable.
type PushState struct {
	group       int64
	version     roomversion.Version
	create      []byte // the m.room.create PDU
	powerLevels []byte // content of m.room.power_levels; nil without one
	joined      map[string]string
	local       []string // joined users of this server, sorted
}

// Group is the state group the state is that of.
func (p *PushState) Group() int64 { return p.group }

// MemberCount is the number of joined members.
func (p *PushState) MemberCount() int { return len(p.joined) }

// JoinedLocal lists the joined members of this server, sorted. The slice
// is shared: do not modify it.
func (p *PushState) JoinedLocal() []string { return p.local }

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

// pushKey reports whether a piece of state matters to PushState.
func pushKey(k authrules.StateKey) bool {
	return k.Type == typeMember || (k.Type == typePowerLevels || k.Type == typeCreate) && k.StateKey == ""
}

// PushStateAt returns the state of roomID in state group group (the state
// after an event). prev, when not nil, is an earlier result for the same
// room: if group descends from prev's group by a few deltas, only those
// are read, so following a room event by event costs a query per state
// change rather than one per member.
func (s *Service) PushStateAt(ctx context.Context, roomID string, group int64, prev *PushState) (*PushState, error) {
	if prev != nil && prev.group == group {
		return prev, nil
	}
	if prev != nil {
		deltas, ok, err := s.deltasSince(ctx, group, prev.group, maxPushDeltas, pushKey)
		if err != nil {
			return nil, err
		}
		if ok {
			return s.applyPushState(ctx, prev.clone(group), deltas)
		}
	}
	r, err := s.room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	v := r.version
	r.mu.Unlock()
	state, err := s.stateAt(ctx, group)
	if err != nil {
		return nil, err
	}
	entries := map[authrules.StateKey]string{}
	for k, id := range state {
		if pushKey(k) {
			entries[k] = id
		}
	}
	p := &PushState{group: group, version: v, joined: map[string]string{}}
	return s.applyPushState(ctx, p, entries)
}

func (p *PushState) clone(group int64) *PushState {
	return &PushState{group: group, version: p.version, create: p.create, powerLevels: p.powerLevels,
		joined: maps.Clone(p.joined), local: p.local}
}

// applyPushState reads the events of entries into p.
func (s *Service) applyPushState(ctx context.Context, p *PushState, entries map[authrules.StateKey]string) (*PushState, error) {
	if len(entries) == 0 {
		return p, nil
	}
	rows, err := s.db.EventsByID(ctx, slices.Collect(maps.Values(entries)))
	if err != nil {
		return nil, err
	}
	membersChanged := false
	for _, row := range rows {
		if row.StateKey == nil {
			continue
		}
		switch row.Type {
		case typeCreate:
			p.create = row.PDU
		case typePowerLevels:
			p.powerLevels, _ = rawjson.Lookup(row.PDU, "content")
		case typeMember:
			membersChanged = true
			if pduContentString(row.PDU, "membership") == membershipJoin {
				p.joined[*row.StateKey] = pduContentString(row.PDU, "displayname")
			} else {
				delete(p.joined, *row.StateKey)
			}
		}
	}
	if membersChanged || p.local == nil {
		suffix := ":" + s.signer.ServerName
		p.local = make([]string, 0, len(p.joined))
		for u := range p.joined {
			if strings.HasSuffix(u, suffix) {
				p.local = append(p.local, u)
			}
		}
		slices.Sort(p.local)
	}
	return p, nil
}
