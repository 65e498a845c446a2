package streams

import "sync"

// Notifier wakes the waiters of users: a room event wakes the users in
// the room, an account data change the user it belongs to. Waiting is
// a channel that is closed on the next wake-up, so a waiter takes the
// channel first, then checks the streams, then waits, and cannot miss a
// change that lands in between.
type Notifier struct {
	mu        sync.Mutex
	wake      map[string]chan struct{}       // user → closed on their next wake-up
	roomUsers map[string]map[string]struct{} // room → local users in it
}

// NewNotifier returns an empty notifier.
func NewNotifier() *Notifier {
	return &Notifier{wake: map[string]chan struct{}{}, roomUsers: map[string]map[string]struct{}{}}
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

// SetMember records whether user is in room (joined, or able to see its
// events), so room events wake them.
func (n *Notifier) SetMember(room, user string, in bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	users := n.roomUsers[room]
	if in {
		if users == nil {
			users = map[string]struct{}{}
			n.roomUsers[room] = users
		}
		users[user] = struct{}{}
		return
	}
	delete(users, user)
	if len(users) == 0 {
		delete(n.roomUsers, room)
	}
}
