package event

// This file walks JSON that is already known to be canonical (produced or
// checked by package canonicaljson): no whitespace, no duplicate keys,
// sorted keys. It never validates; callers must not hand it anything else.
// Working on canonical bytes lets redaction, hashing and signing splice
// byte ranges instead of decoding into maps and re-encoding.

// member is one key/value pair of a canonical JSON object. key is the raw
// key text between the quotes (still escaped; every key this package looks
// for is plain ASCII and so is never escaped in canonical JSON); val is the
// complete canonical encoding of the value.
type member struct {
	key []byte
	val []byte
	// start and end delimit `"key":value` in the object's bytes.
	start, end int
}

// objIter iterates over the members of a canonical JSON object.
type objIter struct {
	b []byte
	i int
}

func newObjIter(obj []byte) objIter {
	if len(obj) < 2 || obj[0] != '{' {
		return objIter{}
	}
	return objIter{b: obj, i: 1}
}

// next returns the next member; ok is false at the end of the object.
func (it *objIter) next() (m member, ok bool) {
	b := it.b
	if it.i >= len(b) || b[it.i] == '}' {
		return member{}, false
	}
	if b[it.i] == ',' {
		it.i++
	}
	ks := it.i
	ke := skipString(b, ks)
	m.key = b[ks+1 : ke-1]
	vs := ke + 1 // skip ':'
	ve := skipValue(b, vs)
	m.val = b[vs:ve]
	m.start, m.end = ks, ve
	it.i = ve
	return m, true
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	i++
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']':
				return i
			}
			i++
		}
		return len(b)
	}
}

// lookup returns the value of key in the canonical object obj.
func lookup(obj []byte, key string) ([]byte, bool) {
	it := newObjIter(obj)
	for {
		m, ok := it.next()
		if !ok {
			return nil, false
		}
		if string(m.key) == key {
			return m.val, true
		}
	}
}

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
	it := newObjIter(obj)
next:
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		for _, d := range drop {
			if string(m.key) == d {
				continue next
			}
		}
		w.rawKey(m.key, m.val)
	}
	return w.end()
}

// withKey appends to dst the canonical object obj with key set to the
// canonical value val, replacing any existing value and keeping keys
// sorted. key must be plain ASCII needing no escapes.
func withKey(dst, obj []byte, key string, val []byte) []byte {
	w := beginObj(dst)
	done := false
	it := newObjIter(obj)
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		k := string(m.key)
		if !done && k >= key {
			w.raw(key, val)
			done = true
			if k == key {
				continue
			}
		}
		w.rawKey(m.key, m.val)
	}
	if !done {
		w.raw(key, val)
	}
	return w.end()
}
