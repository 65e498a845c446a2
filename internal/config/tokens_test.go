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

func TestSessionLifetime(t *testing.T) {
	c, d := parse(t, minimal+"session_lifetime: 24h\nrefresh_token_lifetime: 1h\n")
	if len(d) != 0 || c.TokenLifetimes.SessionLifetime == nil || *c.TokenLifetimes.SessionLifetime != 24*time.Hour {
		t.Fatalf("session_lifetime %v, diagnostics %v", c.TokenLifetimes.SessionLifetime, d)
	}
	if c, d := parse(t, minimal+"session_lifetime: null\n"); len(d) != 0 || c.TokenLifetimes.SessionLifetime != nil {
		t.Fatalf("null: %v %v", c.TokenLifetimes.SessionLifetime, d)
	}

	// As in Synapse, no lifetime may exceed the session's, but the default
	// refreshable_access_token_lifetime (5m) is not compared.
	_, d = parse(t, minimal+"session_lifetime: 1m\n")
	if len(d) != 0 {
		t.Fatalf("default refreshable lifetime compared: %v", d)
	}
	_, d = parse(t, minimal+`session_lifetime: 1h
refreshable_access_token_lifetime: 2h
nonrefreshable_access_token_lifetime: 1h
refresh_token_lifetime: 1d
`)
	mustOne(t, d, "refreshable_access_token_lifetime", Error, 4, "exceeds session_lifetime")
	mustOne(t, d, "refresh_token_lifetime", Error, 6, "exceeds session_lifetime")
	if got := find(d, "nonrefreshable_access_token_lifetime"); len(got) != 0 {
		t.Fatalf("equal lifetime refused: %v", got)
	}
	_, d = parse(t, minimal+"nonrefreshable_access_token_lifetime: 2h\nsession_lifetime: 1h\n")
	mustOne(t, d, "nonrefreshable_access_token_lifetime", Error, 3, "exceeds session_lifetime")
}
