package id

import (
	"errors"
	"strings"
	"testing"
)

func TestParseServerName(t *testing.T) {
	long := strings.Repeat("a", 250) + ".org" // 254 bytes
	tests := []struct {
		in   string
		ok   bool
		host string
		port int
	}{
		// The spec's examples.
		{"matrix.org", true, "matrix.org", 0},
		{"matrix.org:8888", true, "matrix.org", 8888},
		{"1.2.3.4", true, "1.2.3.4", 0},
		{"1.2.3.4:1234", true, "1.2.3.4", 1234},
		{"[1234:5678::abcd]", true, "[1234:5678::abcd]", 0},
		{"[1234:5678::abcd]:5678", true, "[1234:5678::abcd]", 5678},
		// More valid names.
		{"localhost", true, "localhost", 0},
		{"hs1", true, "hs1", 0},
		{"MATRIX.ORG", true, "MATRIX.ORG", 0},
		{"my-server.example.com", true, "my-server.example.com", 0},
		{"a", true, "a", 0},
		{"example.org:1", true, "example.org", 1},
		{"example.org:65535", true, "example.org", 65535},
		{"0.0.0.0", true, "0.0.0.0", 0},
		{"255.255.255.255:443", true, "255.255.255.255", 443},
		{"[::1]", true, "[::1]", 0},
		{"[::1]:8448", true, "[::1]", 8448},
		{"[::ffff:1.2.3.4]", true, "[::ffff:1.2.3.4]", 0},
		{"[2001:DB8::1]", true, "[2001:DB8::1]", 0},
		{"1.2.3", true, "1.2.3", 0}, // not an IPv4 literal, but a valid dns-name
		{"1.2.3.4.5", true, "1.2.3.4.5", 0},
		{long, true, long, 0},
		// Invalid.
		{"", false, "", 0},
		{":8448", false, "", 0},
		{"example.org:", false, "", 0},
		{"example.org:0", false, "", 0},
		{"example.org:65536", false, "", 0},
		{"example.org:123456", false, "", 0},
		{"example.org:-1", false, "", 0},
		{"example.org:8a", false, "", 0},
		{"example.org:80:80", false, "", 0},
		{"exa_mple.org", false, "", 0},
		{"example..org", false, "", 0},
		{".example.org", false, "", 0},
		{"example.org.", false, "", 0},
		{"exämple.org", false, "", 0},
		{"example.org/path", false, "", 0},
		{"ex ample.org", false, "", 0},
		{"1.2.3.256", false, "", 0},
		{"1.2.3.400:80", false, "", 0},
		{"[1234:5678::abcd", false, "", 0},
		{"1234:5678::abcd", false, "", 0}, // IPv6 needs brackets
		{"[]", false, "", 0},
		{"[:]", false, "", 0},
		{"[1.2.3.4]", false, "", 0},
		{"[::1%eth0]", false, "", 0},
		{"[12345::]", false, "", 0},
		{"[::1]x", false, "", 0},
		{"[::1]:", false, "", 0},
		{"[::1]:0", false, "", 0},
		{strings.Repeat("a", 256), false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseServerName(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseServerName(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, ErrInvalidServerName) {
					t.Errorf("error %v does not wrap ErrInvalidServerName", err)
				}
				return
			}
			if got.Host() != tt.host {
				t.Errorf("Host() = %q, want %q", got.Host(), tt.host)
			}
			port, hasPort := got.Port()
			if port != tt.port || hasPort != (tt.port != 0) {
				t.Errorf("Port() = %d, %v; want %d", port, hasPort, tt.port)
			}
		})
	}
}

func TestServerNameIsIPLiteral(t *testing.T) {
	for in, want := range map[ServerName]bool{
		"1.2.3.4": true, "1.2.3.4:80": true, "[::1]": true, "[::1]:80": true,
		"example.org": false, "1.2.3": false, "localhost:80": false,
	} {
		if got := in.IsIPLiteral(); got != want {
			t.Errorf("%q.IsIPLiteral() = %v, want %v", in, got, want)
		}
	}
}

