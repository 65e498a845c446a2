// Package keys keeps what the server knows of end-to-end encryption keys:
// each device's identity keys, one-time and fallback keys (handed out by
// claims), and the device-list stream, which tells users whose devices
// (or keys) changed, so their clients encrypt for the right devices.
//
// The server never sees a private key. It stores what clients upload as
// canonical JSON and answers queries and claims from it; signatures are
// verified by clients, as in Synapse, which accepts any upload from the
// device itself.
package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// AlgorithmSignedCurve25519 is the one-time key algorithm of Olm. Counts
// always include it, zero or not: clients read a missing count as "keep
// the old number" (Synapse sends it for that reason).
const AlgorithmSignedCurve25519 = "signed_curve25519"

// Store is the storage the service needs.
type Store interface {
	UploadKeys(ctx context.Context, up storage.KeyUpload) (bool, error)
	DeviceKeyCounts(ctx context.Context, userID, deviceID string) (storage.KeyCounts, error)
	ClaimKeys(ctx context.Context, claims []storage.KeyClaim) ([]storage.ClaimedKey, error)
	DeviceKeys(ctx context.Context, userIDs []string) ([]storage.DeviceKeysRow, error)
	RecordDeviceListChanges(ctx context.Context, pos int64, user string, deviceIDs []string) error
	DeviceListChanges(ctx context.Context, signer string, after, upTo int64) (changed, signed []string, err error)
	CrossSigningStore
	DehydratedStore
}

// Notifier wakes the syncs a key change concerns.
type Notifier interface {
	WakeUser(user string)
	// WakeSharers wakes the users who share a room with user.
	WakeSharers(user string)
}

// Service is the keys service.
type Service struct {
	store      Store
	seq        *streams.Sequence // the device-list stream
	notifier   Notifier
	serverName string
	counts     countCache
	changes    changeLog
}

// New returns the keys service. seq is the device-list stream's
// sequence, started at its highest stored position.
func New(store Store, seq *streams.Sequence, notifier Notifier, serverName string) *Service {
	return &Service{
		store: store, seq: seq, notifier: notifier, serverName: serverName,
		counts: newCountCache(), changes: newChangeLog(seq.Current()),
	}
}

// Position is the device-list stream's position.
func (s *Service) Position() int64 { return s.seq.Current() }

func (s *Service) isLocal(user string) bool { return strings.HasSuffix(user, ":"+s.serverName) }

// Upload is a /keys/upload request, each part as the client sent it.
type Upload struct {
	DeviceKeys   json.RawMessage            // nil: none
	OneTimeKeys  map[string]json.RawMessage // "alg:id" → key
	FallbackKeys map[string]json.RawMessage
}

// Upload stores a device's keys and returns its unclaimed one-time key
// counts. Nothing is stored unless all of it is valid. New or changed
// device keys are a device-list change. Identity keys may change (a
// client that lost its store starts again): clients, not the server,
// decide whom to trust.
func (s *Service) Upload(ctx context.Context, user, device string, in Upload) (map[string]int, error) {
	up, err := s.checkUpload(user, device, in)
	if err != nil {
		return nil, err
	}
	if up.DeviceKeys != "" {
		up.ChangePos = s.seq.Reserve()
	}
	changed, err := s.store.UploadKeys(ctx, up)
	s.counts.forget(user, device)
	if changed {
		s.changes.add(up.ChangePos, user, "")
	}
	if up.DeviceKeys != "" {
		// Finished before waking anyone, so that the woken see it.
		s.seq.Finish(up.ChangePos)
	}
	if err != nil {
		var conflict *storage.OneTimeKeyConflictError
		if errors.As(err, &conflict) {
			return nil, fmt.Errorf("%w: %s", ErrKeyExists, conflict.Error())
		}
		return nil, err
	}
	if changed {
		s.wake(user)
	}
	c, err := s.Counts(ctx, user, device)
	if err != nil {
		return nil, err
	}
	return c.OneTimeKeys, nil
}

