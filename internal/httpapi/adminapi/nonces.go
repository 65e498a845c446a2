package adminapi

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// nonceLifetime is how long a registration nonce stays valid, as in Synapse.
const nonceLifetime = 60 * time.Second

// maxNonces bounds memory if someone requests nonces in a loop.
const maxNonces = 10_000

// nonceStore hands out single-use nonces that expire.
type nonceStore struct {
	mu     sync.Mutex
	issued map[string]time.Time
	now    func() time.Time
}

func newNonceStore() *nonceStore {
	return &nonceStore{issued: map[string]time.Time{}, now: time.Now}
}

func (s *nonceStore) issue() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	nonce := hex.EncodeToString(b[:])

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.issued) >= maxNonces {
		s.expire(now)
	}
	if len(s.issued) >= maxNonces {
		// Still full of live nonces: forget the oldest.
		var oldest string
		for n, t := range s.issued {
			if oldest == "" || t.Before(s.issued[oldest]) {
				oldest = n
			}
		}
		delete(s.issued, oldest)
	}
	s.issued[nonce] = now
	return nonce
}

// consume reports whether nonce was issued and is still fresh, and makes it
// unusable either way.
func (s *nonceStore) consume(nonce string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	issuedAt, ok := s.issued[nonce]
	if !ok {
		return false
	}
	delete(s.issued, nonce)
	return s.now().Sub(issuedAt) <= nonceLifetime
}

func (s *nonceStore) expire(now time.Time) {
	for n, t := range s.issued {
		if now.Sub(t) > nonceLifetime {
			delete(s.issued, n)
		}
	}
}