func TestParseUserID(t *testing.T) {
	maxLocal := strings.Repeat("a", MaxIDLength-len("@:example.org"))
	tests := []struct {
		in              string
		strict, lenient bool
		local           string
		server          ServerName
	}{
		{"@alice:example.org", true, true, "alice", "example.org"},
		{"@a.b_c=d-e/f+g:example.org", true, true, "a.b_c=d-e/f+g", "example.org"},
		{"@0:hs1", true, true, "0", "hs1"},
		{"@alice:example.org:8448", true, true, "alice", "example.org:8448"},
		{"@alice:[::1]:8448", true, true, "alice", "[::1]:8448"},
		{"@alice:1.2.3.4", true, true, "alice", "1.2.3.4"},
		{"@" + maxLocal + ":example.org", true, true, maxLocal, "example.org"},
		// Historical: accepted only leniently.
		{"@Alice:example.org", false, true, "Alice", "example.org"},
		{"@alice smith:example.org", false, true, "alice smith", "example.org"},
		{"@:example.org", false, true, "", "example.org"},
		{"@日本:example.org", false, true, "日本", "example.org"},
		{"@a\x01b:example.org", false, true, "a\x01b", "example.org"},
		{"@a#b!c:example.org", false, true, "a#b!c", "example.org"},
		// Invalid in both.
		{"", false, false, "", ""},
		{"alice:example.org", false, false, "", ""},
		{"!alice:example.org", false, false, "", ""},
		{"@alice", false, false, "", ""},
		{"@alice:", false, false, "", ""},
		{"@alice:bad_server", false, false, "", ""},
		{"@a\x00b:example.org", false, false, "", ""},
		{"@a\xffb:example.org", false, false, "", ""},
		{"@a\xed\xa0\x80b:example.org", false, false, "", ""}, // UTF-8 encoded surrogate
		{"@" + maxLocal + "a:example.org", false, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUserID(tt.in)
			if (err == nil) != tt.strict {
				t.Errorf("ParseUserID(%q) error = %v, want ok=%v", tt.in, err, tt.strict)
			}
			if err != nil && !errors.Is(err, ErrInvalidUserID) {
				t.Errorf("ParseUserID error %v does not wrap ErrInvalidUserID", err)
			}
			lgot, lerr := ParseUserIDLenient(tt.in)
			if (lerr == nil) != tt.lenient {
				t.Errorf("ParseUserIDLenient(%q) error = %v, want ok=%v", tt.in, lerr, tt.lenient)
			}
			if lerr != nil {
				if !errors.Is(lerr, ErrInvalidUserID) {
					t.Errorf("ParseUserIDLenient error %v does not wrap ErrInvalidUserID", lerr)
				}
				return
			}
			if tt.strict && got != lgot {
				t.Errorf("strict %q != lenient %q", got, lgot)
			}
			if lgot.Localpart() != tt.local || lgot.Server() != tt.server {
				t.Errorf("Localpart, Server = %q, %q; want %q, %q", lgot.Localpart(), lgot.Server(), tt.local, tt.server)
			}
			if lgot.Historical() == tt.strict {
				t.Errorf("Historical() = %v, want %v", lgot.Historical(), !tt.strict)
			}
		})
	}
}

func TestUserIDCompliant(t *testing.T) {
	for in, want := range map[UserID]bool{
		"@alice:example.org":    true,
		"@Alice!#:example.org":  true, // historical but within U+0021..U+007E
		"@:example.org":         false,
		"@a b:example.org":      false,
		"@日本:example.org":       false,
		"@a\x7fb:example.org":   false,
		"@a\x01b:example.org":   false,
		"@~weird~:example.org":  true,
		"@alice:example.org:80": true,
	} {
		if got := in.Compliant(); got != want {
			t.Errorf("%q.Compliant() = %v, want %v", in, got, want)
		}
	}
}

