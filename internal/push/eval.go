package push

import (
	"bytes"
	"strings"

	"github.com/axonhs/axon/internal/matrix/rawjson"
)

// Room is what evaluation needs of the state of the event's room.
type Room interface {
	// MemberCount is the number of joined members.
	MemberCount() int
	// UserLevel is a user's power level.
	UserLevel(userID string) int64
	// NotificationLevel is the power level notifications[key] requires.
	NotificationLevel(key string) int64
}

// Event is one event prepared for evaluation against the rules of many
// recipients: each value the rules look at is read from the PDU once, on
// first use. An Event is not safe for concurrent use.
type Event struct {
	pdu    []byte
	room   Room
	sender string

	hasMentions bool   // content has m.mentions: the legacy mention rules are skipped
	hasBody     bool   // content.body is a string
	body        string // content.body, lowercased

	senderLevel     int64
	haveSenderLevel bool
	permitted       map[string]bool // sender_notification_permission by key

	fields map[string]*field // by dotted path
}

// field is one property of the event, as the conditions read it.
type field struct {
	raw      []byte // the JSON value; nil if absent
	isString bool
	lower    string // the string value, lowercased
}

// NewEvent prepares the PDU of an event of room for evaluation.
func NewEvent(pdu []byte, room Room) *Event {
	ev := &Event{pdu: pdu, room: room, fields: make(map[string]*field, 8)}
	ev.sender, _ = rawjson.LookupString(pdu, "sender")
	if content, ok := rawjson.Lookup(pdu, "content"); ok {
		_, ev.hasMentions = rawjson.Lookup(content, "m.mentions")
		if body, ok := rawjson.LookupString(content, "body"); ok {
			ev.hasBody, ev.body = true, strings.ToLower(body)
		}
	}
	return ev
}

// Sender is the event's sender.
func (ev *Event) Sender() string { return ev.sender }

// Evaluate runs the rules against ev for a recipient whose display name
// in the room is displayName, and returns the outcome of the first rule
// that matches.
func (c *Compiled) Evaluate(ev *Event, displayName string) Outcome {
	for i := range c.rules {
		r := &c.rules[i]
		if r.legacyMention && ev.hasMentions {
			continue
		}
		if r.matches(ev, displayName) {
			return r.outcome
		}
	}
	return Outcome{}
}

func (r *compiledRule) matches(ev *Event, displayName string) bool {
	for i := range r.conds {
		if !r.conds[i].matches(ev, displayName) {
			return false
		}
	}
	return true
}

func (c *condition) matches(ev *Event, displayName string) bool {
	switch c.kind {
	case condEventMatch:
		if c.body {
			return ev.hasBody && c.glob.match(ev.body)
		}
		f := ev.field(c)
		return f.isString && c.glob.match(f.lower)
	case condPropertyIs:
		f := ev.field(c)
		return f.raw != nil && valueEquals(f.raw, c.value)
	case condPropertyContains:
		f := ev.field(c)
		it, ok := rawjson.Array(f.raw)
		if !ok {
			return false
		}
		for {
			el, ok := it.Next()
			if !ok {
				return false
			}
			if valueEquals(el, c.value) {
				return true
			}
		}
	case condDisplayName:
		// An empty display name would match everything.
		return displayName != "" && ev.hasBody && containsWordFold(ev.body, displayName)
	case condMemberCount:
		return compareCount(int64(ev.room.MemberCount()), c.cmp, c.count)
	case condSenderPermission:
		return ev.permits(c.perm)
	}
	return false
}

// permits reports whether the sender may notify with key: the same for
// every recipient, so it is worked out once per event.
func (ev *Event) permits(key string) bool {
	if ok, seen := ev.permitted[key]; seen {
		return ok
	}
	ok := ev.level() >= ev.room.NotificationLevel(key)
	if ev.permitted == nil {
		ev.permitted = map[string]bool{}
	}
	ev.permitted[key] = ok
	return ok
}

func (ev *Event) level() int64 {
	if !ev.haveSenderLevel {
		ev.senderLevel, ev.haveSenderLevel = ev.room.UserLevel(ev.sender), true
	}
	return ev.senderLevel
}

// field returns the property c reads, reading it on first use.
func (ev *Event) field(c *condition) *field {
	if f, ok := ev.fields[c.key]; ok {
		return f
	}
	f := &field{raw: lookupPath(ev.pdu, c.path)}
	if s, ok := rawjson.StringValue(f.raw); ok {
		f.isString, f.lower = true, strings.ToLower(s)
	}
	ev.fields[c.key] = f
	return f
}

// lookupPath follows path through nested objects.
func lookupPath(v []byte, path []string) []byte {
	for _, name := range path {
		if !rawjson.IsObject(v) {
			return nil
		}
		next, ok := rawjson.Lookup(v, name)
		if !ok {
			return nil
		}
		v = next
	}
	return v
}

// valueEquals compares a value of the event with a condition's canonical
// value. Stored PDUs are canonical JSON, so equal values have equal bytes;
// only strings with escapes are decoded to be sure. Objects and arrays
// never equal a condition's (simple) value.
func valueEquals(raw, want []byte) bool {
	if bytes.Equal(raw, want) {
		return true
	}
	if len(raw) == 0 || raw[0] != '"' || len(want) == 0 || want[0] != '"' || bytes.IndexByte(raw, '\\') < 0 {
		return false
	}
	a, okA := rawjson.StringValue(raw)
	b, okB := rawjson.StringValue(want)
	return okA && okB && a == b
}

func compareCount(n int64, cmp string, want int64) bool {
	switch cmp {
	case "==":
		return n == want
	case "<":
		return n < want
	case ">":
		return n > want
	case "<=":
		return n <= want
	case ">=":
		return n >= want
	}
	return false
}
