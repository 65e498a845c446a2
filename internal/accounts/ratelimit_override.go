package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/axonhs/axon/internal/storage"
)

// Rate-limit override errors.
var (
	ErrNotLocalUser        = errors.New("not a local user")
	ErrUnknownUser         = errors.New("unknown user")
	ErrInvalidRateOverride = errors.New("messages_per_second and burst_count must not be negative")
)

// RateLimitOverride is a user's own message rate limit (Synapse's
// ratelimit_override, set with the admin API). MessagesPerSecond 0 exempts
// the user from rate limits altogether.
type RateLimitOverride struct {
	MessagesPerSecond int64
	BurstCount        int64
}

// Exempt reports whether the override lifts the user's rate limits.
func (o RateLimitOverride) Exempt() bool { return o.MessagesPerSecond == 0 }

// OverrideStore is the storage of rate-limit overrides.
type OverrideStore interface {
	GetUser(ctx context.Context, userID string) (storage.User, error)
	RateLimitOverrides(ctx context.Context) ([]storage.RateLimitOverride, error)
	SetRateLimitOverride(ctx context.Context, o storage.RateLimitOverride) error
	DeleteRateLimitOverride(ctx context.Context, userID string) error
}

// RateLimitOverrides holds every user's override in memory, since rate
// limiters consult it on each request they count; the admin API changes
// it through Set and Delete, which update the database and the memory
// together.
type RateLimitOverrides struct {
	store      OverrideStore
	serverName string

	// writeMu orders writers so that memory ends up as the last write to
	// the database left it.
	writeMu sync.Mutex
	mu      sync.RWMutex
	byUser  map[string]RateLimitOverride
}

// LoadRateLimitOverrides reads the overrides of serverName's users.
func LoadRateLimitOverrides(ctx context.Context, store OverrideStore, serverName string) (*RateLimitOverrides, error) {
	rows, err := store.RateLimitOverrides(ctx)
	if err != nil {
		return nil, err
	}
	byUser := make(map[string]RateLimitOverride, len(rows))
	for _, r := range rows {
		byUser[r.UserID] = RateLimitOverride{MessagesPerSecond: r.MessagesPerSecond, BurstCount: r.BurstCount}
	}
	return &RateLimitOverrides{store: store, serverName: serverName, byUser: byUser}, nil
}

// Lookup returns a user's override, from memory.
func (r *RateLimitOverrides) Lookup(userID string) (RateLimitOverride, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	o, ok := r.byUser[userID]
	return o, ok
}

// Get returns a local user's override and whether there is one. It
// returns ErrNotLocalUser or ErrUnknownUser for a user it cannot have.
func (r *RateLimitOverrides) Get(ctx context.Context, userID string) (RateLimitOverride, bool, error) {
	if err := r.checkUser(ctx, userID); err != nil {
		return RateLimitOverride{}, false, err
	}
	o, ok := r.Lookup(userID)
	return o, ok, nil
}

// Set gives a local user an override, which rate limiters apply from the
// next request on.
func (r *RateLimitOverrides) Set(ctx context.Context, userID string, o RateLimitOverride) error {
	if o.MessagesPerSecond < 0 || o.BurstCount < 0 {
		return ErrInvalidRateOverride
	}
	if err := r.checkUser(ctx, userID); err != nil {
		return err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	err := r.store.SetRateLimitOverride(ctx, storage.RateLimitOverride{UserID: userID, MessagesPerSecond: o.MessagesPerSecond, BurstCount: o.BurstCount})
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byUser[userID] = o
	return nil
}

// Delete removes a local user's override, if any.
func (r *RateLimitOverrides) Delete(ctx context.Context, userID string) error {
	if err := r.checkUser(ctx, userID); err != nil {
		return err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.store.DeleteRateLimitOverride(ctx, userID); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byUser, userID)
	return nil
}

// checkUser accepts a user of this server that exists (deactivated or
// not), as Synapse does: a local user is anything whose part after the
// first colon is the server name.
func (r *RateLimitOverrides) checkUser(ctx context.Context, userID string) error {
	if _, server, ok := strings.Cut(userID, ":"); !ok || server != r.serverName {
		return ErrNotLocalUser
	}
	_, err := r.store.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrUnknownUser
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", userID, err)
	}
	return nil
}
