package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

// ErrUnknownToken means an access token is not (or no longer) valid.
var ErrUnknownToken = errors.New("unknown access token")

// ErrExpiredToken means an access token has expired. Its session still
// exists: the client may refresh the token or log in again on the same
// device (a soft logout).
var ErrExpiredToken = errors.New("access token expired")

// Requester is who made an authenticated request.
type Requester struct {
	UserID   string
	DeviceID string
	Guest    bool
}

// Authenticate returns who an access token belongs to, or ErrUnknownToken.
// For an expired token it returns ErrExpiredToken with the owner, which
// /logout accepts (as Synapse does). It is on every
// authenticated request, so tokens are served from memory after the first
// lookup; every path that revokes tokens goes through this service and
// drops them from the cache at once.
func (s *Service) Authenticate(ctx context.Context, token string) (Requester, error) {
	hash := HashToken(token)
	key := string(hash)
	owner, ok, gen := s.tokens.get(key)
	if ok {
		return owner.requester(), owner.check(s.now())
	}
	stored, err := s.store.LookupAccessToken(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		return Requester{}, ErrUnknownToken
	}
	if err != nil {
		return Requester{}, fmt.Errorf("authenticate: %w", err)
	}
	owner = tokenOwner(stored)
	if err := owner.check(s.now()); errors.Is(err, ErrExpiredToken) {
		return owner.requester(), err
	} else if err != nil {
		return Requester{}, err
	}
	if owner.RefreshTokenID != 0 && !owner.Used {
		// The first use of a token from a refresh revokes the refresh
		// token it replaced. When that revoked access tokens, the put
		// below is skipped (the generation moved) and the next request
		// looks the token up again, finding it used.
		if err := s.firstUse(ctx, hash, owner); err != nil {
			return Requester{}, fmt.Errorf("authenticate: %w", err)
		}
		owner.Used = true
	}
	s.tokens.put(key, owner, gen)
	return owner.requester(), nil
}

type tokenOwner storage.TokenOwner

// check returns nil for a token that may be used at now, ErrExpiredToken
// for an expired one and ErrUnknownToken for a deactivated user's.
func (o tokenOwner) check(now time.Time) error {
	switch {
	case o.Deactivated:
		return ErrUnknownToken
	case !o.ExpiresAt.IsZero() && !now.Before(o.ExpiresAt):
		return ErrExpiredToken
	}
	return nil
}

func (o tokenOwner) requester() Requester {
	return Requester{UserID: o.UserID, DeviceID: o.DeviceID, Guest: o.Guest}
}

// maxCachedTokens bounds the token cache; past it an arbitrary entry is
// dropped, which costs that token one database lookup.
const maxCachedTokens = 100_000

// tokenCache maps token digests to their owners. Only valid tokens are
// cached, so guessing tokens cannot fill it.
//
// A revocation deletes tokens in the database and then forgets them here.
// A lookup that read the database before the deletion committed could put
// a revoked token back after the forget; the generation, bumped by every
// forget, tells put that it raced and must not cache.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[string]tokenOwner
	gen     uint64
}

func newTokenCache() *tokenCache { return &tokenCache{entries: map[string]tokenOwner{}} }

// get returns the cached owner and the generation to pass to put.
func (c *tokenCache) get(key string) (tokenOwner, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.entries[key]
	return o, ok, c.gen
}

// put caches o unless a revocation happened since get returned gen.
func (c *tokenCache) put(key string, o tokenOwner, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxCachedTokens {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = o
}

func (c *tokenCache) forget(hashes [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, h := range hashes {
		delete(c.entries, string(h))
	}
}
