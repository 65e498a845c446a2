package accounts

import (
	"context"
	"slices"
)

// DevicesChangedHook is told that devices of a user were created,
// renamed or deleted (end-to-end encryption announces such changes to
// the user's contacts). It runs after the change is stored; a failure is
// the hook's to log, the change stands.
type DevicesChangedHook func(ctx context.Context, userID string, deviceIDs []string)

// OnDevicesChanged registers a hook for every device change. Register
// hooks at start-up, before serving.
func (s *Service) OnDevicesChanged(h DevicesChangedHook) {
	s.devices.hooksMu.Lock()
	defer s.devices.hooksMu.Unlock()
	s.devices.changeHooks = append(s.devices.changeHooks, h)
}

// ReserveDeviceIDs has logins refuse the device IDs reserved reports
// (cross-signing keys' names). Call it at start-up, before serving.
func (s *Service) ReserveDeviceIDs(reserved func(ctx context.Context, userID, deviceID string) (bool, error)) {
	s.devices.hooksMu.Lock()
	defer s.devices.hooksMu.Unlock()
	s.devices.reserved = reserved
}

func (s *Service) devicesChanged(ctx context.Context, userID string, deviceIDs []string) {
	if len(deviceIDs) == 0 {
		return
	}
	s.devices.hooksMu.RLock()
	hooks := s.devices.changeHooks
	s.devices.hooksMu.RUnlock()
	for _, h := range hooks {
		h(context.WithoutCancel(ctx), userID, deviceIDs)
	}
}

// deviceIDsExcept lists a user's devices but keep, for announcing the
// deletions of an operation that deletes "all the others". Only called
// when a hook listens; a failure to list loses the announcement, not the
// operation.
func (s *Service) deviceIDsExcept(ctx context.Context, userID, keep string) []string {
	s.devices.hooksMu.RLock()
	listening := len(s.devices.changeHooks) > 0
	s.devices.hooksMu.RUnlock()
	if !listening {
		return nil
	}
	devices, err := s.store.Devices(ctx, userID)
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range devices {
		if d.DeviceID != keep {
			out = append(out, d.DeviceID)
		}
	}
	return slices.Clip(out)
}
