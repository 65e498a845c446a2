package keys

import (
	"cmp"
	"slices"
	"sync"
)

// maxLoggedChanges bounds the device-list changes kept in memory; older
// tokens read the database.
const maxLoggedChanges = 16384

// changeLog holds the recent device-list changes, so that syncs whose
// token is recent (nearly all) need no query.
type changeLog struct {
	mu sync.Mutex
	// floor: every change at a position above it is logged.
	floor   int64
	entries []change // ascending by position
}

// change is a user's device change, or (signer set) a signature by signer
// on user's master key.
type change struct {
	pos          int64
	user, signer string
}

func newChangeLog(floor int64) changeLog { return changeLog{floor: floor} }

// add logs a change. Positions may arrive out of order (writers finish
// in any order); they are kept sorted.
func (l *changeLog) add(pos int64, user, signer string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := change{pos: pos, user: user, signer: signer}
	i, _ := slices.BinarySearchFunc(l.entries, pos, byPos)
	l.entries = slices.Insert(l.entries, i, c)
	if len(l.entries) > maxLoggedChanges {
		drop := len(l.entries) - maxLoggedChanges
		l.floor = l.entries[drop-1].pos
		l.entries = slices.Delete(l.entries, 0, drop)
	}
}

// since answers Service.Changed from memory; ok is false when after is
// older than the log.
func (l *changeLog) since(signer string, after, upTo int64) (changed, signed []string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after < l.floor {
		return nil, nil, false
	}
	seen := map[string]bool{}
	start, _ := slices.BinarySearchFunc(l.entries, after+1, byPos)
	for _, e := range l.entries[start:] {
		if e.pos > upTo {
			break
		}
		switch {
		case e.signer == "" && !seen[e.user]:
			seen[e.user] = true
			changed = append(changed, e.user)
		case e.signer == signer:
			signed = append(signed, e.user)
		}
	}
	return changed, signed, true
}

func byPos(e change, pos int64) int { return cmp.Compare(e.pos, pos) }
