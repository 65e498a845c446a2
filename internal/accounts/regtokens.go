package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

// Registration token errors a caller can act on.
var (
	ErrRegistrationTokenExists   = errors.New("registration token already exists")
	ErrRegistrationTokenNotFound = errors.New("no such registration token")
	// ErrRegistrationTokenInvalid: unknown, expired or used up.
	ErrRegistrationTokenInvalid = errors.New("invalid registration token")
	// ErrRegistrationTokenChanged: the session already holds another token.
	ErrRegistrationTokenChanged = errors.New("registration token has changed")
)

// RegistrationTokenChars are the characters a registration token may
// contain, as in Synapse (the spec's opaque identifier grammar).
const RegistrationTokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"

// MaxRegistrationTokenLength bounds tokens, as the spec does.
const MaxRegistrationTokenLength = 64

// ValidRegistrationToken reports whether t is 1 to 64 characters of
// RegistrationTokenChars.
func ValidRegistrationToken(t string) bool {
	if len(t) == 0 || len(t) > MaxRegistrationTokenLength {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-') {
			return false
		}
	}
	return true
}

// RegistrationTokenStore is the storage registration tokens need.
type RegistrationTokenStore interface {
	CreateRegistrationToken(ctx context.Context, token string, usesAllowed, expiryTime *int64) error
	RegistrationToken(ctx context.Context, token string, now time.Time) (storage.RegistrationToken, error)
	RegistrationTokens(ctx context.Context, now time.Time, valid *bool) ([]storage.RegistrationToken, error)
	UpdateRegistrationToken(ctx context.Context, token string, u storage.RegistrationTokenUpdate, now time.Time) (storage.RegistrationToken, error)
	DeleteRegistrationToken(ctx context.Context, token string) error
	ReserveRegistrationToken(ctx context.Context, token, session string, now, until time.Time) error
	CompleteRegistrationToken(ctx context.Context, session string, now time.Time) (string, error)
	UncompleteRegistrationToken(ctx context.Context, token string) error
}

// RegistrationToken is a token as the admin API shows it.
type RegistrationToken = storage.RegistrationToken

// RegistrationTokenUpdate names the fields of a token to change.
type RegistrationTokenUpdate = storage.RegistrationTokenUpdate

// RegistrationTokens manages the tokens that authorise registration
// (registration_requires_token) and their use by registrations.
type RegistrationTokens struct {
	store RegistrationTokenStore
	now   func() time.Time
}

// NewRegistrationTokens returns the service.
func NewRegistrationTokens(store RegistrationTokenStore) *RegistrationTokens {
	return &RegistrationTokens{store: store, now: time.Now}
}

// NewRegistrationToken describes a token to create. An empty Token is
// generated with Length characters (16 when 0).
type NewRegistrationToken struct {
	Token       string
	Length      int
	UsesAllowed *int64
	ExpiryTime  *int64
}

// Create stores a new token and returns it. The caller validates the
// fields (ValidRegistrationToken, lengths, non-negative uses).
func (s *RegistrationTokens) Create(ctx context.Context, n NewRegistrationToken) (RegistrationToken, error) {
	token := n.Token
	generated := token == ""
	for attempt := 0; ; attempt++ {
		if generated {
			length := n.Length
			if length == 0 {
				length = 16
			}
			token = randomToken(length)
		}
		err := s.store.CreateRegistrationToken(ctx, token, n.UsesAllowed, n.ExpiryTime)
		if errors.Is(err, storage.ErrRegistrationTokenExists) {
			// A short generated token may collide; Synapse retries too.
			if generated && attempt < 5 {
				continue
			}
			return RegistrationToken{}, ErrRegistrationTokenExists
		}
		if err != nil {
			return RegistrationToken{}, err
		}
		return RegistrationToken{Token: token, UsesAllowed: n.UsesAllowed, ExpiryTime: n.ExpiryTime}, nil
	}
}

func randomToken(length int) string {
	b := make([]byte, length)
	_, _ = rand.Read(b)
	for i := range b {
		// The first 64 characters (letters, digits, '.', '_'): 256 is a
		// multiple of 64, so every character is equally likely.
		b[i] = RegistrationTokenChars[int(b[i])%64]
	}
	return string(b)
}

// Get returns one token.
func (s *RegistrationTokens) Get(ctx context.Context, token string) (RegistrationToken, error) {
	t, err := s.store.RegistrationToken(ctx, token, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return t, ErrRegistrationTokenNotFound
	}
	return t, err
}

// List returns every token, or with valid set only the (in)valid ones.
func (s *RegistrationTokens) List(ctx context.Context, valid *bool) ([]RegistrationToken, error) {
	return s.store.RegistrationTokens(ctx, s.now(), valid)
}

// Update changes a token's uses_allowed and/or expiry_time.
func (s *RegistrationTokens) Update(ctx context.Context, token string, u RegistrationTokenUpdate) (RegistrationToken, error) {
	t, err := s.store.UpdateRegistrationToken(ctx, token, u, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return t, ErrRegistrationTokenNotFound
	}
	return t, err
}

// Delete removes a token.
func (s *RegistrationTokens) Delete(ctx context.Context, token string) error {
	err := s.store.DeleteRegistrationToken(ctx, token)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrRegistrationTokenNotFound
	}
	return err
}

// Valid reports whether token could be used to register now.
func (s *RegistrationTokens) Valid(ctx context.Context, token string) (bool, error) {
	if !ValidRegistrationToken(token) {
		return false, nil
	}
	now := s.now()
	t, err := s.store.RegistrationToken(ctx, token, now)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t.Valid(now.UnixMilli()), nil
}

// Reserve makes the registration session hold one use of token for
// lifetime (it counts as pending). Reserving the token the session already
// holds again is harmless.
func (s *RegistrationTokens) Reserve(ctx context.Context, token, session string, lifetime time.Duration) error {
	if !ValidRegistrationToken(token) {
		return ErrRegistrationTokenInvalid
	}
	now := s.now()
	err := s.store.ReserveRegistrationToken(ctx, token, session, now, now.Add(lifetime))
	switch {
	case errors.Is(err, storage.ErrRegistrationTokenInvalid):
		return ErrRegistrationTokenInvalid
	case errors.Is(err, storage.ErrRegistrationTokenChanged):
		return ErrRegistrationTokenChanged
	}
	return err
}

// Complete turns the session's pending use into a completed one, before
// the account is created; it returns the token, for Release should the
// creation fail. ErrRegistrationTokenInvalid means the session holds no
// reservation any more (expired, or the token was deleted).
func (s *RegistrationTokens) Complete(ctx context.Context, session string) (string, error) {
	token, err := s.store.CompleteRegistrationToken(ctx, session, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return "", ErrRegistrationTokenInvalid
	}
	return token, err
}

// Release gives back a use that Complete counted for a registration that
// then failed.
func (s *RegistrationTokens) Release(ctx context.Context, token string) error {
	return s.store.UncompleteRegistrationToken(ctx, token)
}

// IsAdmin reports whether userID is a server admin (users.is_admin). The
// admin API asks on each request; admin requests are rare, and reading the
// flag fresh means a demotion takes effect at once.
func (s *Service) IsAdmin(ctx context.Context, userID string) (bool, error) {
	u, err := s.store.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("is admin %s: %w", userID, err)
	}
	return u.Admin && !u.Deactivated, nil
}
