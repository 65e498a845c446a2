package streams

import (
	"slices"
	"sync"
)

// Sequence hands out positions of one stream to concurrent writers and
// reports the highest position below which every write has finished, so
// a reader never skips a position whose write commits late.
type Sequence struct {
	mu       sync.Mutex
	next     int64   // the last position handed out
	pending  []int64 // handed out, not finished, ascending
	complete int64   // every position <= complete has finished
}

// NewSequence starts after position last.
func NewSequence(last int64) *Sequence {
	return &Sequence{next: last, complete: last}
}

// Reserve returns the next position; call Finish with it once the write
// has committed or failed.
func (s *Sequence) Reserve() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.pending = append(s.pending, s.next)
	return s.next
}

// Finish marks pos as finished.
func (s *Sequence) Finish(pos int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.pending, pos); i >= 0 {
		s.pending = slices.Delete(s.pending, i, i+1)
	}
	if len(s.pending) == 0 {
		s.complete = s.next
	} else {
		s.complete = s.pending[0] - 1
	}
}

// Current is the highest position at or below which all writes finished.
func (s *Sequence) Current() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.complete
}
