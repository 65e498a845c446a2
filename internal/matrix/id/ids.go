package id

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sigils of the common identifier format.
const (
	SigilUser      = '@'
	SigilRoom      = '!'
	SigilEvent     = '$'
	SigilRoomAlias = '#'
)

// checkLength enforces the 255-byte limit shared by all sigilled IDs.
func checkLength(s string) error {
	if len(s) > MaxIDLength {
		return errString("longer than " + strconv.Itoa(MaxIDLength) + " bytes")
	}
	return nil
}

// splitSigilled checks the sigil and splits "&localpart:domain" at the first
// colon. Localparts never contain ':', so the first colon is the separator
// even when the server name is an IPv6 literal.
func splitSigilled(s string, sigil byte) (local, domain string, hasDomain bool, err error) {
	if s == "" || s[0] != sigil {
		return "", "", false, errString("must start with " + strconv.QuoteRune(rune(sigil)))
	}
	if err := checkLength(s); err != nil {
		return "", "", false, err
	}
	local, domain, hasDomain = strings.Cut(s[1:], ":")
	return local, domain, hasDomain, nil
}

// validateOpaqueLocalpart applies the lenient localpart rule the spec uses
// for room IDs, room aliases and historical user IDs: any valid
// non-surrogate Unicode code points except ':' and NUL. Go's UTF-8 decoder
// already rejects encoded surrogates.
func validateOpaqueLocalpart(local string) error {
	if !utf8.ValidString(local) {
		return errString("localpart is not valid UTF-8")
	}
	if strings.IndexByte(local, 0) >= 0 {
		return errString("localpart contains NUL")
	}
	if strings.IndexByte(local, ':') >= 0 {
		return errString("localpart contains ':'")
	}
	return nil
}

// checkServerScoped validates an identifier that must have the form
// sigil + localpart + ":" + server name, with the given localpart rule.
func checkServerScoped(s string, sigil byte, validateLocal func(string) error) error {
	local, domain, ok, err := splitSigilled(s, sigil)
	if err != nil {
		return err
	}
	if !ok {
		return errString("missing ':server'")
	}
	if err := validateLocal(local); err != nil {
		return err
	}
	return validateServerName(domain)
}

// UserID is a Matrix user ID, "@localpart:server".
type UserID string

// ParseUserID validates s as a user ID under the current grammar: a
// non-empty localpart of a-z, 0-9 and ._=-/+, a valid server name, at most
// 255 bytes in all. Use it for IDs this server creates or accepts from its
// own clients.
func ParseUserID(s string) (UserID, error) {
	if err := checkServerScoped(s, SigilUser, ValidateUserLocalpart); err != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidUserID, s, err)
	}
	return UserID(s), nil
}

// ParseUserIDLenient validates s as a user ID that may use the historical
// character set: the spec requires servers to accept localparts of any
// non-surrogate code points except ':' and NUL, including control
// characters and the empty string, because rooms' histories contain such
// senders. Use it for IDs arriving in events over federation; use
// [UserID.Historical] or [UserID.Compliant] to decide what to do with them.
func ParseUserIDLenient(s string) (UserID, error) {
	if err := checkServerScoped(s, SigilUser, validateOpaqueLocalpart); err != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidUserID, s, err)
	}
	return UserID(s), nil
}

// NewUserID builds "@localpart:server" and validates it under the current
// (strict) grammar, including the 255-byte limit.
func NewUserID(localpart string, server ServerName) (UserID, error) {
	return ParseUserID("@" + localpart + ":" + string(server))
}

// ValidateUserLocalpart checks a localpart against the current grammar,
// user_id_char = DIGIT / a-z / "-" / "." / "=" / "_" / "/" / "+". It is
// what registration uses for a requested username (after lower-casing).
func ValidateUserLocalpart(local string) error {
	if local == "" {
		return errString("empty localpart")
	}
	for i := 0; i < len(local); i++ {
		if !isUserIDChar(local[i]) {
			return errString("localpart contains " + strconv.QuoteRune(rune(local[i])) + "; only a-z, 0-9 and ._=-/+ are allowed")
		}
	}
	return nil
}

func isUserIDChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '=', '_', '/', '+':
		return true
	}
	return false
}

// String returns the user ID as written.
func (u UserID) String() string { return string(u) }

// Localpart returns the part between '@' and the first ':'.
func (u UserID) Localpart() string {
	local, _, _ := strings.Cut(strings.TrimPrefix(string(u), "@"), ":")
	return local
}

// Server returns the server name after the first ':'.
func (u UserID) Server() ServerName {
	_, domain, _ := strings.Cut(string(u), ":")
	return ServerName(domain)
}

// Historical reports whether the localpart falls outside the current
// grammar (and so could only have been parsed by ParseUserIDLenient).
func (u UserID) Historical() bool {
	return ValidateUserLocalpart(u.Localpart()) != nil
}

// Compliant reports whether the user ID is "compliant" in the spec's sense:
// a non-empty localpart of characters U+0021 to U+007E only. Servers SHOULD
// NOT forward non-compliant user IDs to clients outside the context of an
// event (for example, device list updates from them are dropped).
func (u UserID) Compliant() bool {
	local := u.Localpart()
	if local == "" {
		return false
	}
	for i := 0; i < len(local); i++ {
		if local[i] < 0x21 || local[i] > 0x7e {
			return false
		}
	}
	return true
}

// RoomID is a Matrix room ID: "!opaque:server" in room versions 1–11, or
// "!opaque" (the create event's ID with '!' for '$') from room version 12.
type RoomID string

// ParseRoomID validates s as a room ID of either form: '!' sigil, at most
// 255 bytes, a non-empty opaque part of valid Unicode without NUL, and, if
// a ':' is present, a valid server name after it. Whether the form suits
// the room's version is for the caller (roomversion) to decide.
func ParseRoomID(s string) (RoomID, error) {
	if err := validateOpaqueID(s, SigilRoom); err != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidRoomID, s, err)
	}
	return RoomID(s), nil
}

// validateOpaqueID implements the shared rules of room and event IDs.
func validateOpaqueID(s string, sigil byte) error {
	local, domain, hasDomain, err := splitSigilled(s, sigil)
	if err != nil {
		return err
	}
	if local == "" {
		return errString("empty opaque part")
	}
	if err := validateOpaqueLocalpart(local); err != nil {
		return err
	}
	if hasDomain {
		return validateServerName(domain)
	}
	return nil
}

// RoomIDFromCreateEvent returns the domain-less room ID of a room version 12
// room: the ID of its m.room.create event with the sigil '!' instead of '$'.
func RoomIDFromCreateEvent(create EventID) RoomID {
	return RoomID("!" + strings.TrimPrefix(string(create), "$"))
}

// String returns the room ID as written.
func (r RoomID) String() string { return string(r) }

// Localpart returns the opaque part between '!' and the first ':' (or the
// end, for domain-less room IDs).
func (r RoomID) Localpart() string {
	local, _, _ := strings.Cut(strings.TrimPrefix(string(r), "!"), ":")
	return local
}

// Server returns the server name of a room ID with a domain, or "" for a
// domain-less (room version 12+) room ID. The server is only a namespace:
// it does not imply that the room is available there.
func (r RoomID) Server() ServerName {
	_, domain, _ := strings.Cut(string(r), ":")
	return ServerName(domain)
}

// HasServer reports whether the room ID has a server part.
func (r RoomID) HasServer() bool { return strings.IndexByte(string(r), ':') >= 0 }

// CreateEventID returns, for a domain-less (room version 12+) room ID, the
// ID of the room's m.room.create event, and false for room IDs with a
// server part.
func (r RoomID) CreateEventID() (EventID, bool) {
	if r.HasServer() {
		return "", false
	}
	return EventID("$" + strings.TrimPrefix(string(r), "!")), true
}

