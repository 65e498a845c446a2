package rooms

import (
	"context"
	"maps"
	"sync"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/storage"
)

// maxCachedGroups bounds the state group cache. Groups are immutable, so
// the cache never needs invalidating; a delta group is one or a few
// entries, a snapshot one entry per piece of state.
const maxCachedGroups = 20000

// stateGroup is a cached state group.
type stateGroup struct {
	prev    int64 // 0 for a snapshot
	entries map[authrules.StateKey]string
}

func newStateGroup(prev int64, entries []storage.StateEntry) *stateGroup {
	g := &stateGroup{prev: prev, entries: make(map[authrules.StateKey]string, len(entries))}
	for _, e := range entries {
		g.entries[authrules.StateKey{Type: e.Type, StateKey: e.StateKey}] = e.EventID
	}
	return g
}

// groupCache holds recently used state groups.
type groupCache struct {
	mu     sync.Mutex
	groups map[int64]*stateGroup
}

func (c *groupCache) get(id int64) (*stateGroup, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.groups[id]
	return g, ok
}

func (c *groupCache) put(id int64, g *stateGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groups == nil || len(c.groups) >= maxCachedGroups {
		// Dropping everything is crude but bounded; groups reload in one
		// query per chain.
		c.groups = map[int64]*stateGroup{}
	}
	c.groups[id] = g
}

// group returns the state group id, loading its chain if needed.
func (s *Service) group(ctx context.Context, id int64) (*stateGroup, error) {
	if g, ok := s.groups.get(id); ok {
		return g, nil
	}
	rows, err := s.db.StateGroupChain(ctx, id, func(gid int64) bool { _, ok := s.groups.get(gid); return ok })
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		s.groups.put(row.GroupID, newStateGroup(row.PrevGroup, row.Entries))
	}
	if g, ok := s.groups.get(id); ok {
		return g, nil
	}
	return nil, storage.ErrNotFound
}

// stateLookup returns the event ID for key in the state of group ("" if
// that state is not set), walking the delta chain.
func (s *Service) stateLookup(ctx context.Context, group int64, key authrules.StateKey) (string, error) {
	for group != 0 {
		g, err := s.group(ctx, group)
		if err != nil {
			return "", err
		}
		if id, ok := g.entries[key]; ok {
			return id, nil
		}
		group = g.prev
	}
	return "", nil
}

// stateAt returns the whole state of group.
func (s *Service) stateAt(ctx context.Context, group int64) (map[authrules.StateKey]string, error) {
	var chain []*stateGroup
	for group != 0 {
		g, err := s.group(ctx, group)
		if err != nil {
			return nil, err
		}
		chain = append(chain, g)
		group = g.prev
	}
	return mergeChain(chain), nil
}

// deltasSince merges the state changes from base to group, walking at
// most maxDeltas deltas back from group; ok is false when base is not
// that close an ancestor of group.
func (s *Service) deltasSince(ctx context.Context, group, base int64, maxDeltas int) (map[authrules.StateKey]string, bool, error) {
	var chain []*stateGroup
	for id := group; id != base; {
		if id == 0 || len(chain) == maxDeltas {
			return nil, false, nil
		}
		g, err := s.group(ctx, id)
		if err != nil {
			return nil, false, err
		}
		chain = append(chain, g)
		id = g.prev
	}
	return mergeChain(chain), true, nil
}

// mergeChain merges the entries of a chain of groups, newest first, into
// one state: oldest first, so later changes win.
func mergeChain(chain []*stateGroup) map[authrules.StateKey]string {
	out := map[authrules.StateKey]string{}
	for i := len(chain) - 1; i >= 0; i-- {
		maps.Copy(out, chain[i].entries)
	}
	return out
}
