package rooms

import (
	"context"
	"sync"

	"github.com/axonhs/axon/internal/storage"
)

// maxCachedEventBytes bounds the PDU bytes the event cache holds.
const maxCachedEventBytes = 16 << 20

// eventCache keeps stored events by ID. Sync and the other read paths load
// the same state events (members, power levels, create) over and over;
// from memory they cost a map lookup instead of a query.
//
// A stored event changes only when it is redacted: the committer calls
// invalidate once the redaction is durable. A read that began before then
// may have fetched the old row, so it may only fill the cache if no
// invalidation happened meanwhile (gen).
type eventCache struct {
	mu    sync.Mutex
	rows  map[string]storage.EventRow
	bytes int
	gen   uint64
}

// lookup returns the cached rows of ids and the IDs not cached, with the
// generation to pass to fill.
func (c *eventCache) lookup(ids []string) (hits []storage.EventRow, misses []string, gen uint64) {
	hits = make([]storage.EventRow, 0, len(ids))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if row, ok := c.rows[id]; ok {
			hits = append(hits, row)
		} else {
			misses = append(misses, id)
		}
	}
	return hits, misses, c.gen
}

// fill caches rows read from the database, unless an event was
// invalidated since lookup returned gen.
func (c *eventCache) fill(rows []storage.EventRow, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.add(rows)
	}
}

// put caches events as they were just stored.
func (c *eventCache) put(rows []storage.EventRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(rows)
}

// add caches rows; c.mu must be held. A full cache starts afresh.
func (c *eventCache) add(rows []storage.EventRow) {
	for _, row := range rows {
		if c.rows == nil || c.bytes+len(row.PDU) > maxCachedEventBytes {
			c.rows, c.bytes = map[string]storage.EventRow{}, 0
		}
		if _, ok := c.rows[row.EventID]; !ok {
			c.rows[row.EventID] = row
			c.bytes += len(row.PDU)
		}
	}
}

// invalidate drops an event whose stored row changed.
func (c *eventCache) invalidate(eventID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if row, ok := c.rows[eventID]; ok {
		c.bytes -= len(row.PDU)
		delete(c.rows, eventID)
	}
}

// storedEvents returns the stored rows of the events ids names that exist,
// from the cache where it can, in no particular order.
func (s *Service) storedEvents(ctx context.Context, ids []string) ([]storage.EventRow, error) {
	hits, misses, gen := s.events.lookup(ids)
	if len(misses) == 0 {
		return hits, nil
	}
	rows, err := s.db.EventsByID(ctx, misses)
	if err != nil {
		return nil, err
	}
	s.events.fill(rows, gen)
	return append(hits, rows...), nil
}
