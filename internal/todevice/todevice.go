// Package todevice routes to-device messages: events a client sends to
// particular devices rather than into a room (Olm-encrypted room keys,
// verification requests). Each waits in its device's inbox until the
// device's next sync acknowledges it, and is then deleted.
package todevice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// MaxContentSize bounds one message's content, as canonical JSON:
// Synapse's limit, the size of an EDU that federation can carry.
const MaxContentSize = 65536

// SyncLimit bounds the messages one /sync delivers; the rest come with
// the next.
const SyncLimit = 100

// Errors the client API maps to Matrix errors.
var (
	ErrTooLarge   = errors.New("todevice: message content too large")
	ErrBadMessage = errors.New("todevice: invalid message")
)

// Store is the storage the service needs.
type Store interface {
	SendToDevice(ctx context.Context, s storage.ToDeviceSend) (bool, error)
	ToDeviceInbox(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]storage.ToDeviceRow, error)
	DeleteToDevice(ctx context.Context, userID, deviceID string, upTo int64) error
}

// Notifier wakes the syncs of a message's recipients.
type Notifier interface{ WakeUser(user string) }

// Service is the to-device service.
type Service struct {
	store      Store
	seq        *streams.Sequence
	notifier   Notifier
	serverName string
	remote     Remote // nil: messages for remote users are dropped

	mu sync.Mutex
	// floor is the stream position at start; lastSent knows, for every
	// user, the position of the latest message sent to them since.
	floor    int64
	lastSent map[string]int64
	// acked is, per device, the position up to which its inbox was last
	// emptied; an acknowledgement at or below it has nothing to delete.
	acked map[deviceKey]int64
}

type deviceKey struct{ user, device string }

// New returns the service; seq is the to-device stream's sequence,
// started at its highest position ever.
func New(store Store, seq *streams.Sequence, notifier Notifier, serverName string) *Service {
	return &Service{
		store: store, seq: seq, notifier: notifier, serverName: serverName,
		floor: seq.Current(), lastSent: map[string]int64{}, acked: map[deviceKey]int64{},
	}
}

// Position is the to-device stream's position.
func (s *Service) Position() int64 { return s.seq.Current() }

// Send is one /sendToDevice request.
type Send struct {
	Sender string
	// SenderKey tells the sender's sessions apart for retries: the device
	// ID, or a stand-in for the token of a device-less session.
	SenderKey string
	Type      string
	TxnID     string
	// Messages maps users to devices ("*": all of them) to contents.
	Messages map[string]map[string]json.RawMessage
}

// Remote carries messages for other servers' users (federation's
// m.direct_to_device EDUs).
type Remote interface {
	SendToDevice(ctx context.Context, sender, typ string, messages map[string]map[string]json.RawMessage) error
}

// WithRemote has messages for remote users sent through r; without one
// they are dropped (no federation yet).
func (s *Service) WithRemote(r Remote) *Service {
	s.remote = r
	return s
}

// Send delivers a request's messages to local devices and hands those for
// remote users to Remote. A retry with the same transaction ID sends
// nothing again. Messages to devices that do not exist are dropped.
func (s *Service) Send(ctx context.Context, in Send) error {
	msgs, recipients, remote, err := s.messages(in)
	if err != nil {
		return err
	}
	if len(msgs) == 0 && (len(remote) == 0 || s.remote == nil) {
		return nil
	}
	pos := s.seq.Reserve()
	dup, err := s.store.SendToDevice(ctx, storage.ToDeviceSend{
		Sender: in.Sender, SenderKey: in.SenderKey, TxnKey: in.Type + "/" + in.TxnID, Pos: pos, Messages: msgs,
	})
	if err == nil && !dup {
		s.mu.Lock()
		for _, u := range recipients {
			s.lastSent[u] = max(s.lastSent[u], pos)
		}
		s.mu.Unlock()
	}
	// Finished before waking anyone, so that the woken see it.
	s.seq.Finish(pos)
	if err != nil || dup {
		return err
	}
	for _, u := range recipients {
		s.notifier.WakeUser(u)
	}
	if len(remote) > 0 && s.remote != nil {
		return s.remote.SendToDevice(ctx, in.Sender, in.Type, remote)
	}
	return nil
}

