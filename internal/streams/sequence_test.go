package streams

import "testing"

func TestSequenceWaitsForEarlierWrites(t *testing.T) {
	s := NewSequence(10)
	a, b := s.Reserve(), s.Reserve()
	if a != 11 || b != 12 {
		t.Fatalf("reserved %d, %d", a, b)
	}
	s.Finish(b)
	if got := s.Current(); got != 10 {
		t.Errorf("current = %d while 11 is pending, want 10", got)
	}
	s.Finish(a)
	if got := s.Current(); got != 12 {
		t.Errorf("current = %d after both finished, want 12", got)
	}
}

func TestNotifierWakesMembersAndUsers(t *testing.T) {
	n := NewNotifier()
	n.SetMember("!r", "@a", true)
	a, b := n.Listen("@a"), n.Listen("@b")
	n.WakeRoom("!r")
	select {
	case <-a:
	default:
		t.Error("room member not woken")
	}
	select {
	case <-b:
		t.Error("non-member woken by a room event")
	default:
	}
	n.WakeUser("@b")
	select {
	case <-b:
	default:
		t.Error("user not woken")
	}
	n.SetMember("!r", "@a", false)
	a = n.Listen("@a")
	n.WakeRoom("!r")
	select {
	case <-a:
		t.Error("former member woken")
	default:
	}
}
