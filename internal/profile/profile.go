// Package profile keeps users' public profiles: display name, avatar and
// the extended fields of spec v1.16 (MSC4133).
package profile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"
)

// Field names the spec defines.
const (
	DisplayName = "displayname"
	AvatarURL   = "avatar_url"
	TimeZone    = "m.tz"
)

// Limits: the spec's 64 KiB profile and 255-byte keys; Synapse's lengths
// for the two classic fields.
const (
	MaxProfileBytes     = 64 << 10
	MaxKeyBytes         = 255
	MaxDisplayNameChars = 256
	MaxAvatarURLBytes   = 1000
)

// Errors a caller can map to Matrix error codes.
var (
	ErrInvalidKey      = errors.New("invalid profile key")
	ErrKeyTooLarge     = errors.New("profile key too long")
	ErrInvalidValue    = errors.New("invalid profile value")
	ErrProfileTooLarge = errors.New("profile too large")
	ErrNotAllowed      = errors.New("profile change not allowed")
	ErrNoSuchUser      = errors.New("no such user")
)

// keyGrammar is the spec's pattern for keyName.
var keyGrammar = regexp.MustCompile(`^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$`)

// Store is the storage the service needs.
type Store interface {
	UserExists(ctx context.Context, userID string) (bool, error)
	ProfileFields(ctx context.Context, userID string) (map[string][]byte, error)
	SetProfileField(ctx context.Context, userID, field string, value []byte, check func(after map[string][]byte) error) error
	DeleteProfile(ctx context.Context, userID string) error
}

// Settings are the homeserver.yaml switches for profile changes.
type Settings struct {
	SetDisplayNameAllowed bool // enable_set_displayname
	SetAvatarURLAllowed   bool // enable_set_avatar_url
}

// Service reads and changes profiles of local users.
type Service struct {
	store    Store
	settings Settings
	// onChange hears of display name and avatar changes (member events
	// in rooms carry them).
	onChange []func(ctx context.Context, userID string)
}

// OnChange registers fn to run after a user's display name or avatar
// changes, before Set returns.
func (s *Service) OnChange(fn func(ctx context.Context, userID string)) {
	s.onChange = append(s.onChange, fn)
}

// New returns a profile service.
func New(store Store, settings Settings) *Service {
	return &Service{store: store, settings: settings}
}

// Get returns every field of a local user's profile.
func (s *Service) Get(ctx context.Context, userID string) (map[string][]byte, error) {
	exists, err := s.store.UserExists(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, ErrNoSuchUser
	}
	return s.store.ProfileFields(ctx, userID)
}

// Erase removes every field of a profile, for deactivation with erase:
// true (GDPR erasure).
func (s *Service) Erase(ctx context.Context, userID string) error {
	return s.store.DeleteProfile(ctx, userID)
}

// Set stores one field (value is the field's JSON). nil value deletes it.
func (s *Service) Set(ctx context.Context, userID, key string, value []byte) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	if value != nil {
		// Custom fields may hold any JSON, floats included, so values are
		// compacted rather than canonicalised.
		var buf bytes.Buffer
		if !utf8.Valid(value) || json.Compact(&buf, value) != nil {
			return fmt.Errorf("%w: not JSON", ErrInvalidValue)
		}
		value = buf.Bytes()
		if err := checkValue(key, value); err != nil {
			return err
		}
	}
	err := s.store.SetProfileField(ctx, userID, key, value, func(after map[string][]byte) error {
		if profileSize(after) > MaxProfileBytes {
			return ErrProfileTooLarge
		}
		return nil
	})
	if err == nil && (key == DisplayName || key == AvatarURL) {
		for _, fn := range s.onChange {
			fn(ctx, userID)
		}
	}
	return err
}

func (s *Service) checkKey(key string) error {
	if len(key) > MaxKeyBytes {
		return ErrKeyTooLarge
	}
	if !keyGrammar.MatchString(key) {
		return ErrInvalidKey
	}
	if key == DisplayName && !s.settings.SetDisplayNameAllowed || key == AvatarURL && !s.settings.SetAvatarURLAllowed {
		return ErrNotAllowed
	}
	return nil
}

// checkValue applies the types the spec gives the defined fields and
// Synapse's length limits. Custom fields may hold any JSON.
func checkValue(key string, value []byte) error {
	var s string
	switch key {
	case DisplayName, AvatarURL, TimeZone:
		if err := json.Unmarshal(value, &s); err != nil {
			return fmt.Errorf("%w: %s must be a string", ErrInvalidValue, key)
		}
	default:
		return nil
	}
	switch key {
	case DisplayName:
		if utf8.RuneCountInString(s) > MaxDisplayNameChars {
			return fmt.Errorf("%w: displayname is longer than %d characters", ErrInvalidValue, MaxDisplayNameChars)
		}
	case AvatarURL:
		if len(s) > MaxAvatarURLBytes {
			return fmt.Errorf("%w: avatar_url is longer than %d bytes", ErrInvalidValue, MaxAvatarURLBytes)
		}
		// Synapse checks only the length: clients and Complement set other
		// strings, and the media checks (allowed_avatar_mimetypes) come
		// with the media repository.
	}
	return nil
}

// profileSize is the size of the profile as a JSON object.
func profileSize(fields map[string][]byte) int {
	n := 2
	for k, v := range fields {
		n += len(k) + 4 + len(v)
	}
	return n
}
