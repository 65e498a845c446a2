package canonicaljson

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

const (
	// DefaultMaxDepth bounds nesting of arrays and objects. Matrix events
	// never come close; the bound exists so that hostile input cannot
	// exhaust the stack of the recursive scanner.
	DefaultMaxDepth = 128
	// DefaultMaxBytes bounds the input size when the caller does not set
	// one. It is generous enough for a federation transaction (50 PDUs of
	// at most 64 KiB each plus EDUs); callers checking a single event
	// should pass a tighter bound (65536 for a PDU).
	DefaultMaxBytes = 8 << 20

	// MaxSafeInteger is the largest integer canonical JSON allows,
	// 2^53-1: the largest integer a float64 holds exactly, so that
	// implementations whose JSON library uses doubles agree on the value.
	MaxSafeInteger = 1<<53 - 1
	// MinSafeInteger is the smallest integer canonical JSON allows.
	MinSafeInteger = -MaxSafeInteger
)

// Options tunes the scanner. The zero value applies the spec's rules with
// the default bounds.
type Options struct {
	// MaxBytes rejects input longer than this with ErrTooLarge; zero or
	// negative means DefaultMaxBytes.
	MaxBytes int
	// MaxDepth rejects nesting deeper than this with ErrTooDeep; zero or
	// negative means DefaultMaxDepth.
	MaxDepth int
	// StrictNumbers rejects every number written with a fraction or an
	// exponent (ErrFloat), even when its value is an integer such as 1e10
	// or 2.0. Use it where the peer's rules are "no floats at all", as for
	// events in room versions 6 and later.
	StrictNumbers bool
	// AllowLargeIntegers accepts integer literals (no fraction, no
	// exponent) outside [-(2^53-1), 2^53-1] instead of failing with
	// ErrNumberOutOfRange. Decode returns them as json.Number and the
	// encoders copy them through unchanged. Room versions 1–5 need this:
	// their events predate the range rule.
	AllowLargeIntegers bool
}

