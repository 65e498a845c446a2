// Package accounts owns user accounts: creating users, their first device
// and access token. It knows nothing of HTTP.
package accounts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/storage"
)

// Errors a caller can act on. Validation errors wrap ErrInvalidUsername.
var (
	ErrUserInUse       = errors.New("user ID already taken")
	ErrInvalidUsername = errors.New("invalid username")
	ErrInvalidUserType = errors.New("invalid user type")
)

// UserTypes are the user_type values Synapse accepts besides none.
var UserTypes = []string{"support", "bot"}

// Store is the storage the service needs.
type Store interface {
	CreateUser(ctx context.Context, u storage.NewUser, d *storage.NewDevice, t *storage.NewAccessToken) error
	UserIDsCaseInsensitive(ctx context.Context, userID string) ([]string, error)
	GetUser(ctx context.Context, userID string) (storage.User, error)
	StartSession(ctx context.Context, d storage.NewDevice, t storage.NewAccessToken) ([][]byte, error)
	LookupAccessToken(ctx context.Context, tokenHash []byte) (storage.TokenOwner, error)
	DeleteDevice(ctx context.Context, userID, deviceID string) ([][]byte, error)
	DeleteAllDevices(ctx context.Context, userID string) ([][]byte, error)
	// Devices, password change and deactivation (devices.go, password_change.go, deactivate.go).
	Devices(ctx context.Context, userID string) ([]storage.Device, error)
	GetDevice(ctx context.Context, userID, deviceID string) (storage.Device, error)
	SetDeviceDisplayName(ctx context.Context, userID, deviceID, name string) error
	DeleteDevices(ctx context.Context, userID string, deviceIDs []string) ([][]byte, error)
	RecordDevicesSeen(ctx context.Context, seen []storage.DeviceSeen) error
	SetPassword(ctx context.Context, userID, passwordHash string, keep *storage.KeepSession) ([][]byte, error)
	DeactivateUser(ctx context.Context, userID string, erase bool) ([][]byte, error)
	// Refresh and login tokens (refresh.go, logintoken.go).
	LookupRefreshToken(ctx context.Context, tokenHash []byte) (storage.RefreshToken, error)
	RotateRefreshToken(ctx context.Context, oldID int64, tok storage.NewAccessToken) ([][]byte, error)
	UseAccessToken(ctx context.Context, tokenHash []byte, refreshTokenID int64) ([][]byte, error)
	CreateLoginToken(ctx context.Context, tokenHash []byte, userID string, createdAt, expiresAt time.Time) error
	LoginTokenUser(ctx context.Context, tokenHash []byte, now time.Time) (string, error)
	ConsumeLoginToken(ctx context.Context, tokenHash []byte, now time.Time) (string, error)
	// Expired tokens (cleanup.go).
	DeleteExpiredAccessTokens(ctx context.Context, before time.Time, limit int) ([][]byte, error)
	DeleteDeadRefreshTokens(ctx context.Context, before time.Time, limit int) ([][]byte, int, error)
	DeleteExpiredLoginTokens(ctx context.Context, before time.Time, limit int) (int, error)
	// Guests (guest.go).
	MaxNumericLocalpart(ctx context.Context) (int64, error)
	UpgradeGuest(ctx context.Context, u storage.GuestUpgrade, d *storage.NewDevice, t *storage.NewAccessToken) ([][]byte, error)
}

// Service creates and manages accounts on one server.
type Service struct {
	store      Store
	serverName string
	hasher     password.Hasher
	tokens     *tokenCache
	now        func() time.Time
	devices    deviceState // last-seen tracking and deactivation hooks (devices.go); zero value ready
	lifetimes  Lifetimes   // token lifetimes (refresh.go)
	guestIDs   guestIDs    // numbering of guest accounts (guest.go)
	registered []RegistrationHook
}

// RegistrationHook runs after an account is created (auto-joining rooms,
// for one). It cannot undo the registration: errors are the hook's to
// report.
type RegistrationHook func(ctx context.Context, userID string, guest bool)

// OnRegister registers a hook to run after every registration, before the
// registration request returns. Register hooks at start-up.
func (s *Service) OnRegister(h RegistrationHook) { s.registered = append(s.registered, h) }

func (s *Service) runRegistrationHooks(ctx context.Context, userID string, guest bool) {
	for _, h := range s.registered {
		h(ctx, userID, guest)
	}
}

