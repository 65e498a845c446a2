// Package streams holds the positions of the server's event streams and
// wakes the long-polling /sync requests that wait on them.
//
// Each stream (room events, account data, receipts, ...) has its own
// monotonic position. A sync token is the position of every stream at the
// moment the response was computed, so the next sync asks each stream for
// what came after.
package streams

import (
	"errors"
	"strconv"
	"strings"
)

// ErrBadToken is returned by ParseToken for a token this server did not
// issue.
var ErrBadToken = errors.New("streams: invalid sync token")

// Token is a position in every stream.
type Token struct {
	Events      int64
	AccountData int64
	Receipts    int64
	Typing      int64 // in memory: restarts from zero with the server
	ToDevice    int64
	DeviceLists int64
	Presence    int64
}

// fields lists the token's positions in their encoded order. Appending a
// stream at the end keeps older tokens parseable.
func (t *Token) fields() []*int64 {
	return []*int64{&t.Events, &t.AccountData, &t.Receipts, &t.Typing, &t.ToDevice, &t.DeviceLists, &t.Presence}
}

// tokenPrefix starts every token; it lets a later format change be told
// apart from this one.
const tokenPrefix = "s"

// String encodes the token as "s<events>_<account data>_<receipts>_...".
func (t Token) String() string {
	var b strings.Builder
	b.WriteString(tokenPrefix)
	for i, f := range t.fields() {
		if i > 0 {
			b.WriteByte('_')
		}
		b.WriteString(strconv.FormatInt(*f, 10))
	}
	return b.String()
}

// ParseToken decodes a token made by String. Missing trailing positions
// (as in the events-only tokens /messages issues) are zero.
func ParseToken(s string) (Token, error) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return Token{}, ErrBadToken
	}
	var t Token
	fields := t.fields()
	parts := strings.Split(rest, "_")
	if len(parts) > len(fields) {
		return Token{}, ErrBadToken
	}
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 {
			return Token{}, ErrBadToken
		}
		*fields[i] = v
	}
	return t, nil
}

// After reports whether any stream of t is past other.
func (t Token) After(other Token) bool {
	a, b := t.fields(), other.fields()
	for i := range a {
		if *a[i] > *b[i] {
			return true
		}
	}
	return false
}

// Max is the later of t and other, stream by stream.
func (t Token) Max(other Token) Token {
	out := t
	o, b := out.fields(), other.fields()
	for i := range o {
		*o[i] = max(*o[i], *b[i])
	}
	return out
}

// Min is the earlier of t and other, stream by stream.
func (t Token) Min(other Token) Token {
	out := t
	o, b := out.fields(), other.fields()
	for i := range o {
		*o[i] = min(*o[i], *b[i])
	}
	return out
}