func (o Options) maxBytes() int {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

func (o Options) maxDepth() int {
	if o.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return o.MaxDepth
}

// Decode parses untrusted JSON strictly with the default Options. Objects
// become map[string]any, arrays []any, strings string, numbers int64,
// booleans bool and null nil.
func Decode(data []byte) (any, error) { return Options{}.Decode(data) }

// Canonicalize re-encodes untrusted JSON canonically with the default
// Options, applying the same checks as Decode.
func Canonicalize(data []byte) ([]byte, error) { return Options{}.Canonicalize(data) }

// Decode parses untrusted JSON strictly; see the package-level Decode. With
// AllowLargeIntegers, out-of-range integers are returned as json.Number.
func (o Options) Decode(data []byte) (any, error) {
	if len(data) > o.maxBytes() {
		return nil, tooLarge(len(data), o.maxBytes())
	}
	s := scanner{data: data, opts: o, maxDepth: o.maxDepth()}
	v, err := s.value()
	if err != nil {
		return nil, err
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// Canonicalize re-encodes untrusted JSON canonically. It does not build Go
// values: it streams the input into the output and only reorders the
// members of objects whose keys are not already sorted, which keeps it
// allocation-light.
func (o Options) Canonicalize(data []byte) ([]byte, error) {
	return o.AppendCanonical(make([]byte, 0, len(data)), data)
}

// AppendCanonical appends the canonical encoding of data to dst. On error
// it returns dst unchanged (its spare capacity may have been written to).
func (o Options) AppendCanonical(dst, data []byte) ([]byte, error) {
	if len(data) > o.maxBytes() {
		return dst, tooLarge(len(data), o.maxBytes())
	}
	var members [32]member // typical events need no more; avoids regrowth
	s := scanner{data: data, opts: o, maxDepth: o.maxDepth(), members: members[:0]}
	out, err := s.appendValue(dst)
	if err != nil {
		return dst, err
	}
	if err := s.end(); err != nil {
		return dst, err
	}
	return out, nil
}

func tooLarge(n, limit int) error {
	return &Error{Offset: -1, Err: ErrTooLarge, Detail: strconv.Itoa(n) + " bytes exceeds limit of " + strconv.Itoa(limit)}
}

// member records where one object member landed in the output while
// canonicalizing, so the object can be reordered once it is complete.
type member struct {
	key        []byte // decoded key; aliases the input unless it had escapes
	start, end int    // span of `"key":value` in the output
	offset     int    // input offset of the key, for error messages
}

type scanner struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	opts     Options

	scratch []byte   // unescaped string contents, reused
	members []member // stack of members of the objects being canonicalized
	reorder []byte   // copy of an object body while reordering, reused
}

func (s *scanner) fail(off int, sentinel error, detail string) error {
	return &Error{Offset: off, Err: sentinel, Detail: detail}
}

func (s *scanner) unexpected() error {
	if s.pos >= len(s.data) {
		return s.fail(s.pos, ErrSyntax, "unexpected end of input")
	}
	return s.fail(s.pos, ErrSyntax, "unexpected character "+strconv.QuoteRune(rune(s.data[s.pos])))
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// end checks that only whitespace follows the top-level value.
func (s *scanner) end() error {
	s.skipWS()
	if s.pos != len(s.data) {
		return s.fail(s.pos, ErrSyntax, "trailing data after top-level value")
	}
	return nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > s.maxDepth {
		return s.fail(s.pos, ErrTooDeep, "more than "+strconv.Itoa(s.maxDepth)+" levels")
	}
	return nil
}

// literal consumes one of true, false, null.
func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return s.unexpected()
	}
	s.pos += len(word)
	return nil
}

// value parses one value into generic Go values (Decode).
func (s *scanner) value() (any, error) {
	s.skipWS()
	if s.pos >= len(s.data) {
		return nil, s.unexpected()
	}
	switch c := s.data[s.pos]; c {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		start, end, escaped, err := s.scanString()
		if err != nil {
			return nil, err
		}
		if escaped {
			s.scratch = unescape(s.scratch[:0], s.data[start:end])
			return string(s.scratch), nil
		}
		return string(s.data[start:end]), nil
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	default:
		if c == '-' || isDigit(c) {
			n, big, err := s.scanNumber()
			if err != nil {
				return nil, err
			}
			if big != nil {
				return json.Number(big), nil
			}
			return n, nil
		}
		return nil, s.unexpected()
	}
}

func (s *scanner) object() (any, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	s.pos++ // '{'
	m := make(map[string]any)
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return m, nil
	}
	for {
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return nil, s.unexpected()
		}
		keyOff := s.pos
		start, end, escaped, err := s.scanString()
		if err != nil {
			return nil, err
		}
		var key string
		if escaped {
			s.scratch = unescape(s.scratch[:0], s.data[start:end])
			key = string(s.scratch)
		} else {
			key = string(s.data[start:end])
		}
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return nil, s.unexpected()
		}
		s.pos++
		v, err := s.value()
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			return nil, s.fail(keyOff, ErrDuplicateKey, strconv.Quote(key))
		}
		m[key] = v
		if done, err := s.afterElement('}'); err != nil {
			return nil, err
		} else if done {
			return m, nil
		}
	}
}

func (s *scanner) array() (any, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	s.pos++ // '['
	a := []any{}
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return a, nil
	}
	for {
		v, err := s.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := s.afterElement(']'); err != nil {
			return nil, err
		} else if done {
			return a, nil
		}
	}
}

// appendValue parses one value and appends its canonical form (Canonicalize).
func (s *scanner) appendValue(out []byte) ([]byte, error) {
	s.skipWS()
	if s.pos >= len(s.data) {
		return out, s.unexpected()
	}
	switch c := s.data[s.pos]; c {
	case '{':
		return s.appendObject(out)
	case '[':
		return s.appendArray(out)
	case '"':
		start, end, escaped, err := s.scanString()
		if err != nil {
			return out, err
		}
		if escaped {
			s.scratch = unescape(s.scratch[:0], s.data[start:end])
			return appendQuoted(out, s.scratch), nil
		}
		// A string without escapes is already canonical: scanString
		// rejected raw control characters and invalid UTF-8, and `"`
		// and `\` cannot appear unescaped.
		return append(append(append(out, '"'), s.data[start:end]...), '"'), nil
	case 't':
		return append(out, "true"...), s.literal("true")
	case 'f':
		return append(out, "false"...), s.literal("false")
	case 'n':
		return append(out, "null"...), s.literal("null")
	default:
		if c == '-' || isDigit(c) {
			n, big, err := s.scanNumber()
			if err != nil {
				return out, err
			}
			if big != nil {
				return append(out, big...), nil
			}
			return strconv.AppendInt(out, n, 10), nil
		}
		return out, s.unexpected()
	}
}

