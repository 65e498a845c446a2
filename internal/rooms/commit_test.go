package rooms

import (
	"testing"
	"time"
)

func TestGatherStopsAtWhatItWants(t *testing.T) {
	c := &committer{queue: make(chan *write, 8)}
	for range 3 {
		c.queue <- &write{}
	}
	linger := time.NewTimer(time.Hour) // never fires here: gather must not wait for it
	batch := c.gather([]*write{{}}, 3, linger)
	if len(batch) != 3 || len(c.queue) != 1 {
		t.Errorf("gathered %d with %d left queued, want 3 and 1", len(batch), len(c.queue))
	}
	if linger.Stop() {
		t.Error("gather left the linger timer running")
	}
}

func TestGatherGivesUpWhenTheLingerEnds(t *testing.T) {
	c := &committer{queue: make(chan *write, 8)}
	linger := time.NewTimer(time.Millisecond)
	if batch := c.gather([]*write{{}}, 5, linger); len(batch) != 1 {
		t.Errorf("gathered %d writes from an empty queue", len(batch))
	}
	close(c.queue)
	if batch := c.gather(nil, 5, time.NewTimer(time.Hour)); len(batch) != 0 {
		t.Errorf("gathered %d writes from a closed queue", len(batch))
	}
}

func TestDrainTakesOnlyWhatIsQueued(t *testing.T) {
	c := &committer{queue: make(chan *write, maxBatch+8)}
	for range maxBatch + 5 {
		c.queue <- &write{}
	}
	if batch := c.drain(nil); len(batch) != maxBatch {
		t.Errorf("drained %d, want a full batch of %d", len(batch), maxBatch)
	}
	if batch := c.drain(nil); len(batch) != 5 {
		t.Errorf("drained %d, want the 5 left", len(batch))
	}
}
