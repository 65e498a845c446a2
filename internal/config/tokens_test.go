package config

import (
	"testing"
	"time"
)

func TestTokenSettingsDefaults(t *testing.T) {
	c, d := parse(t, minimal)
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	tl := c.TokenLifetimes
	if tl.RefreshableAccessTokenLifetime == nil || *tl.RefreshableAccessTokenLifetime != 5*time.Minute ||
		tl.RefreshTokenLifetime != nil || tl.NonrefreshableAccessTokenLifetime != nil {
		t.Errorf("lifetimes %+v", tl)
	}
	if want := (LoginViaExistingSession{RequireUIAuth: true, TokenTimeout: 5 * time.Minute}); c.LoginViaExistingSession != want {
		t.Errorf("login_via_existing_session %+v, want %+v", c.LoginViaExistingSession, want)
	}
}

func TestTokenSettings(t *testing.T) {
	c, d := parse(t, minimal+`refreshable_access_token_lifetime: 10m
refresh_token_lifetime: 24h
nonrefreshable_access_token_lifetime: 90000
login_via_existing_session:
  enabled: true
  require_ui_auth: false
  token_timeout: 1m
`)
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	tl := c.TokenLifetimes
	if *tl.RefreshableAccessTokenLifetime != 10*time.Minute || *tl.RefreshTokenLifetime != 24*time.Hour || *tl.NonrefreshableAccessTokenLifetime != 90*time.Second {
		t.Errorf("lifetimes %v %v %v", *tl.RefreshableAccessTokenLifetime, *tl.RefreshTokenLifetime, *tl.NonrefreshableAccessTokenLifetime)
	}
	if want := (LoginViaExistingSession{Enabled: true, TokenTimeout: time.Minute}); c.LoginViaExistingSession != want {
		t.Errorf("login_via_existing_session %+v, want %+v", c.LoginViaExistingSession, want)
	}

	// null turns refresh tokens off.
	c, d = parse(t, minimal+"refreshable_access_token_lifetime: null\n")
	if len(d) != 0 || c.TokenLifetimes.RefreshableAccessTokenLifetime != nil {
		t.Errorf("null: %v %v", c.TokenLifetimes.RefreshableAccessTokenLifetime, d)
	}

	_, d = parse(t, minimal+"refresh_token_lifetime: soon\nlogin_via_existing_session:\n  token_timout: 1m\n")
	mustOne(t, d, "refresh_token_lifetime", Error, 3, "duration")
	mustOne(t, d, "login_via_existing_session.token_timout", Warning, 5, "")
}
