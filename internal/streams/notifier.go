package streams

import "sync"

// Notifier wakes the waiters of users: a room event wakes the users in
// the room, an account data change the user it belongs to. Waiting is
// a channel that is closed on the next wake-up, so a waiter takes the
// channel first, then checks the streams, then waits, and cannot miss a
// change that lands in between.
//
// Knowing who is in which room, it also answers which local users share
// a room, for presence, without the database.
type Notifier struct {
	mu        sync.Mutex
	wake      map[string]chan struct{}       // user → closed on their next wake-up
	roomUsers map[string]map[string]struct{} // room → local users in it
	userRooms map[string]map[string]struct{} // local user → rooms they are in
}

// NewNotifier returns an empty notifier.
func NewNotifier() *Notifier {
	return &Notifier{
		wake:      map[string]chan struct{}{},
		roomUsers: map[string]map[string]struct{}{},
		userRooms: map[string]map[string]struct{}{},
	}
}

// Listen returns a channel closed at user's next wake-up.
func (n *Notifier) Listen(user string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.wake[user]
	if !ok {
		ch = make(chan struct{})
		n.wake[user] = ch
	}
	return ch
}

// WakeUser wakes user's waiters.
func (n *Notifier) WakeUser(user string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeLocked(user)
}

func (n *Notifier) wakeLocked(user string) {
	if ch, ok := n.wake[user]; ok {
		close(ch)
		delete(n.wake, user)
	}
}

// WakeRoom wakes every user in room.
func (n *Notifier) WakeRoom(room string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for u := range n.roomUsers[room] {
		n.wakeLocked(u)
	}
}

// WakeSharers wakes user and every user who shares a room with them.
func (n *Notifier) WakeSharers(user string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeLocked(user)
	for room := range n.userRooms[user] {
		for u := range n.roomUsers[room] {
			n.wakeLocked(u)
		}
	}
}

// SetMember records whether user is in room (joined, or able to see its
// events), so room events wake them.
func (n *Notifier) SetMember(room, user string, in bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if in {
		addTo(n.roomUsers, room, user)
		addTo(n.userRooms, user, room)
		return
	}
	removeFrom(n.roomUsers, room, user)
	removeFrom(n.userRooms, user, room)
}

func addTo(index map[string]map[string]struct{}, key, value string) {
	set := index[key]
	if set == nil {
		set = map[string]struct{}{}
		index[key] = set
	}
	set[value] = struct{}{}
}

func removeFrom(index map[string]map[string]struct{}, key, value string) {
	set := index[key]
	delete(set, value)
	if len(set) == 0 {
		delete(index, key)
	}
}

// SharesRoom reports whether local users a and b are in a common room
// (a user shares one with themselves).
func (n *Notifier) SharesRoom(a, b string) bool {
	if a == b {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ra, rb := n.userRooms[a], n.userRooms[b]
	if len(rb) < len(ra) {
		ra, rb = rb, ra
	}
	for room := range ra {
		if _, ok := rb[room]; ok {
			return true
		}
	}
	return false
}

// Sharers calls fn once for user and once for each local user sharing a
// room with them. fn runs under the notifier's lock: it must not call
// back into the notifier.
func (n *Notifier) Sharers(user string, fn func(other string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fn(user)
	seen := map[string]struct{}{user: {}}
	for room := range n.userRooms[user] {
		for u := range n.roomUsers[room] {
			if _, ok := seen[u]; !ok {
				seen[u] = struct{}{}
				fn(u)
			}
		}
	}
}

// RoomMembers returns the local users in room.
func (n *Notifier) RoomMembers(room string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.roomUsers[room]))
	for u := range n.roomUsers[room] {
		out = append(out, u)
	}
	return out
}
