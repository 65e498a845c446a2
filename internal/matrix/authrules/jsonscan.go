package authrules

import (
	"bytes"
	"encoding/json"
)

// A minimal scanner over raw JSON. The auth rules read a handful of keys
// from event contents (membership, a few power levels) on every check, so
// they look keys up in the raw bytes instead of decoding whole objects.
// Contents normally come from parsed events and are valid JSON; the scanner
// still never panics on malformed input, it reports failure instead.

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
// (which must be '"'), and whether the string contains escapes.
func skipString(b []byte, i int) (end int, escaped, ok bool) {
	i++
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1, escaped, true
		case '\\':
			escaped = true
			i += 2
		default:
			i++
		}
	}
	return 0, false, false
}

// skipValue returns the index just past the JSON value starting at b[i]
// (no leading whitespace). Nesting is tracked with a counter, not
// recursion.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		end, _, ok := skipString(b, i)
		return end, ok
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, _, ok := skipString(b, i)
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
		// Number or literal: runs until a delimiter.
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

// objIter iterates over the members of a JSON object.
type objIter struct {
	b    []byte
	i    int
	done bool // iteration over: end of object or malformed input
	err  bool // the object is malformed
}

// newObjIter starts iterating the object b; ok is false if b is not an
// object.
func newObjIter(b []byte) (objIter, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return objIter{}, false
	}
	return objIter{b: b, i: i + 1}, true
}

// next returns the next member: its raw key (with quotes) and raw value.
func (it *objIter) next() (key, val []byte, ok bool) {
	if it.done {
		return nil, nil, false
	}
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i < len(b) && b[i] == '}' {
		it.done = true
		return nil, nil, false
	}
	if i >= len(b) || b[i] != '"' {
		it.done, it.err = true, true
		return nil, nil, false
	}
	kend, _, ok := skipString(b, i)
	if !ok {
		it.done, it.err = true, true
		return nil, nil, false
	}
	key = b[i:kend]
	i = skipWS(b, kend)
	if i >= len(b) || b[i] != ':' {
		it.done, it.err = true, true
		return nil, nil, false
	}
	i = skipWS(b, i+1)
	vend, ok := skipValue(b, i)
	if !ok {
		it.done, it.err = true, true
		return nil, nil, false
	}
	val = b[i:vend]
	it.i = vend
	return key, val, true
}

// keyIs reports whether the raw JSON string rawKey denotes name.
func keyIs(rawKey []byte, name string) bool {
	if len(rawKey) == len(name)+2 && string(rawKey[1:len(rawKey)-1]) == name {
		return true
	}
	if bytes.IndexByte(rawKey, '\\') < 0 {
		return false
	}
	s, ok := jsonString(rawKey)
	return ok && s == name
}

// lookup returns the raw value of key in the JSON object obj.
func lookup(obj []byte, key string) ([]byte, bool) {
	it, ok := newObjIter(obj)
	if !ok {
		return nil, false
	}
	for {
		k, v, ok := it.next()
		if !ok {
			return nil, false
		}
		if keyIs(k, key) {
			return v, true
		}
	}
}

// isObject reports whether the raw value is a JSON object.
func isObject(val []byte) bool { return len(val) > 0 && val[0] == '{' }

// isNull reports whether the raw value is JSON null.
func isNull(val []byte) bool { return string(val) == "null" }

// jsonString decodes a raw JSON string.
func jsonString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		return "", false
	}
	return s, true
}

// stringEquals reports whether the raw JSON value is the string s, without
// allocating in the common unescaped case.
func stringEquals(val []byte, s string) bool {
	if len(val) == len(s)+2 && val[0] == '"' && string(val[1:len(val)-1]) == s {
		return true
	}
	if bytes.IndexByte(val, '\\') < 0 {
		return false
	}
	d, ok := jsonString(val)
	return ok && d == s
}

// lookupString returns content[key] when it is a string.
func lookupString(obj []byte, key string) (string, bool) {
	v, ok := lookup(obj, key)
	if !ok {
		return "", false
	}
	return jsonString(v)
}

// arrayEach calls fn for every element of the JSON array arr; it returns
// false if arr is not a well-formed array.
func arrayEach(arr []byte, fn func(elem []byte) bool) bool {
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return false
	}
	i = skipWS(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return true
	}
	for i < len(arr) {
		end, ok := skipValue(arr, i)
		if !ok {
			return false
		}
		if !fn(arr[i:end]) {
			return true
		}
		i = skipWS(arr, end)
		if i >= len(arr) {
			return false
		}
		switch arr[i] {
		case ',':
			i = skipWS(arr, i+1)
		case ']':
			return true
		default:
			return false
		}
	}
	return false
}
