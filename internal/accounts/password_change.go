package accounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/axonhs/axon/internal/storage"
)

// CheckPassword checks a password for re-authentication (the
// m.login.password stage of User-Interactive Authentication). user is what
// the client typed: a full user ID or a localpart, in any case. It returns
// the user's ID, or ErrInvalidCredentials for an unknown user, a wrong
// password, an account without a password or a deactivated one.
func (s *Service) CheckPassword(ctx context.Context, user, password string) (string, error) {
	userID, err := s.resolveLoginUser(ctx, user)
	if err != nil {
		return "", err
	}
	u, err := s.store.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", ErrInvalidCredentials
	}
	if err != nil {
		return "", fmt.Errorf("load user %s: %w", userID, err)
	}
	if u.PasswordHash == "" || u.Deactivated {
		return "", ErrInvalidCredentials
	}
	ok, err := s.hasher.Check(u.PasswordHash, password)
	if err != nil {
		return "", fmt.Errorf("check password of %s: %w", userID, err)
	}
	if !ok {
		return "", ErrInvalidCredentials
	}
	return userID, nil
}

// HasPassword reports whether a user can re-authenticate with a password.
func (s *Service) HasPassword(ctx context.Context, userID string) (bool, error) {
	u, err := s.store.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load user %s: %w", userID, err)
	}
	return u.PasswordHash != "", nil
}

// PasswordChange is a user changing their password from a session.
type PasswordChange struct {
	UserID      string
	NewPassword string
	// LogoutDevices revokes every other session: all devices but DeviceID
	// and all access tokens but AccessToken (the one the request used).
	LogoutDevices bool
	DeviceID      string
	AccessToken   string
}

// ChangePassword sets a new password and, when asked, ends the user's
// other sessions, whose tokens stop working at once. The password and the
// revocation are one transaction.
func (s *Service) ChangePassword(ctx context.Context, c PasswordChange) error {
	hash, err := s.hasher.Hash(c.NewPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	var keep *storage.KeepSession
	if c.LogoutDevices {
		keep = &storage.KeepSession{DeviceID: c.DeviceID}
		if c.AccessToken != "" {
			keep.TokenHash = HashToken(c.AccessToken)
		}
	}
	var gone []string
	if c.LogoutDevices {
		gone = s.deviceIDsExcept(ctx, c.UserID, c.DeviceID)
	}
	hashes, err := s.store.SetPassword(ctx, c.UserID, hash, keep)
	if err != nil {
		return err
	}
	if c.LogoutDevices {
		s.tokens.forget(hashes)
		s.forgetSeen(c.UserID, nil, c.DeviceID)
		s.devicesChanged(ctx, c.UserID, gone)
	}
	return nil
}