// New returns a Service for the users of serverName.
func New(store Store, serverName string, hasher password.Hasher) *Service {
	return &Service{store: store, serverName: serverName, hasher: hasher, tokens: newTokenCache(), now: time.Now}
}

// ServerName is the server whose users this service manages.
func (s *Service) ServerName() string { return s.serverName }

// NewAccount describes a user to create.
type NewAccount struct {
	Localpart string
	Password  string // empty: the account cannot log in with a password
	Admin     bool
	UserType  string // "", "support" or "bot"
	// DisplayName starts the profile; empty means the localpart, as in Synapse.
	DisplayName string
	// DeviceID and DeviceDisplayName describe the device the session is
	// created on; an empty DeviceID gets a generated one.
	DeviceID          string
	DeviceDisplayName string
	// NoSession creates the user without a device or access token
	// (registration with inhibit_login).
	NoSession bool
	// RefreshToken: the client supports refresh tokens (refresh.go).
	RefreshToken bool
	// ConsentVersion is the privacy policy version the user agreed to
	// while registering (m.login.terms); "" for none.
	ConsentVersion string
}

// Session is a logged-in device of a user.
type Session struct {
	UserID      string
	DeviceID    string
	AccessToken string
	// RefreshToken is set when the client asked for one and refresh
	// tokens are on.
	RefreshToken string
	// Expires reports whether the access token expires, ExpiresIn after
	// it was issued.
	Expires   bool
	ExpiresIn time.Duration
}

// Register creates a user with a first device and access token, in one
// transaction so a failure leaves nothing behind.
func (s *Service) Register(ctx context.Context, acct NewAccount) (Session, error) {
	userID, err := s.UserID(acct.Localpart)
	if err != nil {
		return Session{}, err
	}
	if !ValidUserType(acct.UserType) {
		return Session{}, fmt.Errorf("%w: %q", ErrInvalidUserType, acct.UserType)
	}
	// Synapse refuses a name that differs from an existing one only in case
	// (possible on databases migrated from old Synapse versions). Checking
	// first also spares the bcrypt cost for names that are taken; the unique
	// key still settles races between concurrent registrations.
	if available, err := s.UserIDAvailable(ctx, userID); err != nil {
		return Session{}, err
	} else if !available {
		return Session{}, ErrUserInUse
	}
	var hash string
	if acct.Password != "" {
		if hash, err = s.hasher.Hash(acct.Password); err != nil {
			return Session{}, fmt.Errorf("hash password: %w", err)
		}
	}
	now := s.now()
	var (
		session Session
		device  *storage.NewDevice
		token   *storage.NewAccessToken
	)
	if !acct.NoSession {
		session.DeviceID = acct.DeviceID
		if session.DeviceID == "" {
			if session.DeviceID, err = newDeviceID(); err != nil {
				return Session{}, err
			}
		}
		issued, tok, err := s.issueTokens(userID, session.DeviceID, acct.RefreshToken, now)
		if err != nil {
			return Session{}, err
		}
		session = issued
		device = &storage.NewDevice{UserID: userID, DeviceID: session.DeviceID, DisplayName: acct.DeviceDisplayName, CreatedAt: now}
		token = &tok
	}
	err = s.store.CreateUser(ctx,
		storage.NewUser{UserID: userID, PasswordHash: hash, Admin: acct.Admin, UserType: acct.UserType, CreatedAt: now,
			DisplayName: cmp.Or(acct.DisplayName, acct.Localpart), ConsentVersion: acct.ConsentVersion},
		device, token)
	if errors.Is(err, storage.ErrUserExists) {
		return Session{}, ErrUserInUse
	}
	if err != nil {
		return Session{}, fmt.Errorf("create user %s: %w", userID, err)
	}
	session.UserID = userID
	if device != nil {
		s.devicesChanged(ctx, userID, []string{device.DeviceID})
	}
	s.runRegistrationHooks(ctx, userID, false)
	return session, nil
}

// UserIDAvailable reports whether no user has userID, ignoring case.
func (s *Service) UserIDAvailable(ctx context.Context, userID string) (bool, error) {
	existing, err := s.store.UserIDsCaseInsensitive(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("check user %s: %w", userID, err)
	}
	return len(existing) == 0, nil
}

// ValidUserType reports whether t is a user type Synapse accepts ("" is a
// regular user).
func ValidUserType(t string) bool {
	if t == "" {
		return true
	}
	for _, known := range UserTypes {
		if t == known {
			return true
		}
	}
	return false
}
