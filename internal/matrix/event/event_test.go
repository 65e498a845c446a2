package event

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

var testNow = time.UnixMilli(1_700_000_000_000)

func keysFor(server, keyID string, pub ed25519.PublicKey, validUntil int64) KeyLookup {
	return func(s, k string) (ed25519.PublicKey, int64, bool) {
		if s == server && k == keyID {
			return pub, validUntil, true
		}
		return nil, 0, false
	}
}

func strp(s string) *string { return &s }

// refs returns n references valid for version v.
func refs(v roomversion.Version, n int) []Reference {
	out := make([]Reference, n)
	for i := range out {
		if v.EventIDInPDU() {
			out[i] = Reference{EventID: "$prev" + strconv.Itoa(i) + ":example.org", SHA256: "abase64encodedsha256hashshouldbe43byteslong"}
		} else {
			out[i] = Reference{EventID: "$prev" + strconv.Itoa(i) + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
		}
	}
	return out
}

func messageProto(v roomversion.Version) ProtoEvent {
	return ProtoEvent{
		Type:       "m.room.message",
		Sender:     "@alice:example.org",
		RoomID:     "!room:example.org",
		Content:    json.RawMessage(`{"msgtype":"m.text", "body":"hello \u00e9 world"}`),
		PrevEvents: refs(v, 1),
		AuthEvents: refs(v, 3),
		Depth:      10,
	}
}

func TestBuildParseVerifyEveryVersion(t *testing.T) {
	key := specKey(t)
	pub := key.Public().(ed25519.PublicKey)
	lookup := keysFor("example.org", "ed25519:a", pub, testNow.UnixMilli()+1)
	for _, v := range roomversion.All() {
		t.Run("v"+v.ID(), func(t *testing.T) {
			ev, err := Build(v.ID(), messageProto(v), "example.org", "ed25519:a", key, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(ev.Raw()) {
				t.Fatalf("not JSON: %s", ev.Raw())
			}
			if c, err := canonicaljson.Canonicalize(ev.Raw()); err != nil || string(c) != string(ev.Raw()) {
				t.Fatalf("not canonical: %s (%v)", ev.Raw(), err)
			}
			parsed, err := Parse(v.ID(), ev.Raw())
			if err != nil {
				t.Fatalf("Parse(Build()) = %v\n%s", err, ev.Raw())
			}
			if parsed.EventID() != ev.EventID() || parsed.EventID() == "" {
				t.Errorf("event ID: built %q, parsed %q", ev.EventID(), parsed.EventID())
			}
			switch v.EventIDFormat() {
			case roomversion.EventIDServerGenerated:
				if !strings.HasSuffix(ev.EventID(), ":example.org") {
					t.Errorf("v1/v2 event ID %q", ev.EventID())
				}
			case roomversion.EventIDBase64, roomversion.EventIDURLSafeBase64:
				if len(ev.EventID()) != 44 {
					t.Errorf("event ID %q", ev.EventID())
				}
			}
			if v.EventIDFormat() == roomversion.EventIDURLSafeBase64 && strings.ContainsAny(ev.EventID(), "+/") {
				t.Errorf("event ID %q is not URL-safe", ev.EventID())
			}
			for name, pair := range map[string][2]any{
				"type":      {parsed.Type(), "m.room.message"},
				"sender":    {parsed.Sender(), "@alice:example.org"},
				"room":      {parsed.RoomID(), "!room:example.org"},
				"depth":     {parsed.Depth(), int64(10)},
				"ts":        {parsed.OriginServerTS(), testNow.UnixMilli()},
				"content":   {string(parsed.Content()), `{"body":"hello é world","msgtype":"m.text"}`},
				"state":     {parsed.IsState(), false},
				"prev":      {strings.Join(parsed.PrevEvents(), ","), strings.Join(ev.PrevEvents(), ",")},
				"auth":      {len(parsed.AuthEvents()), 3},
				"hashclaim": {parsed.ContentHashClaim(), ev.ContentHashClaim()},
			} {
				if pair[0] != pair[1] {
					t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
				}
			}
			if got := parsed.AuthEventRefs(); v.PrevEventsHaveHashes() != (got[0].SHA256 != "") {
				t.Errorf("auth refs %v", got)
			}
			c, err := CheckHashAndSignatures(parsed, lookup)
			if err != nil || c.Outcome != Valid || c.Event != parsed {
				t.Fatalf("check = %v, %v", c, err)
			}
		})
	}
}

func TestCheckOutcomes(t *testing.T) {
	key := specKey(t)
	pub := key.Public().(ed25519.PublicKey)
	good := keysFor("example.org", "ed25519:a", pub, testNow.UnixMilli())
	for _, ver := range []string{"1", "3", "4", "5", "10", "11", "12"} {
		v := roomversion.MustLookup(ver)
		t.Run("v"+ver, func(t *testing.T) {
			ev, err := Build(ver, messageProto(v), "example.org", "ed25519:a", key, testNow)
			if err != nil {
				t.Fatal(err)
			}
			// Content changed after signing: signatures still verify (they
			// cover the redacted form), the hash does not.
			tampered := strings.Replace(string(ev.Raw()), "hello", "HELLO", 1)
			tev, err := Parse(ver, []byte(tampered))
			if err != nil {
				t.Fatal(err)
			}
			if tev.EventID() != ev.EventID() {
				t.Errorf("changing content changed the event ID")
			}
			c, err := CheckHashAndSignatures(tev, good)
			if err != nil || c.Outcome != HashMismatch {
				t.Fatalf("tampered content: %v, %v", c.Outcome, err)
			}
			if string(c.Event.Content()) != "{}" || c.Event.EventID() != ev.EventID() || c.Event.Type() != "m.room.message" {
				t.Errorf("redacted event: %s", c.Event.Raw())
			}
			if _, err := rawjson.Lookup(c.Event.Canonical(), "unsigned"); err {
				t.Errorf("redacted event kept unsigned")
			}

			// Changing a redaction-protected field breaks the signature.
			bad := strings.Replace(string(ev.Raw()), `"depth":10`, `"depth":11`, 1)
			bev, err := Parse(ver, []byte(bad))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CheckHashAndSignatures(bev, good); !errors.Is(err, ErrBadSignature) {
				t.Errorf("tampered depth: %v", err)
			}

			// No key known: missing signature.
			none := func(string, string) (ed25519.PublicKey, int64, bool) { return nil, 0, false }
			if _, err := CheckHashAndSignatures(ev, none); !errors.Is(err, ErrMissingSignature) {
				t.Errorf("unknown key: %v", err)
			}

			// A key that expired before the event: skipped from v5.
			expired := keysFor("example.org", "ed25519:a", pub, testNow.UnixMilli()-1)
			_, err = CheckHashAndSignatures(ev, expired)
			if v.EnforceKeyValidity() != errors.Is(err, ErrMissingSignature) {
				t.Errorf("expired key, EnforceKeyValidity=%v: %v", v.EnforceKeyValidity(), err)
			}

			// The wrong key for the right key ID.
			other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
			if _, err := CheckHashAndSignatures(ev, keysFor("example.org", "ed25519:a", other, testNow.UnixMilli())); !errors.Is(err, ErrBadSignature) {
				t.Errorf("wrong key: %v", err)
			}

			// unsigned is not covered by anything.
			withUnsigned := strings.TrimSuffix(string(ev.Raw()), "}") + `,"unsigned":{"age":5}}`
			uev, err := Parse(ver, []byte(withUnsigned))
			if err != nil {
				t.Fatal(err)
			}
			if c, err := CheckHashAndSignatures(uev, good); err != nil || c.Outcome != Valid {
				t.Errorf("with unsigned: %v %v", c.Outcome, err)
			}
			if uev.EventID() != ev.EventID() {
				t.Errorf("unsigned changed the event ID")
			}
		})
	}
}

// In room versions 1 and 2 the server named in the event ID must sign too.
func TestEventIDDomainMustSign(t *testing.T) {
	key := specKey(t)
	pub := key.Public().(ed25519.PublicKey)
	for _, ver := range []string{"1", "2"} {
		v := roomversion.MustLookup(ver)
		p := messageProto(v)
		p.EventID = "$abc:other.example"
		ev, err := Build(ver, p, "example.org", "ed25519:a", key, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := RequiredSignatures(ev); strings.Join(got, ",") != "example.org,other.example" {
			t.Errorf("v%s required = %v", ver, got)
		}
		if _, err := CheckHashAndSignatures(ev, keysFor("example.org", "ed25519:a", pub, 1<<62)); !errors.Is(err, ErrMissingSignature) {
			t.Errorf("v%s: %v", ver, err)
		}
	}
}

func TestRoomV12CreateEvent(t *testing.T) {
	key := specKey(t)
	create := ProtoEvent{
		Type:     "m.room.create",
		StateKey: strp(""),
		Sender:   "@alice:example.org",
		Content:  json.RawMessage(`{"room_version":"12"}`),
		Depth:    1,
	}
	ev, err := Build("12", create, "example.org", "ed25519:a", key, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rawjson.Lookup(ev.Canonical(), "room_id"); ok {
		t.Fatalf("v12 create has room_id: %s", ev.Raw())
	}
	if ev.RoomID() != "!"+ev.EventID()[1:] {
		t.Errorf("room ID %q for event %q", ev.RoomID(), ev.EventID())
	}
	p, err := Parse("12", ev.Raw())
	if err != nil {
		t.Fatal(err)
	}
	if p.RoomID() != ev.RoomID() {
		t.Errorf("parsed room ID %q", p.RoomID())
	}
	// With a room_id it is invalid.
	withRoom := strings.Replace(string(ev.Raw()), `"sender"`, `"room_id":"!x:y","sender"`, 1)
	if _, err := Parse("12", []byte(withRoom)); !errors.Is(err, ErrUnexpected) {
		t.Errorf("v12 create with room_id: %v", err)
	}
	create.RoomID = "!x:y"
	if _, err := Build("12", create, "example.org", "ed25519:a", key, testNow); !errors.Is(err, ErrUnexpected) {
		t.Errorf("Build v12 create with room_id: %v", err)
	}
	// In v11 a create event needs a room_id.
	create.RoomID = ""
	if _, err := Build("11", create, "example.org", "ed25519:a", key, testNow); !errors.Is(err, ErrBadField) {
		t.Errorf("Build v11 create without room_id: %v", err)
	}
	// A v12 message event needs one.
	if _, err := Parse("12", []byte(strings.Replace(string(mustBuild(t, "12", messageProto(roomversion.MustLookup("12"))).Raw()), `"room_id":"!room:example.org",`, "", 1))); !errors.Is(err, ErrMissingField) {
		t.Errorf("v12 message without room_id: %v", err)
	}
}

func mustBuild(t *testing.T, ver string, p ProtoEvent) *Event {
	t.Helper()
	ev, err := Build(ver, p, "example.org", "ed25519:a", specKey(t), testNow)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestRedacts(t *testing.T) {
	for _, ver := range []string{"10", "11"} {
		v := roomversion.MustLookup(ver)
		p := messageProto(v)
		p.Type = "m.room.redaction"
		p.Content = json.RawMessage(`{"reason":"spam"}`)
		p.Redacts = "$target:example.org"
		ev := mustBuild(t, ver, p)
		if ev.Redacts() != p.Redacts {
			t.Errorf("v%s built Redacts() = %q", ver, ev.Redacts())
		}
		parsed, err := Parse(ver, ev.Raw())
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Redacts() != p.Redacts {
			t.Errorf("v%s parsed Redacts() = %q", ver, parsed.Redacts())
		}
		_, top := rawjson.Lookup(ev.Canonical(), "redacts")
		_, inContent := rawjson.Lookup(ev.Content(), "redacts")
		if top == v.RedactsInContent() || inContent != v.RedactsInContent() {
			t.Errorf("v%s: top-level %v, in content %v: %s", ver, top, inContent, ev.Raw())
		}
		// Redaction keeps content.redacts from v11 only.
		if got := parsed.Redacted().Redacts(); (got != "") != v.RedactsInContent() {
			t.Errorf("v%s redacted Redacts() = %q", ver, got)
		}
	}
	// content.redacts given directly in v11.
	p := messageProto(roomversion.MustLookup("11"))
	p.Type = "m.room.redaction"
	p.Content = json.RawMessage(`{"redacts":"$t:x"}`)
	if got := mustBuild(t, "11", p).Redacts(); got != "$t:x" {
		t.Errorf("Redacts() = %q", got)
	}
	// Both: a duplicate key.
	p.Redacts = "$t:x"
	if _, err := Build("11", p, "example.org", "ed25519:a", specKey(t), testNow); !errors.Is(err, canonicaljson.ErrDuplicateKey) {
		t.Errorf("duplicate redacts: %v", err)
	}
	// Only redactions redact.
	p = messageProto(roomversion.MustLookup("11"))
	p.Redacts = "$t:x"
	if _, err := Build("11", p, "example.org", "ed25519:a", specKey(t), testNow); !errors.Is(err, ErrUnexpected) {
		t.Errorf("redacts on a message: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	key := specKey(t)
	v := roomversion.MustLookup("11")
	long := strings.Repeat("a", 256)
	cases := map[string]struct {
		mod  func(p *ProtoEvent)
		want error
	}{
		"no type":           {func(p *ProtoEvent) { p.Type = "" }, ErrMissingField},
		"long type":         {func(p *ProtoEvent) { p.Type = long }, ErrFieldTooLong},
		"long state key":    {func(p *ProtoEvent) { p.StateKey = &long }, ErrFieldTooLong},
		"bad sender":        {func(p *ProtoEvent) { p.Sender = "alice" }, ErrBadField},
		"sender no domain":  {func(p *ProtoEvent) { p.Sender = "@alice" }, ErrBadField},
		"bad room":          {func(p *ProtoEvent) { p.RoomID = "room" }, ErrBadField},
		"negative depth":    {func(p *ProtoEvent) { p.Depth = -1 }, ErrBadField},
		"huge depth":        {func(p *ProtoEvent) { p.Depth = 1 << 53 }, ErrBadField},
		"too many prev":     {func(p *ProtoEvent) { p.PrevEvents = refs(v, 21) }, ErrBadField},
		"too many auth":     {func(p *ProtoEvent) { p.AuthEvents = refs(v, 11) }, ErrBadField},
		"float content":     {func(p *ProtoEvent) { p.Content = json.RawMessage(`{"a":1.5}`) }, canonicaljson.ErrFloat},
		"bad UTF-8":         {func(p *ProtoEvent) { p.Type = "\xff" }, canonicaljson.ErrInvalidUTF8},
		"content not JSON":  {func(p *ProtoEvent) { p.Content = json.RawMessage(`{`) }, canonicaljson.ErrSyntax},
		"content not obj":   {func(p *ProtoEvent) { p.Content = json.RawMessage(`[]`) }, ErrFieldType},
		"too large":         {func(p *ProtoEvent) { p.Content = json.RawMessage(`{"a":"` + strings.Repeat("x", 65536) + `"}`) }, ErrTooLarge},
		"bad prev event id": {func(p *ProtoEvent) { p.PrevEvents = []Reference{{EventID: "x"}} }, ErrBadField},
	}
	for name, tc := range cases {
		p := messageProto(v)
		tc.mod(&p)
		_, err := Build("11", p, "example.org", "ed25519:a", key, testNow)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := Build("11", messageProto(v), "example.org", "ed25519:a", key[:10], testNow); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
	if _, err := Build("11", messageProto(v), "example.org", "curve:a", key, testNow); !errors.Is(err, ErrBadKey) {
		t.Errorf("bad key ID: %v", err)
	}
	if _, err := Build("99", messageProto(v), "example.org", "ed25519:a", key, testNow); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("unknown version: %v", err)
	}
	// v1/v2 references need hashes.
	p := messageProto(roomversion.MustLookup("1"))
	p.PrevEvents[0].SHA256 = ""
	if _, err := Build("1", p, "example.org", "ed25519:a", key, testNow); !errors.Is(err, ErrMissingField) {
		t.Errorf("v1 prev without hash: %v", err)
	}
}
