// Package id defines Matrix identifiers as distinct string types — UserID,
// RoomID, EventID, RoomAlias, ServerName, DeviceID — so that a room ID can
// never be passed where a user ID is expected, and so that validation
// against the grammars of the spec appendix "Identifier Grammar" happens
// once, at the edge, in the Parse functions.
//
// A value of one of these types obtained from a Parse or New function is
// valid; a value made by a plain conversion (id.UserID("...")) is not
// checked, which is occasionally useful for trusted data from our own
// database but should not be used for input from the network.
package id

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Sentinel errors, one per identifier kind, so that handlers can pick the
// right Matrix error code with errors.Is.
var (
	ErrInvalidServerName = errors.New("invalid server name")
	ErrInvalidUserID     = errors.New("invalid user ID")
	ErrInvalidRoomID     = errors.New("invalid room ID")
	ErrInvalidEventID    = errors.New("invalid event ID")
	ErrInvalidRoomAlias  = errors.New("invalid room alias")
	ErrInvalidDeviceID   = errors.New("invalid device ID")
)

// MaxIDLength is the limit, in bytes, on user IDs, room IDs, event IDs and
// room aliases including sigil and server name. The spec derives it from
// the size of the event `sender` field: an ID appears in every event, so it
// must not dominate the event's size.
const MaxIDLength = 255

// MaxServerNameLength bounds a server name. The grammar allows a DNS name
// of up to 255 characters; since a server name only ever travels inside an
// identifier of at most 255 bytes (with sigil and separator), nothing longer
// can be useful.
const MaxServerNameLength = 255

// ServerName is a homeserver's name: a hostname (DNS name, IPv4 literal or
// bracketed IPv6 literal) with an optional port. Server names compare
// case-sensitively, as the spec requires.
type ServerName string

// ParseServerName validates s against the server_name grammar of the
// spec appendix:
//
//	server_name = hostname [ ":" port ]
//	hostname    = IPv4address / "[" IPv6address "]" / dns-name
//
// IPv4 literals must have four octets of 0–255; IPv6 literals must be valid
// RFC 3513 addresses (no zone); DNS names are dot-separated non-empty labels
// of letters, digits and hyphens. A port must be 1–65535.
func ParseServerName(s string) (ServerName, error) {
	if err := validateServerName(s); err != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidServerName, s, err)
	}
	return ServerName(s), nil
}

// errString is a tiny error for the reasons behind a sentinel; callers of
// the package see it only as text inside the wrapped sentinel's message.
type errString string

func (e errString) Error() string { return string(e) }

func validateServerName(s string) error {
	if s == "" {
		return errString("empty")
	}
	if len(s) > MaxServerNameLength {
		return errString("longer than " + strconv.Itoa(MaxServerNameLength) + " bytes")
	}
	host, port, hasPort := splitHostPort(s)
	if hasPort {
		if err := validatePort(port); err != nil {
			return err
		}
	}
	return validateHost(host)
}

// splitHostPort splits off a ":port" suffix. For IPv6 literals the port can
// only follow the closing bracket.
func splitHostPort(s string) (host, port string, hasPort bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end >= 0 && end+1 < len(s) && s[end+1] == ':' {
			return s[:end+1], s[end+2:], true
		}
		return s, "", false
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func validatePort(port string) error {
	if port == "" || len(port) > 5 {
		return errString("port must be 1 to 5 digits")
	}
	n := 0
	for i := 0; i < len(port); i++ {
		c := port[i]
		if c < '0' || c > '9' {
			return errString("port must be decimal digits")
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > 65535 {
		return errString("port out of range 1-65535")
	}
	return nil
}

func validateHost(host string) error {
	if host == "" {
		return errString("empty hostname")
	}
	if host[0] == '[' {
		if len(host) < 2 || host[len(host)-1] != ']' {
			return errString("unterminated IPv6 literal")
		}
		lit := host[1 : len(host)-1]
		// IPv6address = 2*45IPv6char
		if len(lit) < 2 || len(lit) > 45 {
			return errString("IPv6 literal length out of range")
		}
		for i := 0; i < len(lit); i++ {
			if !isIPv6Char(lit[i]) {
				return errString("invalid character in IPv6 literal")
			}
		}
		addr, err := netip.ParseAddr(lit)
		if err != nil || !addr.Is6() {
			return errString("invalid IPv6 literal")
		}
		return nil
	}
	if looksLikeIPv4(host) {
		// Four groups of 1–3 digits is the IPv4 production, whose octets
		// must be 0–255; "1.2.3.400" is not a DNS name in disguise.
		for _, part := range strings.Split(host, ".") {
			if n, _ := strconv.Atoi(part); n > 255 {
				return errString("IPv4 octet out of range")
			}
		}
		return nil
	}
	// dns-name: labels of ALPHA / DIGIT / "-" separated by single dots.
	label := 0
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c == '.':
			if label == 0 {
				return errString("empty DNS label")
			}
			label = 0
		case isAlnum(c) || c == '-':
			label++
		default:
			return errString("invalid character " + strconv.QuoteRune(rune(c)) + " in hostname")
		}
	}
	if label == 0 {
		return errString("empty DNS label")
	}
	return nil
}

// looksLikeIPv4 reports whether host matches
// 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT.
func looksLikeIPv4(host string) bool {
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

func isIPv6Char(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// String returns the server name as written.
func (s ServerName) String() string { return string(s) }

// Host returns the hostname part: the DNS name, IPv4 literal, or the IPv6
// literal including its brackets.
func (s ServerName) Host() string {
	host, _, _ := splitHostPort(string(s))
	return host
}

// Port returns the explicit port and true, or 0 and false when the server
// name has none (server discovery then applies).
func (s ServerName) Port() (int, bool) {
	_, port, ok := splitHostPort(string(s))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, false
	}
	return n, true
}

// IsIPLiteral reports whether the hostname is an IPv4 or IPv6 literal,
// which server discovery treats differently from DNS names.
func (s ServerName) IsIPLiteral() bool {
	host := s.Host()
	return strings.HasPrefix(host, "[") || looksLikeIPv4(host)
}
