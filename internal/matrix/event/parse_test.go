package event

import (
	"errors"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// pduV3 and pduV1 are minimal valid PDUs in the v3+ and v1/v2 formats; each
// test case replaces one piece of text.
const (
	pduV3 = `{"auth_events":["$a"],"content":{"body":"x"},"depth":12,"hashes":{"sha256":"h"},"origin_server_ts":5,"prev_events":["$p"],"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}},"type":"m.room.message"}`
	pduV1 = `{"auth_events":[["$a:x",{"sha256":"h"}]],"content":{"body":"x"},"depth":12,"event_id":"$e:x","hashes":{"sha256":"h"},"origin_server_ts":5,"prev_events":[["$p:x",{"sha256":"h"}]],"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}},"type":"m.room.message"}`
)

func TestParseValidation(t *testing.T) {
	s255 := strings.Repeat("a", 255)
	s256 := strings.Repeat("a", 256)
	e128 := strings.Repeat("é", 128) // 128 codepoints, 256 bytes
	big := `"` + strings.Repeat("x", 65536) + `"`
	cases := []struct {
		name, ver, base, old, new string
		want                      error // nil: accepted
	}{
		{"v3 valid", "3", pduV3, "", "", nil},
		{"v12 valid", "12", pduV3, "", "", nil},
		{"v1 valid", "1", pduV1, "", "", nil},
		{"v2 valid", "2", pduV1, "", "", nil},
		{"v1 needs event_id", "1", pduV1, `"event_id":"$e:x",`, ``, ErrMissingField},
		{"v1 event_id sigil", "1", pduV1, `"$e:x"`, `"e:x"`, ErrBadField},
		{"v1 plain prev_events", "1", pduV1, `[["$p:x",{"sha256":"h"}]]`, `["$p:x"]`, ErrFieldType},
		{"v1 pair of three", "1", pduV1, `[["$p:x",{"sha256":"h"}]]`, `[["$p:x",{"sha256":"h"},1]]`, ErrFieldType},
		{"v1 pair without sha256", "1", pduV1, `[["$p:x",{"sha256":"h"}]]`, `[["$p:x",{}]]`, ErrMissingField},
		{"v3 pairs rejected", "3", pduV3, `["$p"]`, `[["$p:x",{"sha256":"h"}]]`, ErrFieldType},
		{"v3 event_id ignored", "3", pduV3, `"depth":12,`, `"depth":12,"event_id":"$whatever",`, nil},
		{"missing type", "11", pduV3, `,"type":"m.room.message"`, ``, ErrMissingField},
		{"missing sender", "11", pduV3, `"sender":"@s:x",`, ``, ErrMissingField},
		{"missing room_id", "11", pduV3, `"room_id":"!r:x",`, ``, ErrMissingField},
		{"missing content", "11", pduV3, `"content":{"body":"x"},`, ``, ErrMissingField},
		{"missing depth", "11", pduV3, `"depth":12,`, ``, ErrMissingField},
		{"missing hashes", "11", pduV3, `"hashes":{"sha256":"h"},`, ``, ErrMissingField},
		{"missing sha256", "11", pduV3, `{"sha256":"h"}`, `{}`, ErrMissingField},
		{"missing signatures", "11", pduV3, `"signatures":{"x":{"ed25519:1":"sig"}},`, ``, ErrMissingField},
		{"missing ts", "11", pduV3, `"origin_server_ts":5,`, ``, ErrMissingField},
		{"missing prev_events", "11", pduV3, `"prev_events":["$p"],`, ``, ErrMissingField},
		{"missing auth_events", "11", pduV3, `"auth_events":["$a"],`, ``, ErrMissingField},
		{"content array", "11", pduV3, `{"body":"x"}`, `[]`, ErrFieldType},
		{"type number", "11", pduV3, `"m.room.message"`, `1`, ErrFieldType},
		{"state_key null", "11", pduV3, `"type"`, `"state_key":null,"type"`, ErrFieldType},
		{"depth string", "11", pduV3, `12`, `"12"`, ErrFieldType},
		{"depth negative", "11", pduV3, `12`, `-1`, ErrBadField},
		{"depth zero", "11", pduV3, `"depth":12`, `"depth":0`, nil},
		{"depth 2^53-1 v6", "6", pduV3, `12`, `9007199254740991`, nil},
		{"depth 2^53 v6", "6", pduV3, `12`, `9007199254740992`, canonicaljson.ErrNumberOutOfRange},
		{"depth 2^53 v5", "5", pduV3, `12`, `9007199254740992`, nil},
		{"depth 2^63-1 v5", "5", pduV3, `12`, `9223372036854775807`, nil},
		{"depth 2^63 v5", "5", pduV3, `12`, `9223372036854775808`, ErrBadField},
		{"float v6", "6", pduV3, `"body":"x"`, `"body":1.5`, canonicaljson.ErrFloat},
		{"exponent v10", "10", pduV3, `"body":"x"`, `"body":1e2`, canonicaljson.ErrFloat},
		{"large int in content v5", "5", pduV3, `"body":"x"`, `"body":123456789012345678901234567890`, nil},
		{"large int in content v11", "11", pduV3, `"body":"x"`, `"body":123456789012345678901234567890`, canonicaljson.ErrNumberOutOfRange},
		{"ts string", "11", pduV3, `"origin_server_ts":5`, `"origin_server_ts":"5"`, ErrFieldType},
		{"sender sigil", "11", pduV3, `"@s:x"`, `"s:x"`, ErrBadField},
		{"sender no domain", "11", pduV3, `"@s:x"`, `"@s"`, ErrBadField},
		{"room sigil", "11", pduV3, `"!r:x"`, `"r:x"`, ErrBadField},
		{"prev not event ID", "11", pduV3, `["$p"]`, `["p"]`, ErrBadField},
		{"prev not string", "11", pduV3, `["$p"]`, `[1]`, ErrFieldType},
		{"21 prev_events", "11", pduV3, `["$p"]`, `["$1","$2","$3","$4","$5","$6","$7","$8","$9","$10","$11","$12","$13","$14","$15","$16","$17","$18","$19","$20","$21"]`, ErrBadField},
		{"20 prev_events", "11", pduV3, `["$p"]`, `["$1","$2","$3","$4","$5","$6","$7","$8","$9","$10","$11","$12","$13","$14","$15","$16","$17","$18","$19","$20"]`, nil},
		{"11 auth_events", "11", pduV3, `["$a"]`, `["$1","$2","$3","$4","$5","$6","$7","$8","$9","$10","$11"]`, ErrBadField},
		{"type 255 bytes", "11", pduV3, `"m.room.message"`, `"` + s255 + `"`, nil},
		{"type 256 bytes", "11", pduV3, `"m.room.message"`, `"` + s256 + `"`, ErrFieldTooLong},
		{"state_key 256 bytes", "11", pduV3, `"type"`, `"state_key":"` + s256 + `","type"`, ErrFieldTooLong},
		{"state_key 128 codepoints 256 bytes", "1", pduV1, `"type"`, `"state_key":"` + e128 + `","type"`, ErrFieldTooLong},
		{"sender 256 bytes", "11", pduV3, `"@s:x"`, `"@` + s256[:253] + `:x"`, ErrFieldTooLong},
		{"room_id 256 bytes", "11", pduV3, `"!r:x"`, `"!` + s256[:253] + `:x"`, ErrFieldTooLong},
		{"event_id 256 bytes", "1", pduV1, `"$e:x"`, `"$` + s256[:253] + `:x"`, ErrFieldTooLong},
		{"signatures not nested", "11", pduV3, `{"x":{"ed25519:1":"sig"}}`, `{"x":"sig"}`, ErrFieldType},
		{"signature not string", "11", pduV3, `{"x":{"ed25519:1":"sig"}}`, `{"x":{"ed25519:1":1}}`, ErrFieldType},
		{"unsigned not object", "11", pduV3, `"type"`, `"unsigned":1,"type"`, ErrFieldType},
		{"unknown keys allowed", "11", pduV3, `"type"`, `"zzz":{"a":[1,2]},"type"`, nil},
		{"too large", "11", pduV3, `"body":"x"`, `"body":` + big, ErrTooLarge},
		{"duplicate key", "11", pduV3, `"depth":12`, `"depth":12,"depth":13`, canonicaljson.ErrDuplicateKey},
		{"bad utf8", "11", pduV3, `"body":"x"`, "\"body\":\"\xff\"", canonicaljson.ErrInvalidUTF8},
		{"not an object", "11", `[]`, ``, ``, ErrNotObject},
		{"not JSON", "11", `{`, ``, ``, canonicaljson.ErrSyntax},
		{"v12 create without room_id", "12", pduV3, `"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}},"type":"m.room.message"`, `"sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}},"state_key":"","type":"m.room.create"`, nil},
		{"v11 create without room_id", "11", pduV3, `"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}},"type":"m.room.message"`, `"sender":"@s:x","signatures":{"x":{"ed25519:1":"sig"}},"state_key":"","type":"m.room.create"`, ErrMissingField},
		{"v12 redaction content.redacts bad", "12", pduV3, `{"body":"x"}`, `{"redacts":5}`, nil}, // not a redaction event
		{"v11 redaction content.redacts bad", "11", pduV3, `{"body":"x"},`, `{"redacts":5},`, nil},
		{"v11 m.room.redaction bad redacts", "11", pduV3, `{"body":"x"}`, `{"redacts":5}`, nil},
		{"v10 top-level redacts on redaction", "10", pduV3, `"room_id"`, `"redacts":5,"room_id"`, nil}, // m.room.message: ignored
	}
	for _, tc := range cases {
		in := tc.base
		if tc.old != "" {
			if !strings.Contains(in, tc.old) {
				t.Fatalf("%s: %q not in base", tc.name, tc.old)
			}
			in = strings.Replace(in, tc.old, tc.new, 1)
		}
		_, err := Parse(tc.ver, []byte(in))
		if tc.want == nil && err != nil {
			t.Errorf("%s: rejected: %v", tc.name, err)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Parse("0", []byte(pduV3)); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestParseRedacts(t *testing.T) {
	redaction := strings.Replace(pduV3, `"m.room.message"`, `"m.room.redaction"`, 1)
	for _, tc := range []struct {
		ver, in, want string
		err           error
	}{
		{"10", strings.Replace(redaction, `"room_id"`, `"redacts":"$t","room_id"`, 1), "$t", nil},
		{"10", strings.Replace(redaction, `"room_id"`, `"redacts":5,"room_id"`, 1), "", ErrFieldType},
		{"10", strings.Replace(redaction, `{"body":"x"}`, `{"redacts":"$t"}`, 1), "", nil},
		{"11", strings.Replace(redaction, `{"body":"x"}`, `{"redacts":"$t"}`, 1), "$t", nil},
		{"11", strings.Replace(redaction, `{"body":"x"}`, `{"redacts":5}`, 1), "", ErrFieldType},
		{"11", strings.Replace(redaction, `"room_id"`, `"redacts":"$t","room_id"`, 1), "", nil},
	} {
		ev, err := Parse(tc.ver, []byte(tc.in))
		if !errors.Is(err, tc.err) || (err == nil && ev.Redacts() != tc.want) {
			t.Errorf("v%s %s: %v %v", tc.ver, tc.in, err, ev)
		}
	}
}

// Whitespace and escapes in the received bytes do not change the event.
func TestParseNonCanonicalInput(t *testing.T) {
	a, err := Parse("11", []byte(pduV3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("11", []byte(strings.NewReplacer(`,"`, ",\n  \"", `":`, `" : `, `"body":"x"`, `"body":"\u0078"`).Replace(pduV3)))
	if err != nil {
		t.Fatal(err)
	}
	if a.EventID() != b.EventID() || string(a.Canonical()) != string(b.Canonical()) {
		t.Errorf("IDs differ: %s vs %s", a.EventID(), b.EventID())
	}
	if string(b.Raw()) == string(b.Canonical()) {
		t.Error("Raw() is not the original bytes")
	}
}
