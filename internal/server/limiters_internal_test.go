package server

import (
	"context"
	"testing"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// The message limiter follows the admin API's overrides from the next
// request on, without a restart, and only it does.
func TestMessageLimiterAppliesOverrides(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Open(t, storagetest.NewOptions(t, "sqlite3"))
	const bob = "@bob:example.org"
	if err := db.CreateUser(ctx, storage.NewUser{UserID: bob}, nil, nil); err != nil {
		t.Fatal(err)
	}
	overrides, err := accounts.LoadRateLimitOverrides(ctx, db, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	limits := newLimiters(config.RateLimits{
		Message:      &config.RateLimit{PerSecond: 0.001, BurstCount: 2},
		LoginAccount: &config.RateLimit{PerSecond: 0.001, BurstCount: 2},
	}, overrides)
	burst := func(key string) int {
		n := 0
		for range 100 {
			if ok, _ := limits.Message.AllowFor(bob, key); ok {
				n++
			}
		}
		return n
	}
	if n := burst("before"); n != 2 {
		t.Fatalf("rc_message burst %d, want 2", n)
	}
	if err := overrides.Set(ctx, bob, accounts.RateLimitOverride{MessagesPerSecond: 1, BurstCount: 5}); err != nil {
		t.Fatal(err)
	}
	if n := burst("custom"); n != 5 {
		t.Fatalf("overridden burst %d, want 5", n)
	}
	if err := overrides.Set(ctx, bob, accounts.RateLimitOverride{}); err != nil {
		t.Fatal(err)
	}
	if n := burst("exempt"); n != 100 {
		t.Fatalf("exempt user allowed %d of 100", n)
	}
	// Synapse's login limits are keyed without a requester: no override.
	n := 0
	for range 10 {
		if ok, _ := limits.LoginAccount.Allow(bob); ok {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("rc_login.account allowed %d, want 2", n)
	}
	if err := overrides.Delete(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if n := burst("after delete"); n != 2 {
		t.Fatalf("burst after the override was deleted: %d, want 2", n)
	}
}
