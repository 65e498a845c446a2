package keybackup

import "sync"

// userLocks is a mutex per user, held only while someone uses it: an
// entry is dropped when its last holder or waiter leaves, so memory
// follows the users writing at the moment, not every user ever seen.
type userLocks struct {
	mu    sync.Mutex
	users map[string]*userLock
}

type userLock struct {
	sync.Mutex
	refs int // holders and waiters; guarded by userLocks.mu
}

// lock takes userID's lock and returns its release.
func (l *userLocks) lock(userID string) (unlock func()) {
	l.mu.Lock()
	if l.users == nil {
		l.users = map[string]*userLock{}
	}
	u := l.users[userID]
	if u == nil {
		u = &userLock{}
		l.users[userID] = u
	}
	u.refs++
	l.mu.Unlock()

	u.Lock()
	return func() {
		u.Unlock()
		l.mu.Lock()
		if u.refs--; u.refs == 0 {
			delete(l.users, userID)
		}
		l.mu.Unlock()
	}
}
