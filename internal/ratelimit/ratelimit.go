// Package ratelimit is Synapse's rate limiter: a leaky bucket per key.
//
// Each key (a client IP, a user ID, ...) has a bucket that holds at most
// burst actions and drains at rate actions per second. An action is allowed
// when the bucket has room for it; a refused action is not counted. This is
// the algorithm of synapse.api.ratelimiting.Ratelimiter, with per_second and
// burst_count from homeserver.yaml, so limits behave as Synapse's do.
//
// Memory is bounded without a goroutine per key: buckets live in a map and
// an LRU list. Each new key removes up to a few drained buckets (an empty
// bucket is the same as no bucket, so nothing is lost), and when the number
// of keys passes the cap the least recently used bucket is dropped.
//
// A limiter may also consult per-user overrides (Synapse's
// ratelimit_override table, set with the admin API): see WithOverrides and
// WithExemptions, and AllowFor, which names the user an action is done for.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the buckets one Limiter keeps. A bucket costs about
// a hundred bytes plus its key, so the default is a few megabytes at most.
const DefaultMaxKeys = 100_000

// pruneScan is how many of the least recently used buckets each new key
// looks at for drained ones to remove.
const pruneScan = 4

// Limiter is a set of leaky buckets keyed by string. The zero value is not
// usable; a nil *Limiter allows everything, so "no limit" needs no checks
// at call sites. It is safe for concurrent use.
type Limiter struct {
	rate    float64 // actions drained per second
	burst   float64 // bucket size
	now     func() time.Time
	maxKeys int

	// overrides, when set, is consulted for the user of AllowFor and
	// CheckFor; overrideValues says whether an override's settings replace
	// the limiter's or only its exemptions count.
	overrides      func(user string) (Override, bool)
	overrideValues bool

	mu      sync.Mutex
	buckets map[string]*bucket
	lru     bucket // sentinel: lru.next is the most recently used bucket
}

type bucket struct {
	key        string
	level      float64   // actions in the bucket at `at`
	at         time.Time // when level was measured
	rate       float64   // the drain rate in effect when level was measured
	prev, next *bucket
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// Override replaces a limiter's settings for one user, as a row of
// Synapse's ratelimit_override does. A PerSecond of 0 means the user is
// not limited at all.
type Override struct {
	PerSecond float64
	Burst     float64
}

// WithOverrides makes AllowFor and CheckFor consult lookup for the user: a
// user whose override has PerSecond 0 is not limited, and otherwise the
// override's PerSecond and Burst replace the limiter's for that user's
// actions. This is how Synapse's message limiter (rc_message) reads
// ratelimit_override. lookup runs on every action, so it must be cheap (an
// in-memory map, not a database query).
func WithOverrides(lookup func(user string) (Override, bool)) Option {
	return func(l *Limiter) { l.overrides, l.overrideValues = lookup, true }
}

// WithExemptions makes AllowFor and CheckFor consult lookup for the user,
// honouring only exemptions (an override with PerSecond 0): Synapse's
// other per-user limiters treat the stored values as the message
// limiter's and only read whether the user is exempt.
func WithExemptions(lookup func(user string) (Override, bool)) Option {
	return func(l *Limiter) { l.overrides, l.overrideValues = lookup, false }
}

// WithMaxKeys caps the number of keys tracked (at least 1).
func WithMaxKeys(n int) Option { return func(l *Limiter) { l.maxKeys = max(n, 1) } }

// New returns a limiter allowing burst actions at once per key, refilling
// at perSecond actions a second. As in Synapse, a burst below 1 refuses
// everything and a perSecond of 0 never refills. Negative or NaN values
// are treated as 0.
func New(perSecond, burst float64, opts ...Option) *Limiter {
	l := &Limiter{
		rate:    nonNegative(perSecond),
		burst:   nonNegative(burst),
		now:     time.Now,
		maxKeys: DefaultMaxKeys,
		buckets: map[string]*bucket{},
	}
	l.lru.next, l.lru.prev = &l.lru, &l.lru
	for _, o := range opts {
		o(l)
	}
	return l
}

func nonNegative(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return v
}

// Allow counts one action for key if the limit allows it. When it does
// not, the action is not counted and retryAfter says how long until one
// action will be allowed again (0 when the bucket never drains).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	return l.take("", key, true)
}

// Check reports whether an action for key would be allowed now, without
// counting one (Synapse's update=False).
func (l *Limiter) Check(key string) (ok bool, retryAfter time.Duration) {
	return l.take("", key, false)
}

// AllowFor is Allow for an action done by (or on behalf of) user, whose
// override applies if the limiter has overrides. The key is often the
// user ID too, but need not be (a limit per room, say, that exempts some
// users).
func (l *Limiter) AllowFor(user, key string) (ok bool, retryAfter time.Duration) {
	return l.take(user, key, true)
}

// CheckFor is Check for an action done by user (see AllowFor).
func (l *Limiter) CheckFor(user, key string) (ok bool, retryAfter time.Duration) {
	return l.take(user, key, false)
}

// Len is the number of keys currently tracked.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Limiter) take(user, key string, count bool) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	rate, burst := l.rate, l.burst
	if user != "" && l.overrides != nil {
		if o, ok := l.overrides(user); ok {
			if o.PerSecond == 0 {
				return true, 0
			}
			if l.overrideValues {
				rate, burst = nonNegative(o.PerSecond), nonNegative(o.Burst)
			}
		}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()

	b := l.buckets[key]
	level := 0.0
	if b != nil {
		level = levelAt(b, now, rate)
	}
	// Written as Synapse writes it: level > burst-1 rather than level+1 > burst.
	if level > burst-1 {
		return false, wait(level, rate, burst)
	}
	if !count {
		return true, 0
	}
	if b == nil {
		l.prune(now)
		b = &bucket{key: key}
		l.buckets[key] = b
		for len(l.buckets) > l.maxKeys {
			l.remove(l.lru.prev)
		}
	} else {
		l.unlink(b)
	}
	b.level, b.at, b.rate = level+1, now, rate
	l.pushFront(b)
	return true, 0
}

// levelAt is the bucket's content at now, after draining at rate.
func levelAt(b *bucket, now time.Time, rate float64) float64 {
	elapsed := now.Sub(b.at).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	return max(b.level-elapsed*rate, 0)
}

// wait is how long until a bucket at level has room for one action.
func wait(level, rate, burst float64) time.Duration {
	if rate == 0 || burst < 1 {
		return 0
	}
	secs := (level - (burst - 1)) / rate
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// prune removes drained buckets among the least recently used few.
func (l *Limiter) prune(now time.Time) {
	b := l.lru.prev
	for i := 0; i < pruneScan && b != &l.lru; i++ {
		prev := b.prev
		if levelAt(b, now, b.rate) == 0 {
			l.remove(b)
		}
		b = prev
	}
}

func (l *Limiter) remove(b *bucket) {
	if b == &l.lru {
		return
	}
	l.unlink(b)
	delete(l.buckets, b.key)
}

func (l *Limiter) unlink(b *bucket) {
	b.prev.next, b.next.prev = b.next, b.prev
	b.prev, b.next = nil, nil
}

func (l *Limiter) pushFront(b *bucket) {
	b.prev, b.next = &l.lru, l.lru.next
	l.lru.next.prev = b
	l.lru.next = b
}
