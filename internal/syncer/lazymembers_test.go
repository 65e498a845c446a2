package syncer

import (
	"fmt"
	"testing"
)

func TestSentMembers(t *testing.T) {
	c := newSentMembers()
	phone, laptop := deviceKey{"@a", "PHONE"}, deviceKey{"@a", "LAPTOP"}
	c.record(phone, "!r", map[string]string{"@b": "$b1", "@c": "$c1"}, 10)

	if c.known(phone, "!r", "@b", "$b1", 9) {
		t.Error("known before the client synced from the response's token")
	}
	if !c.known(phone, "!r", "@b", "$b1", 10) || !c.known(phone, "!r", "@b", "$b1", 12) {
		t.Error("not known after the client synced from the response's token")
	}
	if c.known(phone, "!r", "@b", "$b2", 12) {
		t.Error("another member event of @b counted as known")
	}
	if c.known(phone, "!other", "@b", "$b1", 12) || c.known(laptop, "!r", "@b", "$b1", 12) {
		t.Error("known in another room or on another device")
	}

	// Sent again by a response that got lost: the client's retry from the
	// older token must get it once more.
	c.record(phone, "!r", map[string]string{"@b": "$b1"}, 15)
	if c.known(phone, "!r", "@b", "$b1", 12) {
		t.Error("known from a response the client never acknowledged")
	}

	c.reset(phone)
	if c.known(phone, "!r", "@c", "$c1", 20) {
		t.Error("known after a reset")
	}
	if c.total != 0 {
		t.Errorf("total %d after the only device was reset", c.total)
	}
}

func TestSentMembersBounds(t *testing.T) {
	c := newSentMembers()
	dev := deviceKey{"@a", "D"}
	big := map[string]string{}
	for i := range maxSentPerDevice + 10 {
		big[fmt.Sprintf("@u%d", i)] = "$e"
	}
	c.record(dev, "!r", big, 1)
	if n := len(c.devices[dev].Value.(*deviceSent).events); n != maxSentPerDevice || c.total != n {
		t.Errorf("a device holds %d (total %d), bound %d", n, c.total, maxSentPerDevice)
	}
	// Past the per-device bound the device starts over.
	c.record(dev, "!s", map[string]string{"@x": "$x"}, 2)
	if !c.known(dev, "!s", "@x", "$x", 2) || c.total != 1 {
		t.Errorf("after starting over: total %d", c.total)
	}

	// Past the total bound the least recently used devices go.
	perDevice := maxSentPerDevice / 2
	devices := maxSentTotal/perDevice + 5
	for d := range devices {
		m := map[string]string{}
		for i := range perDevice {
			m[fmt.Sprintf("@u%d", i)] = "$e"
		}
		c.record(deviceKey{"@a", fmt.Sprint(d)}, "!r", m, 1)
	}
	if c.total > maxSentTotal {
		t.Errorf("total %d over the bound %d", c.total, maxSentTotal)
	}
	if c.known(dev, "!s", "@x", "$x", 2) {
		t.Error("the least recently used device was kept")
	}
	if !c.known(deviceKey{"@a", fmt.Sprint(devices - 1)}, "!r", "@u0", "$e", 1) {
		t.Error("the most recently used device was dropped")
	}
}
