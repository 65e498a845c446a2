package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

// ErrInvalidLoginToken means a login token is unknown, spent or expired.
var ErrInvalidLoginToken = errors.New("invalid login token")

// CreateLoginToken mints a single-use m.login.token token for userID,
// valid for ttl (POST /login/get_token).
func (s *Service) CreateLoginToken(ctx context.Context, userID string, ttl time.Duration) (string, error) {
	token, hash, err := newLoginToken(localpartOf(userID))
	if err != nil {
		return "", err
	}
	now := s.now()
	if err := s.store.CreateLoginToken(ctx, hash, userID, now, now.Add(ttl)); err != nil {
		return "", err
	}
	return token, nil
}

// LoginTokenUser returns whom a login token would log in, without
// spending it, or ErrInvalidLoginToken. The client API uses it to apply
// the per-account login rate limit before the token is spent.
func (s *Service) LoginTokenUser(ctx context.Context, token string) (string, error) {
	userID, err := s.store.LoginTokenUser(ctx, HashToken(token), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return "", ErrInvalidLoginToken
	}
	return userID, err
}

// TokenLoginRequest is an m.login.token login.
type TokenLoginRequest struct {
	Token             string
	DeviceID          string // "": a new device
	DeviceDisplayName string
	RefreshToken      bool // the client supports refresh tokens
}

// TokenLogin spends a login token and starts a session for its user. It
// returns ErrInvalidLoginToken for an unknown, spent or expired token and
// ErrUserDeactivated when the user has been deactivated since.
func (s *Service) TokenLogin(ctx context.Context, req TokenLoginRequest) (Session, error) {
	userID, err := s.store.ConsumeLoginToken(ctx, HashToken(req.Token), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return Session{}, ErrInvalidLoginToken
	}
	if err != nil {
		return Session{}, err
	}
	user, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return Session{}, fmt.Errorf("load user %s: %w", userID, err)
	}
	if user.Deactivated {
		return Session{}, ErrUserDeactivated
	}
	return s.startSession(ctx, userID, req.DeviceID, req.DeviceDisplayName, req.RefreshToken)
}
