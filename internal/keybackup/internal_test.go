package keybackup

import (
	"runtime"
	"sync"
	"testing"
)

func TestBetterFollowsTheSpecOrder(t *testing.T) {
	key := func(verified bool, index, forwarded int64) Key {
		return Key{IsVerified: verified, FirstMessageIndex: index, ForwardedCount: forwarded}
	}
	for _, c := range []struct {
		name             string
		uploaded, stored Key
		want             bool
	}{
		{"verified beats unverified", key(true, 5, 5), key(false, 0, 0), true},
		{"unverified never beats verified", key(false, 0, 0), key(true, 5, 5), false},
		{"lower index wins", key(false, 1, 9), key(false, 2, 0), true},
		{"higher index loses", key(true, 3, 0), key(true, 2, 9), false},
		{"same index: lower forwarded count wins", key(true, 2, 0), key(true, 2, 1), true},
		{"same index: higher forwarded count loses", key(false, 2, 2), key(false, 2, 1), false},
		{"exact tie keeps the stored key", key(true, 2, 1), key(true, 2, 1), false},
	} {
		if got := better(c.uploaded, c.stored); got != c.want {
			t.Errorf("%s: better(%+v, %+v) = %t", c.name, c.uploaded, c.stored, got)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for s, want := range map[string]int64{"1": 1, "42": 42, "9223372036854775807": 1<<63 - 1} {
		if n, ok := parseVersion(s); !ok || n != want {
			t.Errorf("parseVersion(%q) = %d, %t", s, n, ok)
		}
	}
	for _, s := range []string{"", "0", "-1", "01", "+1", " 1", "1.0", "abc", "9223372036854775808"} {
		if n, ok := parseVersion(s); ok {
			t.Errorf("parseVersion(%q) = %d, want no version", s, n)
		}
	}
}

func TestUserLocks(t *testing.T) {
	var l userLocks
	unlockA := l.lock("@a:x")
	// Another user's lock is independent (were it not, this would hang).
	unlockB := l.lock("@b:x")
	unlockB()

	acquired := make(chan struct{})
	var got bool
	var wg sync.WaitGroup
	wg.Go(func() {
		unlock := l.lock("@a:x")
		got = true
		close(acquired)
		unlock()
	})
	// Wait until the second locker is queued on @a:x's mutex (refs 2).
	for {
		l.mu.Lock()
		refs := l.users["@a:x"].refs
		l.mu.Unlock()
		if refs == 2 {
			break
		}
		runtime.Gosched()
	}
	if got {
		t.Fatal("second holder got the lock while the first held it")
	}
	unlockA()
	<-acquired
	wg.Wait()
	if len(l.users) != 0 {
		t.Fatalf("unused locks kept: %v", l.users)
	}
}
