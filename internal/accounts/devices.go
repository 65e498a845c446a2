package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/axonhs/axon/internal/storage"
)

// Device errors.
var (
	ErrUnknownDevice     = errors.New("unknown device")
	ErrDeviceNameTooLong = fmt.Errorf("device display name is too long (max %d)", MaxDeviceDisplayNameLength)
)

// MaxDeviceDisplayNameLength is Synapse's limit on device names, in characters.
const MaxDeviceDisplayNameLength = 100

// LastSeenFlushInterval is how often the last use of devices, kept in
// memory, is written to the database.
const LastSeenFlushInterval = 30 * time.Second

// maxUserAgentLength bounds the user agent kept per device.
const maxUserAgentLength = 512

// Device is a device of a user.
type Device struct {
	DeviceID    string
	DisplayName string // "": none
	// LastSeen is zero for a device not used since it was created (or since
	// last-seen tracking began); the IP and user agent are then empty.
	LastSeen          time.Time
	LastSeenIP        string
	LastSeenUserAgent string
}

// deviceState is the Service's in-memory device state: the last use of
// devices not yet written to the database, and the deactivation hooks. Its
// zero value is ready to use.
type deviceState struct {
	mu      sync.Mutex
	seen    map[deviceKey]lastSeen // changed since the last flush
	running bool                   // the flusher goroutine is started
	closed  bool
	stop    chan struct{}
	done    chan struct{}

	hooksMu     sync.RWMutex
	hooks       []DeactivationHook
	changeHooks []DevicesChangedHook
	reserved    func(ctx context.Context, userID, deviceID string) (bool, error)
}

type deviceKey struct{ userID, deviceID string }

type lastSeen struct {
	at     time.Time
	ip, ua string
}

// RecordSeen notes that a device was just used from ip with userAgent. It
// costs no database write: the values are kept in memory, served by
// Devices at once, and written every LastSeenFlushInterval and by Close.
func (s *Service) RecordSeen(who Requester, ip, userAgent string) {
	if who.DeviceID == "" {
		return
	}
	if len(userAgent) > maxUserAgentLength {
		userAgent = truncateUTF8(userAgent, maxUserAgentLength)
	}
	d := &s.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if d.seen == nil {
		d.seen = map[deviceKey]lastSeen{}
	}
	d.seen[deviceKey{who.UserID, who.DeviceID}] = lastSeen{at: s.now(), ip: ip, ua: userAgent}
	if !d.running {
		d.running = true
		d.stop, d.done = make(chan struct{}), make(chan struct{})
		go s.flushLoop(d.stop, d.done)
	}
}

func (s *Service) flushLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(LastSeenFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), LastSeenFlushInterval)
			if err := s.Flush(ctx); err != nil {
				slog.Warn("write last seen of devices", "err", err)
			}
			cancel()
		}
	}
}

// Flush writes the last use of devices recorded since the previous flush.
// On failure the values are kept for the next attempt.
func (s *Service) Flush(ctx context.Context) error {
	d := &s.devices
	d.mu.Lock()
	pending := d.seen
	d.seen = nil
	d.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	batch := make([]storage.DeviceSeen, 0, len(pending))
	for k, v := range pending {
		batch = append(batch, storage.DeviceSeen{UserID: k.userID, DeviceID: k.deviceID, At: v.at, IP: v.ip, UserAgent: v.ua})
	}
	if err := s.store.RecordDevicesSeen(ctx, batch); err != nil {
		d.mu.Lock()
		if d.seen == nil {
			d.seen = map[deviceKey]lastSeen{}
		}
		for k, v := range pending {
			if cur, ok := d.seen[k]; !ok || cur.at.Before(v.at) {
				d.seen[k] = v
			}
		}
		d.mu.Unlock()
		return err
	}
	return nil
}

// Close stops the periodic flush and writes what is pending. Call it on
// shutdown, before closing the database; RecordSeen is a no-op afterwards.
func (s *Service) Close(ctx context.Context) error {
	d := &s.devices
	d.mu.Lock()
	d.closed = true
	running, stop, done := d.running, d.stop, d.done
	d.running = false
	d.mu.Unlock()
	if running {
		close(stop)
		<-done
	}
	return s.Flush(ctx)
}

// pendingSeen returns the unflushed last use of a user's devices.
func (s *Service) pendingSeen(userID string) map[string]lastSeen {
	d := &s.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	var out map[string]lastSeen
	for k, v := range d.seen {
		if k.userID == userID {
			if out == nil {
				out = map[string]lastSeen{}
			}
			out[k.deviceID] = v
		}
	}
	return out
}

// forgetSeen drops the unflushed last use of deleted devices: all of a
// user's when deviceIDs is nil, except keep.
func (s *Service) forgetSeen(userID string, deviceIDs []string, keep string) {
	d := &s.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	if deviceIDs != nil {
		for _, id := range deviceIDs {
			delete(d.seen, deviceKey{userID, id})
		}
		return
	}
	for k := range d.seen {
		if k.userID == userID && k.deviceID != keep {
			delete(d.seen, k)
		}
	}
}

func deviceFrom(d storage.Device, pending map[string]lastSeen) Device {
	out := Device{DeviceID: d.DeviceID, DisplayName: d.DisplayName, LastSeen: d.LastSeen, LastSeenIP: d.LastSeenIP, LastSeenUserAgent: d.LastSeenUserAgent}
	if p, ok := pending[d.DeviceID]; ok && !p.at.Before(out.LastSeen) {
		out.LastSeen, out.LastSeenIP, out.LastSeenUserAgent = p.at, p.ip, p.ua
	}
	return out
}

// Devices lists a user's devices, ordered by ID, with the freshest
// last-seen values.
func (s *Service) Devices(ctx context.Context, userID string) ([]Device, error) {
	stored, err := s.store.Devices(ctx, userID)
	if err != nil {
		return nil, err
	}
	pending := s.pendingSeen(userID)
	out := make([]Device, len(stored))
	for i, d := range stored {
		out[i] = deviceFrom(d, pending)
	}
	return out, nil
}

// Device returns one device of a user, or ErrUnknownDevice.
func (s *Service) Device(ctx context.Context, userID, deviceID string) (Device, error) {
	d, err := s.store.GetDevice(ctx, userID, deviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return Device{}, ErrUnknownDevice
	}
	if err != nil {
		return Device{}, err
	}
	return deviceFrom(d, s.pendingSeen(userID)), nil
}

// RenameDevice sets a device's display name ("" removes it). It returns
// ErrUnknownDevice or ErrDeviceNameTooLong.
func (s *Service) RenameDevice(ctx context.Context, userID, deviceID, name string) error {
	if utf8.RuneCountInString(name) > MaxDeviceDisplayNameLength {
		return ErrDeviceNameTooLong
	}
	err := s.store.SetDeviceDisplayName(ctx, userID, deviceID, name)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrUnknownDevice
	}
	if err != nil {
		return err
	}
	s.devicesChanged(ctx, userID, []string{deviceID})
	return nil
}

// DeleteDevices deletes devices of a user with their access tokens, which
// stop working at once. IDs the user has no device for are ignored.
func (s *Service) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	if len(deviceIDs) == 0 {
		return nil
	}
	hashes, err := s.store.DeleteDevices(ctx, userID, deviceIDs)
	if err != nil {
		return err
	}
	s.tokens.forget(hashes)
	s.forgetSeen(userID, deviceIDs, "")
	s.devicesChanged(ctx, userID, deviceIDs)
	return nil
}

func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
