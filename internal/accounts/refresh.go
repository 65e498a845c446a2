package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

// Refresh errors. Both mean the refresh token cannot be used; with
// ErrRefreshTokenExpired (and ErrRefreshDisabled) the device still exists,
// so the client may log in again on it (a soft logout).
var (
	ErrRefreshTokenExpired = errors.New("refresh token expired")
	ErrRefreshDisabled     = errors.New("refresh tokens are disabled")
)

// Lifetimes are how long tokens last, with Synapse's meanings: a nil
// duration is no expiry, except RefreshableAccessToken, where nil means
// refresh tokens are not issued.
type Lifetimes struct {
	RefreshableAccessToken    *time.Duration // refreshable_access_token_lifetime
	RefreshToken              *time.Duration // refresh_token_lifetime
	NonrefreshableAccessToken *time.Duration // nonrefreshable_access_token_lifetime
}

// SetLifetimes sets the token lifetimes; call it before serving. The zero
// Lifetimes (the default of New) issues no refresh tokens and access
// tokens that do not expire.
func (s *Service) SetLifetimes(l Lifetimes) { s.lifetimes = l }

// issueTokens makes the tokens of a session of userID on deviceID: an
// access token, and a refresh token when the client asked for one and
// refresh tokens are on. It returns the session to hand out and the
// token to store.
func (s *Service) issueTokens(userID, deviceID string, wantRefresh bool, now time.Time) (Session, storage.NewAccessToken, error) {
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
	if wantRefresh && s.lifetimes.RefreshableAccessToken != nil {
		lifetime = s.lifetimes.RefreshableAccessToken
		var refreshHash []byte
		if session.RefreshToken, refreshHash, err = newRefreshToken(localpart); err != nil {
			return Session{}, storage.NewAccessToken{}, err
		}
		tok.Refresh = &storage.NewRefreshToken{TokenHash: refreshHash}
		if d := s.lifetimes.RefreshToken; d != nil {
			tok.Refresh.ExpiresAt = new(now.Add(*d))
		}
	}
	if lifetime != nil {
		tok.ExpiresAt = new(now.Add(*lifetime))
		session.ExpiresIn = *lifetime
		session.Expires = true
	}
	return session, tok, nil
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
// issued with it are revoked. It returns ErrUnknownToken for a token that
// never existed or was revoked, ErrRefreshTokenExpired, or
// ErrRefreshDisabled.
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
	case !old.ExpiresAt.IsZero() && !now.Before(old.ExpiresAt):
		return Session{}, ErrRefreshTokenExpired
	case s.lifetimes.RefreshableAccessToken == nil:
		return Session{}, ErrRefreshDisabled
	}
	session, tok, err := s.issueTokens(old.UserID, old.DeviceID, true, now)
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
