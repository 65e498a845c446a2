package accounts

import (
	"fmt"
	"strings"

	"github.com/axonhs/axon/internal/matrix/id"
)

// UserID validates a localpart for a new account and returns the full user
// ID. The rules are the spec's user-ID grammar plus Synapse's reservations:
// a leading underscore belongs to application services and purely numeric
// localparts to guests.
func (s *Service) UserID(localpart string) (string, error) {
	if err := id.ValidateUserLocalpart(localpart); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidUsername, err)
	}
	if localpart[0] == '_' {
		return "", fmt.Errorf("%w: user ID may not begin with _", ErrInvalidUsername)
	}
	if strings.TrimLeft(localpart, "0123456789") == "" {
		return "", fmt.Errorf("%w: numeric user IDs are reserved for guest users", ErrInvalidUsername)
	}
	userID, err := id.NewUserID(localpart, id.ServerName(s.serverName))
	if err != nil {
		// Only the length limit is left to fail here.
		return "", fmt.Errorf("%w: %v", ErrInvalidUsername, err)
	}
	return userID.String(), nil
}