// checkUpload validates an upload and turns it into what is stored.
func (s *Service) checkUpload(user, device string, in Upload) (storage.KeyUpload, error) {
	up := storage.KeyUpload{UserID: user, DeviceID: device, SameOneTimeKey: sameOneTimeKey}
	var err error
	if len(in.DeviceKeys) > 0 && string(in.DeviceKeys) != "null" {
		if up.DeviceKeys, err = checkDeviceKeys(in.DeviceKeys, user, device); err != nil {
			return up, err
		}
	}
	if up.OneTimeKeys, err = checkOneTimeKeys("one_time_keys", in.OneTimeKeys); err != nil {
		return up, err
	}
	if up.FallbackKeys, err = checkOneTimeKeys("fallback_keys", in.FallbackKeys); err != nil {
		return up, err
	}
	up.FallbackKeys = lastPerAlgorithm(up.FallbackKeys)
	up.MayReplace = mayReplace(user, device)
	up.CheckSigned = checkSigned(user, device, slices.Concat(up.OneTimeKeys, up.FallbackKeys))
	return up, nil
}

// ErrKeyExists: a one-time key was uploaded again with other contents.
var ErrKeyExists = errors.New("keys: one-time key already exists")

// lastPerAlgorithm keeps one fallback key per algorithm, the last in name
// order: a device has one fallback key of each kind.
func lastPerAlgorithm(keys []storage.OneTimeKey) []storage.OneTimeKey {
	last := map[string]int{}
	for i, k := range keys {
		last[k.Algorithm] = i
	}
	var out []storage.OneTimeKey
	for i, k := range keys {
		if last[k.Algorithm] == i {
			out = append(out, k)
		}
	}
	return out
}

// Counts returns a device's unclaimed one-time key counts (with
// signed_curve25519 always present) and its unused fallback key
// algorithms. Every /sync of the device asks, so they are remembered
// until the device uploads or someone claims its keys.
func (s *Service) Counts(ctx context.Context, user, device string) (storage.KeyCounts, error) {
	if c, ok := s.counts.get(user, device); ok {
		return c, nil
	}
	gen := s.counts.generation()
	c, err := s.store.DeviceKeyCounts(ctx, user, device)
	if err != nil {
		return storage.KeyCounts{}, err
	}
	if _, ok := c.OneTimeKeys[AlgorithmSignedCurve25519]; !ok {
		c.OneTimeKeys[AlgorithmSignedCurve25519] = 0
	}
	s.counts.put(user, device, gen, c)
	return c, nil
}

// DevicesChanged records that devices of a local user were added,
// renamed or deleted, and tells the user and everyone who shares a room
// with them.
func (s *Service) DevicesChanged(ctx context.Context, user string, deviceIDs []string) error {
	if len(deviceIDs) == 0 {
		return nil
	}
	pos := s.seq.Reserve()
	err := s.store.RecordDeviceListChanges(ctx, pos, user, deviceIDs)
	if err == nil {
		s.changes.add(pos, user, "")
	}
	s.seq.Finish(pos)
	if err != nil {
		return err
	}
	for _, d := range deviceIDs {
		s.counts.forget(user, d)
	}
	s.wake(user)
	return nil
}

func (s *Service) wake(user string) {
	s.notifier.WakeUser(user)
	s.notifier.WakeSharers(user)
}

// Changed returns the users whose devices or keys changed at a device-list
// position in (after, upTo], and those whose master keys user signed
// then. Recent changes are answered from memory.
func (s *Service) Changed(ctx context.Context, user string, after, upTo int64) (changed, signed []string, err error) {
	if after >= upTo {
		return nil, nil, nil
	}
	if changed, signed, ok := s.changes.since(user, after, upTo); ok {
		return changed, signed, nil
	}
	return s.store.DeviceListChanges(ctx, user, after, upTo)
}

// countCache remembers devices' key counts. A count read from the
// database is kept only if no device's keys changed meanwhile (one
// generation for all: changes are rare next to the syncs that read).
type countCache struct {
	mu     sync.Mutex
	counts map[deviceKey]storage.KeyCounts
	gen    uint64
}

type deviceKey struct{ user, device string }

// maxCachedCounts bounds the devices remembered.
const maxCachedCounts = 100000

func newCountCache() countCache {
	return countCache{counts: map[deviceKey]storage.KeyCounts{}}
}

func (c *countCache) get(user, device string) (storage.KeyCounts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.counts[deviceKey{user, device}]
	return v, ok
}

func (c *countCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *countCache) put(user, device string, gen uint64, v storage.KeyCounts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return // some keys changed while it was read
	}
	if len(c.counts) >= maxCachedCounts {
		clear(c.counts)
	}
	c.counts[deviceKey{user, device}] = v
}

func (c *countCache) forget(user, device string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.counts, deviceKey{user, device})
	c.gen++
}