func (s *scanner) appendObject(out []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return out, err
	}
	s.pos++ // '{'
	out = append(out, '{')
	bodyStart := len(out)
	base := len(s.members)
	sorted := true
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return append(out, '}'), nil
	}
	for {
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return out, s.unexpected()
		}
		keyOff := s.pos
		start, end, escaped, err := s.scanString()
		if err != nil {
			return out, err
		}
		key := s.data[start:end]
		if escaped {
			// Needs its own storage: it must outlive nested values,
			// which reuse s.scratch.
			key = unescape(nil, key)
		}
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return out, s.unexpected()
		}
		s.pos++
		if len(s.members) > base {
			out = append(out, ',')
			if bytes.Compare(s.members[len(s.members)-1].key, key) >= 0 {
				sorted = false
			}
		}
		mStart := len(out)
		out = append(appendQuoted(out, key), ':')
		if out, err = s.appendValue(out); err != nil {
			return out, err
		}
		s.members = append(s.members, member{key: key, start: mStart, end: len(out), offset: keyOff})
		s.skipWS()
		if s.pos >= len(s.data) {
			return out, s.unexpected()
		}
		if s.data[s.pos] == ',' {
			s.pos++
			continue
		}
		if s.data[s.pos] != '}' {
			return out, s.unexpected()
		}
		s.pos++
		break
	}
	if !sorted {
		var err error
		if out, err = s.reorderObject(out, bodyStart, base); err != nil {
			return out, err
		}
	}
	s.members = s.members[:base]
	s.depth--
	return append(out, '}'), nil
}

// reorderObject sorts the members recorded since base by key, rejects
// duplicates, and rewrites the object body in out in sorted order.
func (s *scanner) reorderObject(out []byte, bodyStart, base int) ([]byte, error) {
	ms := s.members[base:]
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(ms); i++ {
		if bytes.Equal(ms[i-1].key, ms[i].key) {
			off := max(ms[i-1].offset, ms[i].offset)
			return out, s.fail(off, ErrDuplicateKey, strconv.Quote(string(ms[i].key)))
		}
	}
	s.reorder = append(s.reorder[:0], out[bodyStart:]...)
	out = out[:bodyStart]
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, s.reorder[m.start-bodyStart:m.end-bodyStart]...)
	}
	return out, nil
}

func (s *scanner) appendArray(out []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return out, err
	}
	s.pos++ // '['
	out = append(out, '[')
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return append(out, ']'), nil
	}
	for {
		var err error
		if out, err = s.appendValue(out); err != nil {
			return out, err
		}
		done, err := s.afterElement(']')
		if err != nil {
			return out, err
		}
		if done {
			return append(out, ']'), nil
		}
		out = append(out, ',')
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

// hex4 decodes the four hex digits at data[i:i+4].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}

// scanString validates the string starting at s.pos (which must be '"')
// and returns the span of its raw contents. escaped reports whether the
// contents contain backslash escapes and so need unescape.
func (s *scanner) scanString() (start, end int, escaped bool, err error) {
	data := s.data
	i := s.pos + 1
	start = i
	for i < len(data) {
		c := data[i]
		if c >= 0x20 && c < 0x80 && c != '"' && c != '\\' {
			i++
			continue
		}
		switch {
		case c == '"':
			s.pos = i + 1
			return start, i, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return 0, 0, false, s.fail(i, ErrSyntax, "unterminated escape")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					return 0, 0, false, s.fail(i, ErrSyntax, `invalid \u escape`)
				}
				if r >= 0xDC00 && r <= 0xDFFF {
					return 0, 0, false, s.fail(i, ErrInvalidUTF8, "lone low surrogate")
				}
				if r >= 0xD800 && r <= 0xDBFF {
					if i+12 > len(data) || data[i+6] != '\\' || data[i+7] != 'u' {
						return 0, 0, false, s.fail(i, ErrInvalidUTF8, "lone high surrogate")
					}
					r2, ok := hex4(data, i+8)
					if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						return 0, 0, false, s.fail(i, ErrInvalidUTF8, "lone high surrogate")
					}
					i += 6
				}
				i += 6
			default:
				return 0, 0, false, s.fail(i, ErrSyntax, "invalid escape")
			}
		case c < 0x20:
			return 0, 0, false, s.fail(i, ErrSyntax, "control character in string")
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, 0, false, s.fail(i, ErrInvalidUTF8, "invalid UTF-8 in string")
			}
			i += size
		}
	}
	return 0, 0, false, s.fail(len(data), ErrSyntax, "unterminated string")
}

