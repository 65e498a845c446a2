// Package canonicaljson implements Matrix "Canonical JSON" (spec appendix
// "Signing JSON"): the one byte encoding of a JSON value that every server
// hashes and signs, so that two servers looking at the same event agree on
// its bytes.
//
// Canonical JSON is UTF-8, has no insignificant whitespace, sorts object keys
// by Unicode codepoint (which is the same as byte order of their UTF-8
// encoding, and so the same as Go's string ordering), escapes only `"`, `\`
// and the ASCII control characters (using the short forms \b \t \n \f \r
// where they exist and lower-case \u00XX otherwise), and allows only
// integers in [-(2^53-1), 2^53-1].
//
// The package has three entry points:
//
//   - [Marshal] encodes a Go value canonically.
//   - [Decode] parses untrusted bytes strictly into generic values.
//   - [Canonicalize] re-encodes untrusted bytes canonically without building
//     a tree of Go values.
//
// The decoder is a small hand-written scanner rather than encoding/json
// because encoding/json silently keeps the last of duplicate keys, accepts
// invalid UTF-8 (replacing it) and lone surrogates, and decodes numbers as
// float64: each of those would let two servers derive different canonical
// bytes, and so different hashes and signatures, from the same input.
// Every rejection is reported with an errors.Is-able sentinel (ErrSyntax,
// ErrDuplicateKey, ErrNumberOutOfRange, ErrFloat, ErrInvalidUTF8, ErrTooDeep,
// ErrTooLarge, ErrUnsupportedType) wrapped in an [*Error] carrying the byte
// offset; malformed input never panics.
//
// Numbers: the spec's own example canonicalizes `{"a":-0,"b":1e10}` to
// `{"a":0,"b":10000000000}`, so by default a number written with a fraction
// or exponent is accepted when its value is an exact integer in range, and
// rejected with ErrFloat otherwise. [Options.StrictNumbers] rejects every
// fraction or exponent, which matches what Synapse enforces for events in
// room versions 6 and later. [Options.AllowLargeIntegers] keeps plain integer
// literals outside the safe range (as [json.Number]), which room versions 1–5
// need because their events predate the range rule.
package canonicaljson
