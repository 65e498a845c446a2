package syncer

import (
	"container/list"
	"sync"
)

// Bounds of the lazy-loaded members cache. Forgetting is always safe: a
// member event the cache no longer holds is sent again, which clients
// accept (the spec allows redundant member events).
const (
	maxSentPerDevice = 2000
	maxSentTotal     = 100_000
)

// sentMembers remembers, per device, which member events lazy-loading
// syncs sent, so that later syncs leave out the ones the client holds
// (Synapse keeps the same per-device cache). It lives in memory only: after
// a restart members are sent once more.
type sentMembers struct {
	mu      sync.Mutex
	devices map[deviceKey]*list.Element // of *deviceSent; front is most recently used
	lru     list.List
	total   int
}

type deviceKey struct{ user, device string }

type memberKey struct{ room, user string }

// sent is one member event sent to a device, with the events position of
// the response that carried it.
type sent struct {
	eventID string
	at      int64
}

type deviceSent struct {
	key    deviceKey
	events map[memberKey]sent
}

func newSentMembers() *sentMembers {
	return &sentMembers{devices: map[deviceKey]*list.Element{}}
}

// known reports whether the device holds eventID as user's member event
// in room. The response that carried it must be one the client has
// acknowledged by syncing from its token or a later one (since): a
// response lost on the way does not count.
func (c *sentMembers) known(dev deviceKey, room, user, eventID string, since int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.devices[dev]
	if el == nil {
		return false
	}
	c.lru.MoveToFront(el)
	s, ok := el.Value.(*deviceSent).events[memberKey{room, user}]
	return ok && s.eventID == eventID && s.at <= since
}

// reset forgets what a device was sent: an initial sync starts the client
// afresh.
func (c *sentMembers) reset(dev deviceKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.devices[dev]; el != nil {
		c.drop(el)
	}
}

// record notes the member events (user → event ID) sent to a device in
// room by a response at events position at.
func (c *sentMembers) record(dev deviceKey, room string, members map[string]string, at int64) {
	if len(members) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.devices[dev]
	if el == nil {
		el = c.lru.PushFront(&deviceSent{key: dev, events: map[memberKey]sent{}})
		c.devices[dev] = el
	}
	c.lru.MoveToFront(el)
	d := el.Value.(*deviceSent)
	if len(d.events)+len(members) > maxSentPerDevice {
		// Crude but bounded: the device starts over.
		c.total -= len(d.events)
		clear(d.events)
	}
	for user, id := range members {
		k := memberKey{room, user}
		if _, ok := d.events[k]; !ok {
			if len(d.events) >= maxSentPerDevice {
				continue // not remembered: sent again when needed
			}
			c.total++
		}
		d.events[k] = sent{eventID: id, at: at}
	}
	for c.total > maxSentTotal && c.lru.Len() > 1 {
		c.drop(c.lru.Back())
	}
}

func (c *sentMembers) drop(el *list.Element) {
	d := el.Value.(*deviceSent)
	c.total -= len(d.events)
	delete(c.devices, d.key)
	c.lru.Remove(el)
}
