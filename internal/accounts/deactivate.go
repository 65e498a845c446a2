package accounts

import (
	"context"
	"errors"
	"fmt"
)

// ErrAfterDeactivation wraps the errors of deactivation hooks: the account
// is deactivated, but some follow-up work failed.
var ErrAfterDeactivation = errors.New("account deactivated, but follow-up work failed")

// DeactivationHook runs after an account is deactivated. erase is the
// user's request that their content be erased: the profile service
// registers a hook that clears the profile (Synapse empties displayname
// and avatar_url when erase is set), and later room and media services
// hook in the same way.
type DeactivationHook func(ctx context.Context, userID string, erase bool) error

// OnDeactivate registers a hook to run on every deactivation, in
// registration order. Register hooks at start-up, before serving.
func (s *Service) OnDeactivate(h DeactivationHook) {
	d := &s.devices
	d.hooksMu.Lock()
	defer d.hooksMu.Unlock()
	d.hooks = append(d.hooks, h)
}

// Deactivate deactivates an account: the user is marked deactivated (so
// logins are refused with ErrUserDeactivated), every device and access
// token is deleted and stops working at once, and with erase the request
// to erase the user's content is recorded. These happen in one
// transaction; the hooks run afterwards, all of them even if one fails,
// and their errors are returned joined, wrapped in ErrAfterDeactivation.
func (s *Service) Deactivate(ctx context.Context, userID string, erase bool) error {
	gone := s.deviceIDsExcept(ctx, userID, "")
	hashes, err := s.store.DeactivateUser(ctx, userID, erase)
	if err != nil {
		return err
	}
	s.tokens.forget(hashes)
	s.forgetSeen(userID, nil, "")
	s.devicesChanged(ctx, userID, gone)

	s.devices.hooksMu.RLock()
	hooks := s.devices.hooks
	s.devices.hooksMu.RUnlock()
	var errs []error
	for _, h := range hooks {
		if err := h(ctx, userID, erase); err != nil {
			errs = append(errs, fmt.Errorf("after deactivating %s: %w", userID, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrAfterDeactivation, errors.Join(errs...))
	}
	return nil
}