// messages builds the stored form of a request's messages to local
// users, in a stable order, and lists their recipients; those for remote
// users are checked and returned apart. Invalid user IDs are dropped.
func (s *Service) messages(in Send) (local []storage.ToDeviceMessage, recipients []string, remote map[string]map[string]json.RawMessage, err error) {
	for _, user := range slices.Sorted(maps.Keys(in.Messages)) {
		devices := in.Messages[user]
		uid, err := id.ParseUserIDLenient(user)
		if err != nil {
			continue
		}
		if string(uid.Server()) != s.serverName {
			for device, content := range devices {
				if _, err := message(in.Sender, in.Type, content); err != nil {
					return nil, nil, nil, fmt.Errorf("message to %s %s: %w", user, device, err)
				}
			}
			if remote == nil {
				remote = map[string]map[string]json.RawMessage{}
			}
			remote[user] = devices
			continue
		}
		if _, all := devices["*"]; all && len(devices) > 1 {
			// "*" next to device IDs is a device ID like the others
			// (Synapse), and no device has it.
			devices = maps.Clone(devices)
			delete(devices, "*")
		}
		for _, device := range slices.Sorted(maps.Keys(devices)) {
			msg, err := message(in.Sender, in.Type, devices[device])
			if err != nil {
				return nil, nil, nil, fmt.Errorf("message to %s %s: %w", user, device, err)
			}
			local = append(local, storage.ToDeviceMessage{UserID: user, DeviceID: device, JSON: msg})
		}
		if len(devices) > 0 {
			recipients = append(recipients, user)
		}
	}
	return local, recipients, remote, nil
}

// message is the event a device receives: {"content", "sender", "type"}.
func message(sender, typ string, content json.RawMessage) (string, error) {
	c, err := canonicaljson.Canonicalize(content)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if len(c) == 0 || c[0] != '{' {
		return "", fmt.Errorf("%w: content must be an object", ErrBadMessage)
	}
	if len(c) > MaxContentSize {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(c), MaxContentSize)
	}
	b := make([]byte, 0, len(c)+len(sender)+len(typ)+40)
	b = append(append(b, `{"content":`...), c...)
	b = canonicaljson.AppendString(append(b, `,"sender":`...), sender)
	b = canonicaljson.AppendString(append(b, `,"type":`...), typ)
	return string(append(b, '}')), nil
}

// Ack deletes the messages a device's sync token shows it has: those up
// to position upTo. Nothing is queried when nothing can be there.
func (s *Service) Ack(ctx context.Context, user, device string, upTo int64) error {
	k := deviceKey{user, device}
	s.mu.Lock()
	acked, known := s.acked[k]
	last := s.lastSent[user]
	s.mu.Unlock()
	if known && (acked >= upTo || acked >= last) {
		return nil
	}
	if err := s.store.DeleteToDevice(ctx, user, device, upTo); err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.acked) >= maxTrackedDevices {
		clear(s.acked)
	}
	s.acked[k] = max(s.acked[k], upTo)
	s.mu.Unlock()
	return nil
}

// maxTrackedDevices bounds the acknowledgements remembered.
const maxTrackedDevices = 100000

// ForSync returns a device's messages with positions in (after, upTo], at
// most SyncLimit, and the position its next sync continues from: upTo,
// or the last message's when more are waiting.
func (s *Service) ForSync(ctx context.Context, user, device string, after, upTo int64) ([]json.RawMessage, int64, error) {
	s.mu.Lock()
	nothing := after >= s.floor && s.lastSent[user] <= after
	s.mu.Unlock()
	if nothing || after >= upTo {
		return nil, upTo, nil
	}
	return s.read(ctx, user, device, after, upTo, SyncLimit)
}

// Inbox returns up to limit messages of a device's inbox after position
// after, without deleting them (a dehydrated device's inbox is read by
// the device that rehydrates it), and the position to continue from.
func (s *Service) Inbox(ctx context.Context, user, device string, after int64, limit int) ([]json.RawMessage, int64, error) {
	return s.read(ctx, user, device, after, max(s.Position(), after), limit)
}

// read returns up to limit messages of a device's inbox in (after, upTo],
// and the position after them: upTo, or the last message's when the limit
// cut them short.
func (s *Service) read(ctx context.Context, user, device string, after, upTo int64, limit int) ([]json.RawMessage, int64, error) {
	rows, err := s.store.ToDeviceInbox(ctx, user, device, after, upTo, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		out[i] = json.RawMessage(r.JSON)
	}
	if len(rows) == limit {
		return out, rows[len(rows)-1].Pos, nil
	}
	return out, upTo, nil
}
