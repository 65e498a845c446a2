package rooms

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/axonhs/axon/internal/storage"
)

// IgnoredUsers reads the user's m.ignored_user_list: the senders whose
// events and invites the server must not pass on to them (client-server
// API "Ignoring Users").
func (s *Service) IgnoredUsers(ctx context.Context, user string) (map[string]bool, error) {
	content, err := s.db.AccountData(ctx, user, "", "m.ignored_user_list")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list struct {
		IgnoredUsers map[string]json.RawMessage `json:"ignored_users"`
	}
	if json.Unmarshal(content, &list) != nil || len(list.IgnoredUsers) == 0 {
		return nil, nil // a malformed list ignores no one
	}
	out := make(map[string]bool, len(list.IgnoredUsers))
	for u := range list.IgnoredUsers {
		out[u] = true
	}
	return out, nil
}

// ignoredSender reports whether row is a message event from an ignored
// user; state events pass, as in Synapse, so room state stays whole.
func ignoredSender(ignored map[string]bool, row storage.EventRow) bool {
	return row.StateKey == nil && ignored[row.Sender]
}
