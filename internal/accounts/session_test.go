package accounts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// clock is a settable time for the service under test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// clockedService is a service on a fresh database whose clock the test
// moves, with alice registered (password "pw") and no session yet.
func clockedService(t *testing.T, opts storage.Options, l accounts.Lifetimes) (*accounts.Service, *storage.DB, *clock) {
	t.Helper()
	svc, db := newService(t, opts)
	c := &clock{t: time.UnixMilli(1_700_000_000_000)}
	svc.SetClock(c.now)
	svc.SetLifetimes(l)
	if _, err := svc.Register(context.Background(), accounts.NewAccount{Localpart: "alice", Password: "pw", NoSession: true}); err != nil {
		t.Fatal(err)
	}
	return svc, db, c
}

func loginOn(t *testing.T, svc *accounts.Service, device string, refresh bool) accounts.Session {
	t.Helper()
	s, err := svc.Login(context.Background(), accounts.LoginRequest{User: "alice", Password: "pw", DeviceID: device, RefreshToken: refresh})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authErr(svc *accounts.Service, token string) error {
	_, err := svc.Authenticate(context.Background(), token)
	return err
}

func TestSessionLifetime(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, _, c := clockedService(t, opts, accounts.Lifetimes{
			RefreshableAccessToken: new(time.Hour),
			Session:                new(24 * time.Hour),
		})

		// Without refresh tokens the access token lasts as long as the session.
		plain := loginOn(t, svc, "PLAIN", false)
		if !plain.Expires || plain.ExpiresIn != 24*time.Hour || plain.RefreshToken != "" {
			t.Fatalf("session without refresh: %+v", plain)
		}
		refreshed := loginOn(t, svc, "REFRESHED", true)
		if !refreshed.Expires || refreshed.ExpiresIn != time.Hour || refreshed.RefreshToken == "" {
			t.Fatalf("session with refresh: %+v", refreshed)
		}

		// Refreshing near the end of the session: the new access token
		// does not outlive it.
		c.advance(23*time.Hour + 30*time.Minute)
		next, err := svc.Refresh(ctx, refreshed.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if next.ExpiresIn != 30*time.Minute {
			t.Fatalf("refreshed access token lasts %v, want the 30m left of the session", next.ExpiresIn)
		}
		if err := authErr(svc, plain.AccessToken); err != nil {
			t.Fatalf("session still running: %v", err)
		}

		// At the end of the session nothing works, and refreshing cannot
		// extend it; the device still exists (a soft logout).
		c.advance(30 * time.Minute)
		for name, tok := range map[string]string{"plain": plain.AccessToken, "refreshed": next.AccessToken} {
			if err := authErr(svc, tok); !errors.Is(err, accounts.ErrExpiredToken) {
				t.Errorf("%s access token after the session: %v, want ErrExpiredToken", name, err)
			}
		}
		if _, err := svc.Refresh(ctx, next.RefreshToken); !errors.Is(err, accounts.ErrSessionEnded) {
			t.Fatalf("refresh after the session: %v, want ErrSessionEnded", err)
		}
		if _, err := svc.Device(ctx, plain.UserID, "REFRESHED"); err != nil {
			t.Fatalf("device gone with its session: %v", err)
		}

		// A new login starts a new session on the same device.
		again := loginOn(t, svc, "REFRESHED", true)
		if again.ExpiresIn != time.Hour || authErr(svc, again.AccessToken) != nil {
			t.Fatalf("new login: %+v", again)
		}
	})
}

