// Package rawjson reads values out of JSON bytes without decoding them:
// iterating an object's members or an array's elements, finding a key,
// comparing a string. The protocol core uses it on hot paths (auth checks,
// hashing, redaction) where decoding whole events into maps would cost
// more than the work itself.
//
// It does not validate: input is expected to have passed
// canonicaljson.Decode or to come from a parsed event. On malformed input
// it reports failure (ok == false) and never panics or loops. Insignificant
// whitespace is allowed, so hand-written JSON in tests reads the same as
// canonical JSON.
package rawjson

import (
	"bytes"
	"encoding/json"
)

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the JSON string starting at b[i]
// (which must be '"').
func skipString(b []byte, i int) (int, bool) {
	i++
	for {
		// IndexByte is vectorised: long strings (hashes, signatures,
		// message bodies) are skipped many bytes at a time.
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, false
		}
		q := i + j
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, true
		}
		i = q + 1
	}
}

// SkipValue returns the index just past the JSON value starting at b[i]
// (no leading whitespace). Nesting is tracked with a counter, not
// recursion, so deep input cannot exhaust the stack.
func SkipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	default:
		// A number or literal runs until a delimiter.
		start := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, i > start
			}
			i++
		}
		return i, i > start
	}
}

// Member is one key/value pair of an object.
type Member struct {
	// Key is the key as written, without its quotes and still escaped.
	Key []byte
	// Value is the complete JSON text of the value.
	Value []byte
	// Start and End delimit `"key":value` within the object's bytes, so
	// callers can copy members through unchanged.
	Start, End int
}

// KeyIs reports whether the member's key denotes name, unescaping only
// when the key contains an escape.
func (m Member) KeyIs(name string) bool {
	if string(m.Key) == name {
		return true
	}
	if bytes.IndexByte(m.Key, '\\') < 0 {
		return false
	}
	s, ok := unquote(m.Key)
	return ok && s == name
}

// ObjectIter iterates over the members of an object.
type ObjectIter struct {
	b       []byte
	i       int
	started bool // a member was read: the next needs a comma
	done    bool
	bad     bool
}

// Object starts iterating the object b; ok is false if b is not an object.
func Object(b []byte) (ObjectIter, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ObjectIter{done: true}, false
	}
	return ObjectIter{b: b, i: i + 1}, true
}

// Next returns the next member; ok is false at the end of the object or on
// malformed input (then Malformed reports true).
func (it *ObjectIter) Next() (m Member, ok bool) {
	if it.done {
		return Member{}, false
	}
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == '}' {
		it.done = true
		return Member{}, false
	}
	if it.started {
		if i >= len(b) || b[i] != ',' {
			return it.fail()
		}
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return it.fail()
	}
	kend, ok := skipString(b, i)
	if !ok {
		return it.fail()
	}
	m.Start = i
	m.Key = b[i+1 : kend-1]
	i = skipWS(b, kend)
	if i >= len(b) || b[i] != ':' {
		return it.fail()
	}
	i = skipWS(b, i+1)
	vend, ok := SkipValue(b, i)
	if !ok {
		return it.fail()
	}
	m.Value = b[i:vend]
	m.End = vend
	it.i = vend
	it.started = true
	return m, true
}

func (it *ObjectIter) fail() (Member, bool) {
	it.done, it.bad = true, true
	return Member{}, false
}

// Malformed reports whether iteration stopped on malformed input.
func (it *ObjectIter) Malformed() bool { return it.bad }

// ArrayIter iterates over the elements of an array.
type ArrayIter struct {
	b       []byte
	i       int
	started bool // an element was read: the next needs a comma
	done    bool
	bad     bool
}

// Array starts iterating the array b; ok is false if b is not an array.
func Array(b []byte) (ArrayIter, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return ArrayIter{done: true}, false
	}
	return ArrayIter{b: b, i: i + 1}, true
}

// Next returns the next element; ok is false at the end of the array or on
// malformed input (then Malformed reports true).
func (it *ArrayIter) Next() ([]byte, bool) {
	if it.done {
		return nil, false
	}
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == ']' {
		it.done = true
		return nil, false
	}
	if it.started {
		if i >= len(b) || b[i] != ',' {
			it.done, it.bad = true, true
			return nil, false
		}
		i = skipWS(b, i+1)
	}
	end, ok := SkipValue(b, i)
	if !ok {
		it.done, it.bad = true, true
		return nil, false
	}
	it.i = end
	it.started = true
	return b[i:end], true
}

// Malformed reports whether iteration stopped on malformed input.
func (it *ArrayIter) Malformed() bool { return it.bad }

// Lookup returns the value of key in the object obj.
func Lookup(obj []byte, key string) ([]byte, bool) {
	it, ok := Object(obj)
	if !ok {
		return nil, false
	}
	for {
		m, ok := it.Next()
		if !ok {
			return nil, false
		}
		if m.KeyIs(key) {
			return m.Value, true
		}
	}
}

// LookupString returns obj[key] when it is a string.
func LookupString(obj []byte, key string) (string, bool) {
	v, ok := Lookup(obj, key)
	if !ok {
		return "", false
	}
	return StringValue(v)
}

// IsObject reports whether the value is an object.
func IsObject(val []byte) bool { return len(val) > 0 && val[0] == '{' }

// IsNull reports whether the value is null.
func IsNull(val []byte) bool { return string(val) == "null" }

// StringValue decodes a JSON string value (with its quotes).
func StringValue(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	return unquote(val[1 : len(val)-1])
}

// unquote decodes the inside of a JSON string (without its quotes).
func unquote(inner []byte) (string, bool) {
	if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 {
		return string(inner), true
	}
	quoted := make([]byte, 0, len(inner)+2)
	quoted = append(append(append(quoted, '"'), inner...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", false
	}
	return s, true
}

// StringEquals reports whether the value is the string s, without
// allocating when the value has no escapes.
func StringEquals(val []byte, s string) bool {
	if len(val) == len(s)+2 && val[0] == '"' && string(val[1:len(val)-1]) == s {
		return true
	}
	if bytes.IndexByte(val, '\\') < 0 {
		return false
	}
	d, ok := StringValue(val)
	return ok && d == s
}

// Name returns the member's key, unescaped.
func (m Member) Name() (string, bool) { return unquote(m.Key) }

// ArrayEach calls fn for every element of the array arr until fn returns
// false; it reports false if arr is not a well-formed array.
func ArrayEach(arr []byte, fn func(elem []byte) bool) bool {
	it, ok := Array(arr)
	if !ok {
		return false
	}
	for {
		el, ok := it.Next()
		if !ok {
			return !it.Malformed()
		}
		if !fn(el) {
			return true
		}
	}
}