func TestNewUserID(t *testing.T) {
	u, err := NewUserID("alice", "example.org")
	if err != nil || u != "@alice:example.org" {
		t.Errorf("NewUserID = %q, %v", u, err)
	}
	for _, tc := range []struct {
		local  string
		server ServerName
	}{
		{"Alice", "example.org"},
		{"", "example.org"},
		{"a:b", "example.org"},
		{"alice", ""},
		{"alice", "bad server"},
		{strings.Repeat("a", 250), "example.org"},
	} {
		if u, err := NewUserID(tc.local, tc.server); !errors.Is(err, ErrInvalidUserID) {
			t.Errorf("NewUserID(%q, %q) = %q, %v; want ErrInvalidUserID", tc.local, tc.server, u, err)
		}
	}
}

func TestParseRoomID(t *testing.T) {
	tests := []struct {
		in        string
		ok        bool
		local     string
		server    ServerName
		hasServer bool
	}{
		{"!OGEhHVWSdvArJzumhm:matrix.org", true, "OGEhHVWSdvArJzumhm", "matrix.org", true},
		{"!x:domain", true, "x", "domain", true},
		{"!x:[::1]:8448", true, "x", "[::1]:8448", true},
		{"!日本\x01:example.org", true, "日本\x01", "example.org", true},
		// Room version 12: no server part.
		{"!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM", true, "31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM", "", false},
		{"", false, "", "", false},
		{"!", false, "", "", false},
		{"!:example.org", false, "", "", false},
		{"$x:example.org", false, "", "", false},
		{"x:example.org", false, "", "", false},
		{"!x:", false, "", "", false},
		{"!x:bad_server", false, "", "", false},
		{"!x\x00:example.org", false, "", "", false},
		{"!\xff", false, "", "", false},
		{"!" + strings.Repeat("a", 255), false, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRoomID(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseRoomID(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidRoomID) {
					t.Errorf("error %v does not wrap ErrInvalidRoomID", err)
				}
				return
			}
			if got.Localpart() != tt.local || got.Server() != tt.server || got.HasServer() != tt.hasServer {
				t.Errorf("Localpart, Server, HasServer = %q, %q, %v", got.Localpart(), got.Server(), got.HasServer())
			}
		})
	}
}

func TestRoomIDCreateEvent(t *testing.T) {
	ev := EventID("$31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM")
	room := RoomIDFromCreateEvent(ev)
	if room != "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM" {
		t.Errorf("RoomIDFromCreateEvent = %q", room)
	}
	if back, ok := room.CreateEventID(); !ok || back != ev {
		t.Errorf("CreateEventID = %q, %v; want %q", back, ok, ev)
	}
	if _, ok := RoomID("!a:example.org").CreateEventID(); ok {
		t.Error("CreateEventID of a room ID with a server part should be false")
	}
}

func TestParseEventID(t *testing.T) {
	tests := []struct {
		in     string
		ok     bool
		server ServerName
	}{
		{"$0:domain", true, "domain"},                              // room versions 1-2
		{"$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o", true, ""}, // v3: standard base64
		{"$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk", true, ""}, // '/' allowed
		{"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", true, ""}, // v4+: URL-safe
		{"$abc:[1234:5678::abcd]:5678", true, "[1234:5678::abcd]:5678"},
		{"", false, ""},
		{"$", false, ""},
		{"$:domain", false, ""},
		{"!abc", false, ""},
		{"$abc:", false, ""},
		{"$abc:bad server", false, ""},
		{"$a\x00", false, ""},
		{"$" + strings.Repeat("a", 255), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEventID(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseEventID(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidEventID) {
					t.Errorf("error %v does not wrap ErrInvalidEventID", err)
				}
				return
			}
			if got.Server() != tt.server || got.HasServer() != (tt.server != "") {
				t.Errorf("Server, HasServer = %q, %v", got.Server(), got.HasServer())
			}
		})
	}
}

