package canonicaljson

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can map a rejection to a protocol error code with
// errors.Is (for example M_NOT_JSON vs M_BAD_JSON vs M_TOO_LARGE).
var (
	// ErrSyntax reports input that is not JSON at all.
	ErrSyntax = errors.New("invalid JSON syntax")
	// ErrDuplicateKey reports an object with the same key twice: JSON
	// parsers disagree on which one wins, so accepting it would let two
	// servers see different content under one signature.
	ErrDuplicateKey = errors.New("duplicate object key")
	// ErrNumberOutOfRange reports an integer outside [-(2^53-1), 2^53-1].
	ErrNumberOutOfRange = errors.New("integer out of canonical JSON range")
	// ErrFloat reports a non-integer number (or, with StrictNumbers, any
	// number written with a fraction or exponent); canonical JSON has no
	// floats.
	ErrFloat = errors.New("non-integer number")
	// ErrInvalidUTF8 reports invalid UTF-8 or a lone UTF-16 surrogate in a
	// \u escape; neither can be represented in canonical (UTF-8) JSON.
	ErrInvalidUTF8 = errors.New("invalid UTF-8 or lone surrogate")
	// ErrTooDeep reports nesting deeper than the configured bound, which
	// protects the recursive scanner's stack.
	ErrTooDeep = errors.New("JSON nested too deeply")
	// ErrTooLarge reports input larger than the configured bound.
	ErrTooLarge = errors.New("JSON input too large")
	// ErrUnsupportedType reports a Go value Marshal cannot encode
	// (channels, functions, complex numbers, maps with non-string keys...).
	ErrUnsupportedType = errors.New("unsupported Go type")
)

// Error is the concrete error type returned by Decode and Canonicalize. It
// records where in the input the problem was found.
type Error struct {
	// Offset is the byte offset in the input at which the problem was
	// detected (-1 when it does not apply, e.g. for Marshal).
	Offset int
	// Err is one of the package's sentinel errors.
	Err error
	// Detail is an optional human-readable explanation.
	Detail string
}

func (e *Error) Error() string {
	msg := "canonicaljson: " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" (at byte %d)", e.Offset)
	}
	return msg
}

// Unwrap lets errors.Is match the sentinel.
func (e *Error) Unwrap() error { return e.Err }
