package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of the token settings, as Synapse's.
const (
	DefaultRefreshableAccessTokenLifetime = 5 * time.Minute
	DefaultLoginTokenTimeout              = 5 * time.Minute
)

// TokenLifetimes are the access and refresh token lifetimes. A nil
// duration means Synapse's null: no expiry, except for
// RefreshableAccessTokenLifetime, where nil turns refresh tokens off.
type TokenLifetimes struct {
	// RefreshableAccessTokenLifetime (refreshable_access_token_lifetime,
	// default 5m): how long an access token issued with a refresh token
	// lasts. nil: refresh tokens are not issued.
	RefreshableAccessTokenLifetime *time.Duration
	// RefreshTokenLifetime (refresh_token_lifetime): how long a refresh
	// token stays usable if not exchanged. nil: forever.
	RefreshTokenLifetime *time.Duration
	// NonrefreshableAccessTokenLifetime (nonrefreshable_access_token_lifetime):
	// how long an access token issued without a refresh token lasts. nil:
	// forever.
	NonrefreshableAccessTokenLifetime *time.Duration
	// SessionLifetime (session_lifetime): how long a session lasts after
	// login, refreshes included; then the user must log in again. It caps
	// the other lifetimes. nil: forever.
	SessionLifetime *time.Duration
}

// LoginViaExistingSession is the login_via_existing_session section:
// POST /login/get_token, which mints m.login.token tokens.
type LoginViaExistingSession struct {
	Enabled       bool          // default false
	RequireUIAuth bool          // default true
	TokenTimeout  time.Duration // default 5m
}

func defaultLoginViaExistingSession() LoginViaExistingSession {
	return LoginViaExistingSession{RequireUIAuth: true, TokenTimeout: DefaultLoginTokenTimeout}
}

// tokenLifetime returns the handler of a token lifetime key; null sets
// the field to nil.
func tokenLifetime(field func(*TokenLifetimes) **time.Duration) func(l *loader, e entry, path string) {
	return func(l *loader, e entry, path string) {
		if l.tokenKeys == nil {
			l.tokenKeys = map[string]*yaml.Node{}
		}
		l.tokenKeys[path] = e.val
		dst := field(&l.c.TokenLifetimes)
		if isNull(e.val) {
			*dst = nil
			return
		}
		if d, ok := l.w.duration(e.val, path); ok {
			*dst = &d
		}
	}
}

// checkSessionLifetime refuses, as Synapse does, a token lifetime longer
// than session_lifetime. Synapse compares refreshable_access_token_lifetime
// only when the file sets it, so its 5m default never conflicts.
func (l *loader) checkSessionLifetime() {
	tl := l.c.TokenLifetimes
	if tl.SessionLifetime == nil {
		return
	}
	for _, k := range []struct {
		key string
		d   *time.Duration
	}{
		{"refreshable_access_token_lifetime", tl.RefreshableAccessTokenLifetime},
		{"nonrefreshable_access_token_lifetime", tl.NonrefreshableAccessTokenLifetime},
		{"refresh_token_lifetime", tl.RefreshTokenLifetime},
	} {
		n, given := l.tokenKeys[k.key]
		if given && k.d != nil && *k.d > *tl.SessionLifetime {
			l.w.errorf(n, k.key, "%s exceeds session_lifetime (%s): a token cannot outlive the session it belongs to", *k.d, *tl.SessionLifetime)
		}
	}
}

func (l *loader) loginViaExistingSession(e entry, path string) {
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	s := &l.c.LoginViaExistingSession
	for _, se := range entries {
		p := child(path, se.key)
		switch se.key {
		case "enabled":
			l.optBool(se, p, &s.Enabled)
		case "require_ui_auth":
			l.optBool(se, p, &s.RequireUIAuth)
		case "token_timeout":
			if !isNull(se.val) {
				if d, ok := l.w.duration(se.val, p); ok {
					s.TokenTimeout = d
				}
			}
		default:
			l.w.unknown(se, p, []string{"enabled", "require_ui_auth", "token_timeout"})
		}
	}
}