func TestSessionLifetimeCapsOtherLifetimes(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		svc, _, c := clockedService(t, opts, accounts.Lifetimes{
			RefreshableAccessToken:    new(10 * time.Minute),
			RefreshToken:              new(2 * time.Hour),
			NonrefreshableAccessToken: new(time.Hour),
			Session:                   new(90 * time.Minute),
		})
		if s := loginOn(t, svc, "PLAIN", false); s.ExpiresIn != time.Hour {
			t.Fatalf("nonrefreshable lifetime below the session's: expires in %v", s.ExpiresIn)
		}
		s := loginOn(t, svc, "REFRESHED", true)
		// The refresh token would last 2h, but the session ends at 90m.
		c.advance(90*time.Minute - time.Millisecond)
		last, err := svc.Refresh(context.Background(), s.RefreshToken)
		if err != nil || last.ExpiresIn != time.Millisecond {
			t.Fatalf("last refresh: %+v %v", last, err)
		}
		c.advance(time.Millisecond)
		if _, err := svc.Refresh(context.Background(), last.RefreshToken); !errors.Is(err, accounts.ErrSessionEnded) {
			t.Fatalf("refresh after the session: %v", err)
		}
	})
}

func TestReloginOnADeviceRevokesItsTokens(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, _, _ := clockedService(t, opts, accounts.Lifetimes{RefreshableAccessToken: new(time.Hour)})
		first, err := svc.Login(ctx, accounts.LoginRequest{User: "alice", Password: "pw", DeviceID: "PHONE", DeviceDisplayName: "Phone", RefreshToken: true})
		if err != nil {
			t.Fatal(err)
		}
		other := loginOn(t, svc, "LAPTOP", false)
		// Cached, so the revocation must reach the cache.
		if err := authErr(svc, first.AccessToken); err != nil {
			t.Fatal(err)
		}

		second, err := svc.Login(ctx, accounts.LoginRequest{User: "alice", Password: "pw", DeviceID: "PHONE", DeviceDisplayName: "Renamed"})
		if err != nil {
			t.Fatal(err)
		}
		if err := authErr(svc, first.AccessToken); !errors.Is(err, accounts.ErrUnknownToken) {
			t.Fatalf("old access token after a new login on its device: %v", err)
		}
		if _, err := svc.Refresh(ctx, first.RefreshToken); !errors.Is(err, accounts.ErrUnknownToken) {
			t.Fatalf("old refresh token after a new login on its device: %v", err)
		}
		if authErr(svc, second.AccessToken) != nil || authErr(svc, other.AccessToken) != nil {
			t.Fatal("the new session or another device's was revoked")
		}
		// initial_device_display_name is ignored for a known device.
		if d, err := svc.Device(ctx, first.UserID, "PHONE"); err != nil || d.DisplayName != "Phone" {
			t.Fatalf("device %+v %v", d, err)
		}
	})
}

