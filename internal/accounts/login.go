package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/axonhs/axon/internal/storage"
)

// Login errors.
var (
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrUserDeactivated    = errors.New("user account has been deactivated")
	// ErrDeviceIDInUse: the device ID asked for is the name of one of the
	// user's cross-signing keys, which share the namespace of devices.
	ErrDeviceIDInUse = errors.New("the device ID is in use")
)

// LoginRequest is a password login.
type LoginRequest struct {
	// User is a full user ID or a localpart, in any case.
	User              string
	Password          string
	DeviceID          string // "": a new device
	DeviceDisplayName string
	RefreshToken      bool // the client supports refresh tokens
}

// Login checks a password and starts a session on a new or existing device.
func (s *Service) Login(ctx context.Context, req LoginRequest) (Session, error) {
	userID, err := s.resolveLoginUser(ctx, req.User)
	if err != nil {
		return Session{}, err
	}
	user, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return Session{}, fmt.Errorf("load user %s: %w", userID, err)
	}
	if user.PasswordHash == "" {
		return Session{}, ErrInvalidCredentials
	}
	ok, err := s.hasher.Check(user.PasswordHash, req.Password)
	if err != nil {
		return Session{}, fmt.Errorf("check password of %s: %w", userID, err)
	}
	if !ok {
		return Session{}, ErrInvalidCredentials
	}
	// Checked after the password so the answer does not reveal which
	// accounts are deactivated to someone who does not know the password.
	if user.Deactivated {
		return Session{}, ErrUserDeactivated
	}
	return s.startSession(ctx, userID, req.DeviceID, req.DeviceDisplayName, req.RefreshToken)
}

// resolveLoginUser maps what the user typed to a stored user ID. Synapse
// matches case-insensitively, and on a database holding several IDs that
// differ only in case insists on the exact one.
func (s *Service) resolveLoginUser(ctx context.Context, typed string) (string, error) {
	userID := typed
	if !strings.HasPrefix(typed, "@") {
		userID = "@" + strings.ToLower(typed) + ":" + s.serverName
	}
	matches, err := s.store.UserIDsCaseInsensitive(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", userID, err)
	}
	switch len(matches) {
	case 0:
		return "", ErrInvalidCredentials
	case 1:
		return matches[0], nil
	}
	for _, m := range matches {
		if m == userID {
			return m, nil
		}
	}
	return "", ErrInvalidCredentials
}

// startSession logs userID in on deviceID, a new device when empty. A
// login naming an existing device ends the device's earlier session: the
// spec has the server invalidate the access and refresh tokens previously
// assigned to it (Synapse keeps them), and they stop working at once.
func (s *Service) startSession(ctx context.Context, userID, deviceID, displayName string, wantRefresh bool) (Session, error) {
	if deviceID != "" && s.devices.reserved != nil {
		taken, err := s.devices.reserved(ctx, userID, deviceID)
		if err != nil {
			return Session{}, err
		}
		if taken {
			return Session{}, ErrDeviceIDInUse
		}
	}
	if deviceID == "" {
		var err error
		if deviceID, err = newDeviceID(); err != nil {
			return Session{}, err
		}
	}
	now := s.now()
	session, tok, err := s.issueTokens(userID, deviceID, wantRefresh, now)
	if err != nil {
		return Session{}, err
	}
	revoked, err := s.store.StartSession(ctx,
		storage.NewDevice{UserID: userID, DeviceID: deviceID, DisplayName: displayName, CreatedAt: now}, tok)
	if err != nil {
		return Session{}, fmt.Errorf("start session for %s: %w", userID, err)
	}
	if len(revoked) > 0 {
		s.tokens.forget(revoked)
	}
	s.devicesChanged(ctx, userID, []string{deviceID})
	return session, nil
}

// Logout ends the session of one device: the device and its tokens are
// deleted, as the spec requires of /logout.
func (s *Service) Logout(ctx context.Context, userID, deviceID string) error {
	hashes, err := s.store.DeleteDevice(ctx, userID, deviceID)
	if err != nil {
		return fmt.Errorf("log out %s/%s: %w", userID, deviceID, err)
	}
	s.tokens.forget(hashes)
	if deviceID != "" {
		s.devicesChanged(ctx, userID, []string{deviceID})
	}
	return nil
}

// LogoutAll ends every session of a user.
func (s *Service) LogoutAll(ctx context.Context, userID string) error {
	gone := s.deviceIDsExcept(ctx, userID, "")
	hashes, err := s.store.DeleteAllDevices(ctx, userID)
	if err != nil {
		return fmt.Errorf("log out all devices of %s: %w", userID, err)
	}
	s.tokens.forget(hashes)
	s.devicesChanged(ctx, userID, gone)
	return nil
}
