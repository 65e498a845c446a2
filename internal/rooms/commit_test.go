package rooms

import (
	"testing"
)

func TestTakeBatchLeavesBusyRoomsAndKeepsOrder(t *testing.T) {
	a, b, c := &room{id: "!a"}, &room{id: "!b"}, &room{id: "!c"}
	w := func(r *room, n int64) *write { return &write{room: r, gen: uint64(n)} }
	waiting := []*write{w(a, 1), w(b, 2), w(a, 3), w(c, 4), w(b, 5)}
	batch := takeBatch(&waiting, map[*room]bool{b: true})
	var got, left []uint64
	for _, x := range batch {
		got = append(got, x.gen)
	}
	for _, x := range waiting {
		left = append(left, x.gen)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 4 {
		t.Errorf("batch %v, want the writes of free rooms in order [1 3 4]", got)
	}
	if len(left) != 2 || left[0] != 2 || left[1] != 5 {
		t.Errorf("left waiting %v, want the busy room's writes in order [2 5]", left)
	}
}

func TestTakeBatchStopsAtMaxBatch(t *testing.T) {
	r := &room{id: "!r"}
	waiting := make([]*write, maxBatch+5)
	for i := range waiting {
		waiting[i] = &write{room: r, gen: uint64(i)}
	}
	batch := takeBatch(&waiting, map[*room]bool{})
	if len(batch) != maxBatch || len(waiting) != 5 || waiting[0].gen != maxBatch {
		t.Errorf("took %d, left %d starting at %d", len(batch), len(waiting), waiting[0].gen)
	}
}

func TestDrainTakesOnlyWhatIsQueued(t *testing.T) {
	c := &committer{queue: make(chan *write, 8)}
	for range 5 {
		c.queue <- &write{}
	}
	if got := c.drain(nil); len(got) != 5 {
		t.Errorf("drained %d, want the 5 queued", len(got))
	}
	close(c.queue)
	if got := c.drain(nil); len(got) != 0 {
		t.Errorf("drained %d from a closed queue", len(got))
	}
}
