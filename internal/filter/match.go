package filter

import (
	"path"
	"slices"
)

// typeMatches reports whether an event type matches a filter pattern;
// the spec allows "*" as a wildcard ("m.room.*").
func typeMatches(pattern, typ string) bool {
	if pattern == typ {
		return true
	}
	ok, err := path.Match(pattern, typ)
	return err == nil && ok
}

// Matches reports whether an event of type typ sent by sender passes f. A
// nil filter passes everything.
func (f *EventFilter) Matches(typ, sender string) bool {
	if f == nil {
		return true
	}
	if slices.Contains(f.NotSenders, sender) {
		return false
	}
	if f.Senders != nil && !slices.Contains(f.Senders, sender) {
		return false
	}
	if slices.ContainsFunc(f.NotTypes, func(p string) bool { return typeMatches(p, typ) }) {
		return false
	}
	if f.Types != nil && !slices.ContainsFunc(f.Types, func(p string) bool { return typeMatches(p, typ) }) {
		return false
	}
	return true
}

// LimitOr returns the filter's limit, or def when it sets none, clamped to
// [1, max].
func (f *EventFilter) LimitOr(def, upper int) int {
	if f == nil || f.Limit == nil {
		return def
	}
	return int(min(max(*f.Limit, 1), int64(upper)))
}

// MatchesRoom reports whether roomID passes the rooms/not_rooms lists.
func (f *RoomEventFilter) MatchesRoom(roomID string) bool {
	if f == nil {
		return true
	}
	return roomListed(f.Rooms, f.NotRooms, roomID)
}

// MatchesEvent reports whether an event passes f. hasURL tells whether
// its content has a "url" key (contains_url).
func (f *RoomEventFilter) MatchesEvent(roomID, typ, sender string, hasURL bool) bool {
	if f == nil {
		return true
	}
	if !f.MatchesRoom(roomID) || !f.EventFilter.Matches(typ, sender) {
		return false
	}
	return f.ContainsURL == nil || *f.ContainsURL == hasURL
}

// LazyLoad reports whether lazy_load_members is on.
func (f *RoomEventFilter) LazyLoad() bool {
	return f != nil && f.LazyLoadMembers != nil && *f.LazyLoadMembers
}

// IncludesRoom reports whether the room filter lets roomID through.
func (f *RoomFilter) IncludesRoom(roomID string) bool {
	if f == nil {
		return true
	}
	return roomListed(f.Rooms, f.NotRooms, roomID)
}

// WantsLeave reports include_leave.
func (f *RoomFilter) WantsLeave() bool {
	return f != nil && f.IncludeLeave != nil && *f.IncludeLeave
}

func roomListed(rooms, notRooms []string, roomID string) bool {
	if slices.Contains(notRooms, roomID) {
		return false
	}
	return rooms == nil || slices.Contains(rooms, roomID)
}
