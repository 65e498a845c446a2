package rooms

import (
	"context"
	"sync"

	"github.com/axonhs/axon/internal/storage"
)

const (
	// maxTxnsPerDevice bounds what txnIndex keeps of one device; a device
	// with more is looked up in the database, send by send.
	maxTxnsPerDevice = 1024
	// maxTxnDevices bounds the devices it keeps (it starts afresh beyond).
	maxTxnDevices = 10000
)

// txnIndex answers whether a device's transaction ID was used already,
// without a query per send: the first send of a device since start-up
// loads all its transaction IDs (stored ones are never deleted), and each
// commit adds its own. The lookup runs under the room's lock, so on
// PostgreSQL a query there held up the room's other senders for a round
// trip.
type txnIndex struct {
	mu      sync.Mutex
	devices map[deviceRef]*deviceTxns
}

type deviceRef struct{ user, device string }

// deviceTxns are one device's transaction IDs. Its lock is held while
// they load, so that a commit cannot note an ID the load then misses or
// overwrites, while other devices go on.
type deviceTxns struct {
	mu     sync.Mutex
	loaded bool
	known  map[storage.TxnKey]string // nil once loaded: too many, ask the database
}

// eventID returns the event k produced, or "" if it is unused.
func (ix *txnIndex) eventID(ctx context.Context, db *storage.DB, k storage.TxnKey) (string, error) {
	id, kept, err := ix.device(deviceRef{k.UserID, k.DeviceID}, true).lookup(ctx, db, k)
	if err != nil || kept {
		return id, err
	}
	return db.TxnEventID(ctx, k)
}

// device returns the device's entry, creating it if asked to.
func (ix *txnIndex) device(ref deviceRef, create bool) *deviceTxns {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	d := ix.devices[ref]
	if d == nil && create {
		if ix.devices == nil || len(ix.devices) >= maxTxnDevices {
			ix.devices = map[deviceRef]*deviceTxns{}
		}
		d = &deviceTxns{}
		ix.devices[ref] = d
	}
	return d
}

// lookup answers from the device's IDs (kept), loading them on first use.
func (d *deviceTxns) lookup(ctx context.Context, db *storage.DB, k storage.TxnKey) (id string, kept bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded {
		known, ok, err := db.DeviceTxns(ctx, k.UserID, k.DeviceID, maxTxnsPerDevice)
		if err != nil {
			return "", false, err
		}
		if ok {
			d.known = known
		}
		d.loaded = true
	}
	if d.known == nil {
		return "", false, nil
	}
	return d.known[k], true, nil
}

// note records the transaction IDs of a durable batch. A device not
// loaded yet is left alone: its load comes after this commit and reads
// them.
func (ix *txnIndex) note(batch []*write) {
	for _, w := range batch {
		k := w.row.Txn
		if k == nil {
			continue
		}
		d := ix.device(deviceRef{k.UserID, k.DeviceID}, false)
		if d == nil {
			continue
		}
		d.mu.Lock()
		if d.known != nil {
			d.known[*k] = w.row.Event.EventID
			if len(d.known) > maxTxnsPerDevice {
				d.known = nil
			}
		}
		d.mu.Unlock()
	}
}
