package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

// Refresh errors. Each means the refresh token cannot be used, but the
// device still exists, so the client may log in again on it (a soft
// logout).
var (
	ErrRefreshTokenExpired = errors.New("refresh token expired")
	ErrRefreshDisabled     = errors.New("refresh tokens are disabled")
	// ErrSessionEnded: the session_lifetime of the session has passed.
	ErrSessionEnded = errors.New("the session has ended and can no longer be refreshed")
)

// Lifetimes are how long tokens last, with Synapse's meanings: a nil
// duration is no expiry, except RefreshableAccessToken, where nil means
// refresh tokens are not issued.
type Lifetimes struct {
	RefreshableAccessToken    *time.Duration // refreshable_access_token_lifetime
	RefreshToken              *time.Duration // refresh_token_lifetime
	NonrefreshableAccessToken *time.Duration // nonrefreshable_access_token_lifetime
	// Session (session_lifetime) bounds a session from its login: no token
	// of it outlives login + Session, whatever the refreshes.
	Session *time.Duration
}

// SetLifetimes sets the token lifetimes; call it before serving. The zero
// Lifetimes (the default of New) issues no refresh tokens and access
// tokens that do not expire.
func (s *Service) SetLifetimes(l Lifetimes) { s.lifetimes = l }

// issueTokens makes the tokens of a new session (a login or registration)
// of userID on deviceID: an access token, and a refresh token when the
// client asked for one and refresh tokens are on. It returns the session
// to hand out and the token to store.
func (s *Service) issueTokens(userID, deviceID string, wantRefresh bool, now time.Time) (Session, storage.NewAccessToken, error) {
	var sessionEnd *time.Time
	if d := s.lifetimes.Session; d != nil {
		sessionEnd = new(now.Add(*d))
	}
	return s.mintTokens(userID, deviceID, wantRefresh && s.lifetimes.RefreshableAccessToken != nil, sessionEnd, now)
}

// mintTokens makes an access token and, with refresh, a refresh token for
// a session that ends at sessionEnd (nil: never). As in Synapse, no token
// outlives the session; the refresh token carries sessionEnd so that
// refreshing cannot extend it.
func (s *Service) mintTokens(userID, deviceID string, refresh bool, sessionEnd *time.Time, now time.Time) (Session, storage.NewAccessToken, error) {
	localpart := localpartOf(userID)
	session := Session{UserID: userID, DeviceID: deviceID}
	var (
		hash []byte
		err  error
	)
	if session.AccessToken, hash, err = newAccessToken(localpart); err != nil {
		return Session{}, storage.NewAccessToken{}, err
	}
	tok := storage.NewAccessToken{TokenHash: hash, UserID: userID, DeviceID: deviceID, CreatedAt: now}
	lifetime := s.lifetimes.NonrefreshableAccessToken
	if refresh {
		lifetime = s.lifetimes.RefreshableAccessToken
		var refreshHash []byte
		if session.RefreshToken, refreshHash, err = newRefreshToken(localpart); err != nil {
			return Session{}, storage.NewAccessToken{}, err
		}
		tok.Refresh = &storage.NewRefreshToken{TokenHash: refreshHash, SessionEndsAt: sessionEnd}
		tok.Refresh.ExpiresAt = expiry(now, s.lifetimes.RefreshToken, sessionEnd)
	}
	if tok.ExpiresAt = expiry(now, lifetime, sessionEnd); tok.ExpiresAt != nil {
		session.ExpiresIn = tok.ExpiresAt.Sub(now)
		session.Expires = true
	}
	return session, tok, nil
}

// expiry is when a token issued at now with lifetime (nil: forever)
// expires in a session that ends at sessionEnd (nil: never).
func expiry(now time.Time, lifetime *time.Duration, sessionEnd *time.Time) *time.Time {
	switch {
	case lifetime == nil:
		return sessionEnd
	case sessionEnd == nil:
		return new(now.Add(*lifetime))
	}
	return new(minTime(now.Add(*lifetime), *sessionEnd))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func localpartOf(userID string) string {
	if i := strings.IndexByte(userID, ':'); i > 0 {
		return strings.TrimPrefix(userID[:i], "@")
	}
	return strings.TrimPrefix(userID, "@")
}

// Refresh exchanges a refresh token for a new access token and refresh
// token on the same device (POST /refresh). The old refresh token stays
// usable until the new access token or refresh token is used, so that a
// client that lost the answer can retry; then it and the access tokens
// issued with it are revoked. The new tokens belong to the same session,
// which ends when it would have (session_lifetime). It returns
// ErrUnknownToken for a token that never existed or was revoked,
// ErrSessionEnded, ErrRefreshTokenExpired, or ErrRefreshDisabled.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	old, err := s.store.LookupRefreshToken(ctx, HashToken(refreshToken))
	if errors.Is(err, storage.ErrNotFound) {
		return Session{}, ErrUnknownToken
	}
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	switch {
	case old.Deactivated:
		return Session{}, ErrUnknownToken
	case !old.SessionEndsAt.IsZero() && !now.Before(old.SessionEndsAt):
		return Session{}, ErrSessionEnded
	case !old.ExpiresAt.IsZero() && !now.Before(old.ExpiresAt):
		return Session{}, ErrRefreshTokenExpired
	case s.lifetimes.RefreshableAccessToken == nil:
		return Session{}, ErrRefreshDisabled
	}
	var sessionEnd *time.Time
	if !old.SessionEndsAt.IsZero() {
		sessionEnd = &old.SessionEndsAt
	}
	session, tok, err := s.mintTokens(old.UserID, old.DeviceID, true, sessionEnd, now)
	if err != nil {
		return Session{}, err
	}
	revoked, err := s.store.RotateRefreshToken(ctx, old.ID, tok)
	if errors.Is(err, storage.ErrNotFound) {
		// Revoked since the lookup (a concurrent use or logout).
		return Session{}, ErrUnknownToken
	}
	if err != nil {
		return Session{}, fmt.Errorf("refresh for %s/%s: %w", old.UserID, old.DeviceID, err)
	}
	s.tokens.forget(revoked)
	return session, nil
}

// firstUse records the first use of an access token issued by a refresh,
// which revokes the refresh token it replaced.
func (s *Service) firstUse(ctx context.Context, hash []byte, o tokenOwner) error {
	revoked, err := s.store.UseAccessToken(ctx, hash, o.RefreshTokenID)
	if err != nil {
		return err
	}
	if len(revoked) > 0 {
		s.tokens.forget(revoked)
	}
	return nil
}
