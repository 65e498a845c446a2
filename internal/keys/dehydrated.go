package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/storage"
)

// Errors of dehydrated devices, which the client API maps to Matrix errors.
var (
	ErrNoDehydratedDevice = errors.New("keys: no dehydrated device")               // 404
	ErrDeviceIDTaken      = errors.New("keys: device ID in use by another device") // M_INVALID_PARAM
	ErrNoDeviceKeys       = errors.New("keys: device keys not found")              // M_UNKNOWN
)

// DehydratedStore is the storage dehydrated devices need.
type DehydratedStore interface {
	PutDehydratedDevice(ctx context.Context, userID string, d storage.DehydratedDevice) (string, error)
	GetDehydratedDevice(ctx context.Context, userID string) (deviceID, data string, err error)
	DeleteDehydratedDevice(ctx context.Context, userID string) (string, error)
}

// Dehydration is a PUT of a dehydrated device (MSC3814): a device with
// its keys, parked on the server, whose private keys (device_data) only
// the user can decrypt.
type Dehydration struct {
	DeviceID    string
	DisplayName string
	DeviceData  json.RawMessage
	Keys        Upload
}

// PutDehydratedDevice replaces the user's dehydrated device with a new
// one and its keys. Both the old and the new device are device-list
// changes.
func (s *Service) PutDehydratedDevice(ctx context.Context, user string, d Dehydration) error {
	data, err := canonicaljson.Canonicalize(d.DeviceData)
	if err != nil || len(data) == 0 || data[0] != '{' {
		return badKeys("device_data must be an object")
	}
	var alg struct {
		Algorithm *string `json:"algorithm"`
	}
	if json.Unmarshal(data, &alg) != nil || alg.Algorithm == nil {
		return badKeys("device_data.algorithm must be a string")
	}
	if d.DeviceID == "" {
		return badKeys("device_id must be a non-empty string")
	}
	if len(d.Keys.DeviceKeys) == 0 || string(d.Keys.DeviceKeys) == "null" {
		return ErrNoDeviceKeys
	}
	up, err := s.checkUpload(user, d.DeviceID, d.Keys)
	if err != nil {
		return err
	}
	old, err := s.store.PutDehydratedDevice(ctx, user, storage.DehydratedDevice{
		DeviceID: d.DeviceID, DisplayName: d.DisplayName, Data: string(data), Keys: up,
	})
	if errors.Is(err, storage.ErrDeviceExists) {
		return ErrDeviceIDTaken
	}
	if err != nil {
		return err
	}
	changed := []string{d.DeviceID}
	if old != "" && old != d.DeviceID {
		changed = append(changed, old)
	}
	return s.DevicesChanged(ctx, user, changed)
}

// DehydratedDevice returns the user's dehydrated device's ID and data.
func (s *Service) DehydratedDevice(ctx context.Context, user string) (string, json.RawMessage, error) {
	id, data, err := s.store.GetDehydratedDevice(ctx, user)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil, ErrNoDehydratedDevice
	}
	if err != nil {
		return "", nil, err
	}
	return id, json.RawMessage(data), nil
}

// DeleteDehydratedDevice deletes the user's dehydrated device, its keys
// and its inbox, and returns its ID.
func (s *Service) DeleteDehydratedDevice(ctx context.Context, user string) (string, error) {
	id, err := s.store.DeleteDehydratedDevice(ctx, user)
	if errors.Is(err, storage.ErrNotFound) {
		return "", ErrNoDehydratedDevice
	}
	if err != nil {
		return "", err
	}
	if err := s.DevicesChanged(ctx, user, []string{id}); err != nil {
		return "", fmt.Errorf("announce the deleted dehydrated device: %w", err)
	}
	return id, nil
}