func TestParseRoomAlias(t *testing.T) {
	tests := []struct {
		in     string
		ok     bool
		local  string
		server ServerName
	}{
		{"#room:example.org", true, "room", "example.org"},
		{"#Room With Spaces!:example.org", true, "Room With Spaces!", "example.org"},
		{"#日本:example.org:8448", true, "日本", "example.org:8448"},
		{"#:example.org", true, "", "example.org"},
		{"", false, "", ""},
		{"#room", false, "", ""},
		{"room:example.org", false, "", ""},
		{"@room:example.org", false, "", ""},
		{"#room:", false, "", ""},
		{"#room:ex ample.org", false, "", ""},
		{"#ro\x00om:example.org", false, "", ""},
		{"#\xc3:example.org", false, "", ""},
		{"#" + strings.Repeat("a", 243) + ":example.org", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRoomAlias(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseRoomAlias(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidRoomAlias) {
					t.Errorf("error %v does not wrap ErrInvalidRoomAlias", err)
				}
				return
			}
			if got.Localpart() != tt.local || got.Server() != tt.server {
				t.Errorf("Localpart, Server = %q, %q", got.Localpart(), got.Server())
			}
		})
	}
	if a, err := NewRoomAlias("room", "example.org"); err != nil || a != "#room:example.org" {
		t.Errorf("NewRoomAlias = %q, %v", a, err)
	}
}

func TestParseDeviceID(t *testing.T) {
	for _, in := range []string{"ABCDEFGHIJ", "my device", "日本", "a:b", strings.Repeat("x", MaxDeviceIDLength)} {
		if got, err := ParseDeviceID(in); err != nil || string(got) != in {
			t.Errorf("ParseDeviceID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "a\x00b", "\xff", strings.Repeat("x", MaxDeviceIDLength+1)} {
		if _, err := ParseDeviceID(in); !errors.Is(err, ErrInvalidDeviceID) {
			t.Errorf("ParseDeviceID(%q) error = %v, want ErrInvalidDeviceID", in, err)
		}
	}
}

func TestValidateUserLocalpart(t *testing.T) {
	for _, in := range []string{"a", "alice", "0123", "a.b_c=d-e/f+g"} {
		if err := ValidateUserLocalpart(in); err != nil {
			t.Errorf("ValidateUserLocalpart(%q) = %v", in, err)
		}
	}
	for _, in := range []string{"", "A", "a b", "a:b", "a@b", "a*b", "é", "a#b"} {
		if err := ValidateUserLocalpart(in); err == nil {
			t.Errorf("ValidateUserLocalpart(%q) = nil, want error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"@alice:example.org", "!x:[::1]:80", "$abc", "#a:b", "1.2.3.4:5", "@:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if u, err := ParseUserID(s); err == nil {
			if _, err := ParseUserIDLenient(s); err != nil {
				t.Fatalf("strict accepts %q, lenient rejects: %v", s, err)
			}
			if back, err := NewUserID(u.Localpart(), u.Server()); err != nil || back != u {
				t.Fatalf("round trip %q -> %q, %v", s, back, err)
			}
		}
		if u, err := ParseUserIDLenient(s); err == nil {
			if len(s) > MaxIDLength || "@"+u.Localpart()+":"+string(u.Server()) != s {
				t.Fatalf("bad split of %q", s)
			}
			if _, err := ParseServerName(string(u.Server())); err != nil {
				t.Fatalf("accepted %q with bad server: %v", s, err)
			}
		}
		if sn, err := ParseServerName(s); err == nil {
			if port, ok := sn.Port(); ok && (port < 1 || port > 65535) {
				t.Fatalf("port %d", port)
			}
		}
		_, _ = ParseRoomID(s)
		_, _ = ParseEventID(s)
		_, _ = ParseRoomAlias(s)
	})
}