func TestCleanupExpiredTokens(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		svc, _, c := clockedService(t, opts, accounts.Lifetimes{
			RefreshableAccessToken:    new(time.Hour),
			RefreshToken:              new(2 * time.Hour),
			NonrefreshableAccessToken: new(time.Hour),
		})
		plain := loginOn(t, svc, "PLAIN", false)      // expires at 1h
		expiring := loginOn(t, svc, "EXPIRING", true) // access 1h, refresh 2h
		svc.SetLifetimes(accounts.Lifetimes{RefreshableAccessToken: new(time.Hour)})
		lasting := loginOn(t, svc, "LASTING", true) // access 1h, refresh forever
		loginToken, err := svc.CreateLoginToken(ctx, plain.UserID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := authErr(svc, plain.AccessToken); err != nil { // cached
			t.Fatal(err)
		}

		cleanup := func(want accounts.CleanupStats) {
			t.Helper()
			got, err := svc.CleanupExpiredTokens(ctx)
			if err != nil || got != want {
				t.Fatalf("cleanup at +%v deleted %+v (err %v), want %+v", c.t.Sub(time.UnixMilli(1_700_000_000_000)), got, err, want)
			}
		}
		// Login tokens go five minutes after they expire, as in Synapse.
		c.advance(6 * time.Minute)
		cleanup(accounts.CleanupStats{LoginTokens: 1})
		if _, err := svc.LoginTokenUser(ctx, loginToken); !errors.Is(err, accounts.ErrInvalidLoginToken) {
			t.Fatalf("login token: %v", err)
		}

		// Until the retention has passed, expired tokens are kept: they
		// still get the soft-logout answer and may log out.
		c.advance(time.Hour + accounts.ExpiredTokenRetention - 6*time.Minute - time.Millisecond)
		cleanup(accounts.CleanupStats{})
		if err := authErr(svc, plain.AccessToken); !errors.Is(err, accounts.ErrExpiredToken) {
			t.Fatalf("expired access token: %v", err)
		}
		c.advance(time.Millisecond)
		cleanup(accounts.CleanupStats{AccessTokens: 1})
		if err := authErr(svc, plain.AccessToken); !errors.Is(err, accounts.ErrUnknownToken) {
			t.Fatalf("deleted access token (cached before): %v", err)
		}

		// A refresh token goes, with its access token, once it has been
		// expired for the retention too.
		c.advance(time.Hour - time.Millisecond)
		cleanup(accounts.CleanupStats{})
		c.advance(time.Millisecond)
		cleanup(accounts.CleanupStats{AccessTokens: 1, RefreshTokens: 1})
		if err := authErr(svc, expiring.AccessToken); !errors.Is(err, accounts.ErrUnknownToken) {
			t.Fatalf("access token of a deleted refresh token: %v", err)
		}
		if _, err := svc.Refresh(ctx, expiring.RefreshToken); !errors.Is(err, accounts.ErrUnknownToken) {
			t.Fatalf("deleted refresh token: %v", err)
		}

		// A session whose refresh token never expires is kept however long
		// its access token has been expired.
		c.advance(365 * 24 * time.Hour)
		cleanup(accounts.CleanupStats{})
		if err := authErr(svc, lasting.AccessToken); !errors.Is(err, accounts.ErrExpiredToken) {
			t.Fatalf("access token of a live session: %v", err)
		}
		if _, err := svc.Refresh(ctx, lasting.RefreshToken); err != nil {
			t.Fatalf("live refresh token: %v", err)
		}
	})
}

func TestRateLimitOverrides(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		_, db, _ := clockedService(t, opts, accounts.Lifetimes{})
		const alice = "@alice:example.org"
		o, err := accounts.LoadRateLimitOverrides(ctx, db, "example.org")
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Set(ctx, alice, accounts.RateLimitOverride{MessagesPerSecond: 3, BurstCount: 7}); err != nil {
			t.Fatal(err)
		}
		if got, ok := o.Lookup(alice); !ok || got != (accounts.RateLimitOverride{MessagesPerSecond: 3, BurstCount: 7}) {
			t.Fatalf("lookup after set: %+v %v", got, ok)
		}
		// Stored: a restart reads it back.
		reloaded, err := accounts.LoadRateLimitOverrides(ctx, db, "example.org")
		if err != nil {
			t.Fatal(err)
		}
		if got, ok, err := reloaded.Get(ctx, alice); err != nil || !ok || got.MessagesPerSecond != 3 || got.BurstCount != 7 {
			t.Fatalf("after reload: %+v %v %v", got, ok, err)
		}
		if err := reloaded.Delete(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if _, ok := reloaded.Lookup(alice); ok {
			t.Fatal("deleted override still applies")
		}
		again, err := accounts.LoadRateLimitOverrides(ctx, db, "example.org")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := again.Lookup(alice); ok {
			t.Fatal("deleted override still stored")
		}

		for user, want := range map[string]error{
			"@bob:example.org":   accounts.ErrUnknownUser,
			"@alice:example.com": accounts.ErrNotLocalUser,
			"alice":              accounts.ErrNotLocalUser,
		} {
			if err := o.Set(ctx, user, accounts.RateLimitOverride{}); !errors.Is(err, want) {
				t.Errorf("set for %s: %v, want %v", user, err, want)
			}
		}
		if err := o.Set(ctx, alice, accounts.RateLimitOverride{MessagesPerSecond: -1}); !errors.Is(err, accounts.ErrInvalidRateOverride) {
			t.Errorf("negative rate: %v", err)
		}
	})
}
