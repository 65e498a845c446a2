package event

import "github.com/axonhs/axon/internal/matrix/rawjson"

// This file writes canonical JSON objects by splicing members of other
// canonical objects (read with package rawjson): redaction, hashing and
// signing copy byte ranges instead of decoding into maps and re-encoding.

// objWriter appends members to a canonical JSON object. Members must be
// added in sorted key order.
type objWriter struct {
	buf   []byte
	first bool
}

func beginObj(buf []byte) objWriter {
	return objWriter{buf: append(buf, '{'), first: true}
}

func (w *objWriter) sep() {
	if !w.first {
		w.buf = append(w.buf, ',')
	}
	w.first = false
}

// raw adds a member whose key is given unescaped-and-plain (ASCII with no
// characters needing escapes) and whose value is already canonical.
func (w *objWriter) raw(key string, val []byte) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, '"', ':')
	w.buf = append(w.buf, val...)
}

// rawKey adds a member whose key is the raw (escaped) text from another
// canonical object.
func (w *objWriter) rawKey(key []byte, val []byte) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, '"', ':')
	w.buf = append(w.buf, val...)
}

func (w *objWriter) end() []byte {
	return append(w.buf, '}')
}

// withoutKeys appends to dst the canonical object obj with the named
// top-level keys removed. Removing keys keeps an object canonical.
func withoutKeys(dst, obj []byte, drop ...string) []byte {
	w := beginObj(dst)
	it, _ := rawjson.Object(obj)
next:
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		for _, d := range drop {
			if string(m.Key) == d {
				continue next
			}
		}
		w.rawKey(m.Key, m.Value)
	}
	return w.end()
}

// withKey appends to dst the canonical object obj with key set to the
// canonical value val, replacing any existing value and keeping keys
// sorted. key must be plain ASCII needing no escapes.
func withKey(dst, obj []byte, key string, val []byte) []byte {
	w := beginObj(dst)
	done := false
	it, _ := rawjson.Object(obj)
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		k := string(m.Key)
		if !done && k >= key {
			w.raw(key, val)
			done = true
			if k == key {
				continue
			}
		}
		w.rawKey(m.Key, m.Value)
	}
	if !done {
		w.raw(key, val)
	}
	return w.end()
}