// unescape appends the decoded form of raw string contents that
// scanString has already validated.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			return append(dst, raw[i:]...)
		}
		dst = append(dst, raw[i:i+j]...)
		i += j
		switch raw[i+1] {
		case '"', '\\', '/':
			dst = append(dst, raw[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if r >= 0xD800 && r <= 0xDBFF {
				r2, _ := hex4(raw, i+8)
				r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 4
		}
		i += 2
	}
	return dst
}

// scanNumber parses the number at s.pos. It returns the value as int64, or,
// for an out-of-range integer literal accepted by AllowLargeIntegers, the
// literal itself in big.
func (s *scanner) scanNumber() (n int64, big []byte, err error) {
	data := s.data
	start := s.pos
	i := start
	neg := data[i] == '-'
	if neg {
		i++
	}
	intStart := i
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		s.pos = i
		return 0, nil, s.unexpected()
	}
	intEnd := i
	fracStart, fracEnd := i, i
	hasFrac, hasExp := false, false
	if i < len(data) && data[i] == '.' {
		hasFrac = true
		i++
		fracStart = i
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		if i == fracStart {
			s.pos = i
			return 0, nil, s.unexpected()
		}
		fracEnd = i
	}
	exp := 0
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		hasExp = true
		i++
		expNeg := false
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			expNeg = data[i] == '-'
			i++
		}
		expStart := i
		for i < len(data) && isDigit(data[i]) {
			if exp < 1<<30 { // saturate: anything this big is out of range anyway
				exp = exp*10 + int(data[i]-'0')
			}
			i++
		}
		if i == expStart {
			s.pos = i
			return 0, nil, s.unexpected()
		}
		if expNeg {
			exp = -exp
		}
	}
	s.pos = i

	if !hasFrac && !hasExp {
		digits := data[intStart:intEnd]
		if len(digits) <= 16 {
			var u uint64
			for _, c := range digits {
				u = u*10 + uint64(c-'0')
			}
			if u <= MaxSafeInteger {
				if neg {
					return -int64(u), nil, nil
				}
				return int64(u), nil, nil
			}
		}
		if s.opts.AllowLargeIntegers {
			return 0, data[start:i], nil
		}
		return 0, nil, s.fail(start, ErrNumberOutOfRange, string(data[start:i]))
	}

	if s.opts.StrictNumbers {
		return 0, nil, s.fail(start, ErrFloat, string(data[start:i]))
	}
	// The value is the digit string int‖frac times 10^(exp-len(frac)).
	// Strip leading and trailing zeros to find the significant digits.
	nInt := intEnd - intStart
	total := nInt + fracEnd - fracStart
	digitAt := func(k int) byte {
		if k < nInt {
			return data[intStart+k]
		}
		return data[fracStart+k-nInt]
	}
	first := 0
	for first < total && digitAt(first) == '0' {
		first++
	}
	if first == total {
		return 0, nil, nil // some spelling of zero, including -0.0e5
	}
	last := total - 1
	for digitAt(last) == '0' {
		last--
	}
	e := exp - (fracEnd - fracStart) + (total - 1 - last)
	if e < 0 {
		return 0, nil, s.fail(start, ErrFloat, string(data[start:i]))
	}
	sig := last - first + 1
	if sig+e > 16 {
		return 0, nil, s.fail(start, ErrNumberOutOfRange, string(data[start:i]))
	}
	var u uint64
	for k := first; k <= last; k++ {
		u = u*10 + uint64(digitAt(k)-'0')
	}
	for range e {
		u *= 10
	}
	if u > MaxSafeInteger {
		return 0, nil, s.fail(start, ErrNumberOutOfRange, string(data[start:i]))
	}
	if neg {
		return -int64(u), nil, nil
	}
	return int64(u), nil, nil
}

// afterElement consumes what follows an object member or array element:
// a comma, or the closing byte, which ends the container (done).
func (s *scanner) afterElement(closing byte) (done bool, err error) {
	s.skipWS()
	if s.pos >= len(s.data) {
		return false, s.unexpected()
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case closing:
		s.pos++
		s.depth--
		return true, nil
	}
	return false, s.unexpected()
}