// EventID is a Matrix event ID: "$opaque:server" in room versions 1 and 2,
// "$" + unpadded base64 of the reference hash from version 3 (standard
// alphabet in v3, URL-safe from v4).
type EventID string

// ParseEventID validates s as an event ID of any room version: '$' sigil,
// at most 255 bytes, a non-empty opaque part of valid Unicode without NUL,
// and, if a ':' is present, a valid server name after it. Hash-based IDs
// never contain ':' (neither base64 alphabet has it).
func ParseEventID(s string) (EventID, error) {
	if err := validateOpaqueID(s, SigilEvent); err != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidEventID, s, err)
	}
	return EventID(s), nil
}

// String returns the event ID as written.
func (e EventID) String() string { return string(e) }

// Localpart returns the opaque part between '$' and the first ':' (the
// whole hash for room version 3+ event IDs).
func (e EventID) Localpart() string {
	local, _, _ := strings.Cut(strings.TrimPrefix(string(e), "$"), ":")
	return local
}

// Server returns the server name of a room version 1–2 event ID, or "" for
// hash-based event IDs.
func (e EventID) Server() ServerName {
	_, domain, _ := strings.Cut(string(e), ":")
	return ServerName(domain)
}

// HasServer reports whether the event ID has a server part.
func (e EventID) HasServer() bool { return strings.IndexByte(string(e), ':') >= 0 }

// RoomAlias is a room alias, "#localpart:server".
type RoomAlias string

// ParseRoomAlias validates s as a room alias: '#' sigil, at most 255 bytes,
// a localpart of any valid non-surrogate code points except ':' and NUL,
// and a valid server name.
func ParseRoomAlias(s string) (RoomAlias, error) {
	if err := checkServerScoped(s, SigilRoomAlias, validateOpaqueLocalpart); err != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidRoomAlias, s, err)
	}
	return RoomAlias(s), nil
}

// NewRoomAlias builds "#localpart:server" and validates it.
func NewRoomAlias(localpart string, server ServerName) (RoomAlias, error) {
	return ParseRoomAlias("#" + localpart + ":" + string(server))
}

// String returns the alias as written.
func (a RoomAlias) String() string { return string(a) }

// Localpart returns the part between '#' and the first ':'.
func (a RoomAlias) Localpart() string {
	local, _, _ := strings.Cut(strings.TrimPrefix(string(a), "#"), ":")
	return local
}

// Server returns the server that owns the alias (the one to ask to resolve
// it).
func (a RoomAlias) Server() ServerName {
	_, domain, _ := strings.Cut(string(a), ":")
	return ServerName(domain)
}

// DeviceID identifies one of a user's devices. The spec gives it no
// grammar: clients may choose their own device IDs at login, so any
// non-empty UTF-8 string is accepted, up to a bound.
type DeviceID string

// MaxDeviceIDLength bounds client-chosen device IDs. It matches Synapse's
// limit, so a client that can log in there can log in here.
const MaxDeviceIDLength = 512

// ParseDeviceID validates a client-supplied device ID: non-empty, valid
// UTF-8, no NUL, at most MaxDeviceIDLength bytes.
func ParseDeviceID(s string) (DeviceID, error) {
	var reason string
	switch {
	case s == "":
		reason = "empty"
	case len(s) > MaxDeviceIDLength:
		reason = "longer than " + strconv.Itoa(MaxDeviceIDLength) + " bytes"
	case !utf8.ValidString(s):
		reason = "not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		reason = "contains NUL"
	default:
		return DeviceID(s), nil
	}
	return "", fmt.Errorf("%w %q: %s", ErrInvalidDeviceID, s, reason)
}

// String returns the device ID as written.
func (d DeviceID) String() string { return string(d) }
