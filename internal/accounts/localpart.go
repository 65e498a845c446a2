package accounts

import (
	"fmt"
	"strconv"
)

// maxUserIDLength is the spec's limit on a whole user ID, sigil and server included.
const maxUserIDLength = 255

// UserID validates a localpart for a new account and returns the full user
// ID. The rules are the spec's user-ID grammar plus Synapse's reservations:
// a leading underscore belongs to application services and purely numeric
// localparts to guests.
func (s *Service) UserID(localpart string) (string, error) {
	if localpart == "" {
		return "", fmt.Errorf("%w: user ID cannot be empty", ErrInvalidUsername)
	}
	for _, c := range []byte(localpart) {
		if !localpartByte(c) {
			return "", fmt.Errorf("%w: user ID can only contain characters a-z, 0-9, or '=_-./+'", ErrInvalidUsername)
		}
	}
	if localpart[0] == '_' {
		return "", fmt.Errorf("%w: user ID may not begin with _", ErrInvalidUsername)
	}
	if _, err := strconv.ParseUint(localpart, 10, 64); err == nil {
		return "", fmt.Errorf("%w: numeric user IDs are reserved for guest users", ErrInvalidUsername)
	}
	userID := "@" + localpart + ":" + s.serverName
	if len(userID) > maxUserIDLength {
		return "", fmt.Errorf("%w: user ID may not be longer than %d characters", ErrInvalidUsername, maxUserIDLength)
	}
	return userID, nil
}

func localpartByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '.', '_', '=', '-', '/', '+':
		return true
	}
	return false
}
