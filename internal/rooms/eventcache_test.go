package rooms

import (
	"testing"

	"github.com/axonhs/axon/internal/storage"
)

func TestEventCacheNeverKeepsARowOlderThanAnInvalidation(t *testing.T) {
	var c eventCache
	old := storage.EventRow{EventID: "$a", PDU: []byte(`{"old":true}`)}
	// A read that looked up before a redaction committed must not fill.
	_, misses, gen := c.lookup([]string{"$a"})
	if len(misses) != 1 {
		t.Fatalf("misses %v", misses)
	}
	c.invalidate("$a")
	c.fill([]storage.EventRow{old}, gen)
	if hits, _, _ := c.lookup([]string{"$a"}); len(hits) != 0 {
		t.Fatal("a row read before the invalidation was cached")
	}
	// A later read fills; an invalidation then drops the row.
	_, _, gen = c.lookup([]string{"$a"})
	c.fill([]storage.EventRow{old}, gen)
	hits, misses, _ := c.lookup([]string{"$a", "$b"})
	if len(hits) != 1 || len(misses) != 1 || misses[0] != "$b" {
		t.Fatalf("hits %v misses %v", hits, misses)
	}
	c.invalidate("$a")
	if hits, _, _ := c.lookup([]string{"$a"}); len(hits) != 0 {
		t.Fatal("an invalidated row is still cached")
	}
	if c.bytes != 0 {
		t.Errorf("bytes %d after dropping everything", c.bytes)
	}
}
