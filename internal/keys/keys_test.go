package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/signing"
)

func TestCheckDeviceKeys(t *testing.T) {
	good := `{"user_id":"@u:x","device_id":"D","algorithms":["a"],"keys":{"ed25519:D":"k"},"signatures":{},"unsigned":{"x":1}}`
	got, err := checkDeviceKeys([]byte(good), "@u:x", "D")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"algorithms":["a"],"device_id":"D","keys":{"ed25519:D":"k"},"signatures":{},"user_id":"@u:x"}`; got != want {
		t.Fatalf("stored %s, want %s", got, want)
	}
	for name, in := range map[string]string{
		"another user":      `{"user_id":"@v:x","device_id":"D","algorithms":[],"keys":{},"signatures":{}}`,
		"another device":    `{"user_id":"@u:x","device_id":"E","algorithms":[],"keys":{},"signatures":{}}`,
		"no signatures":     `{"user_id":"@u:x","device_id":"D","algorithms":[],"keys":{}}`,
		"keys not strings":  `{"user_id":"@u:x","device_id":"D","algorithms":[],"keys":{"a":1},"signatures":{}}`,
		"duplicate members": `{"user_id":"@u:x","user_id":"@u:x","device_id":"D","algorithms":[],"keys":{},"signatures":{}}`,
		"not an object":     `[]`,
	} {
		if _, err := checkDeviceKeys([]byte(in), "@u:x", "D"); !errors.Is(err, ErrBadKeys) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSameOneTimeKey(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{`"k"`, `"k"`, true},
		{`"k"`, `"j"`, false},
		{`{"key":"k","signatures":{"@u:x":{"ed25519:D":"1"}}}`, `{"key":"k","signatures":{"@u:x":{"ed25519:D":"2"}}}`, true},
		{`{"key":"k","signatures":{}}`, `{"key":"j","signatures":{}}`, false},
		{`{"key":"k","signatures":{}}`, `"k"`, false},
	} {
		if got := sameOneTimeKey(c.a, c.b); got != c.same {
			t.Errorf("sameOneTimeKey(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestCheckOneTimeKeys(t *testing.T) {
	keys, err := checkOneTimeKeys("one_time_keys", map[string]json.RawMessage{
		"signed_curve25519:B": json.RawMessage(`{"signatures":{},"key":"b"}`),
		"signed_curve25519:A": json.RawMessage(`"a"`),
	})
	if err != nil || len(keys) != 2 || keys[0].KeyID != "A" || keys[1].JSON != `{"key":"b","signatures":{}}` {
		t.Fatalf("%+v %v", keys, err)
	}
	for name, in := range map[string]map[string]json.RawMessage{
		"no algorithm":      {"A": json.RawMessage(`"a"`)},
		"two colons":        {"a:b:c": json.RawMessage(`"a"`)},
		"a number":          {"a:b": json.RawMessage(`1`)},
		"no signatures":     {"a:b": json.RawMessage(`{"key":"k"}`)},
		"signatures broken": {"a:b": json.RawMessage(`{"key":"k","signatures":{"@u:x":"s"}}`)},
	} {
		if _, err := checkOneTimeKeys("one_time_keys", in); !errors.Is(err, ErrBadKeys) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestChangeLog(t *testing.T) {
	l := newChangeLog(10)
	l.add(12, "@b:x", "")
	l.add(11, "@a:x", "") // finished late
	l.add(13, "@c:x", "@a:x")
	l.add(14, "@b:x", "")
	changed, signed, ok := l.since("@a:x", 10, 14)
	if !ok || !slices.Equal(changed, []string{"@a:x", "@b:x"}) || !slices.Equal(signed, []string{"@c:x"}) {
		t.Fatalf("since 10: %v %v %v", changed, signed, ok)
	}
	if changed, signed, _ := l.since("@z:x", 11, 13); !slices.Equal(changed, []string{"@b:x"}) || signed != nil {
		t.Fatalf("since 11 up to 13: %v %v", changed, signed)
	}
	if _, _, ok := l.since("@a:x", 9, 14); ok {
		t.Fatal("a token older than the log was answered from memory")
	}
	for pos := int64(15); pos < 15+maxLoggedChanges; pos++ {
		l.add(pos, "@d:x", "")
	}
	if _, _, ok := l.since("@a:x", 13, 20); ok {
		t.Fatal("dropped changes answered from memory")
	}
	if changed, _, ok := l.since("@a:x", 15, 16); !ok || !slices.Equal(changed, []string{"@d:x"}) {
		t.Fatalf("recent changes after the log filled: %v %v", changed, ok)
	}
}

func TestParseCrossSigningKey(t *testing.T) {
	const pub = "dGhpcnR5LXR3by1ieXRlcy1vZi1hbi1lZDI1NTE5LWs" // 32 bytes
	good := `{"user_id":"@u:x","usage":["master"],"keys":{"ed25519:` + pub + `":"` + pub + `"}}`
	if k, err := parseCrossSigningKey([]byte(good), "@u:x", Master); err != nil || k.public != pub {
		t.Fatalf("%+v %v", k, err)
	}
	for name, in := range map[string]string{
		"wrong user":   `{"user_id":"@v:x","usage":["master"],"keys":{"ed25519:` + pub + `":"` + pub + `"}}`,
		"wrong usage":  `{"user_id":"@u:x","usage":["self_signing"],"keys":{"ed25519:` + pub + `":"` + pub + `"}}`,
		"two keys":     `{"user_id":"@u:x","usage":["master"],"keys":{"ed25519:` + pub + `":"` + pub + `","ed25519:b":"b"}}`,
		"misnamed key": `{"user_id":"@u:x","usage":["master"],"keys":{"ed25519:other":"` + pub + `"}}`,
		"short key":    `{"user_id":"@u:x","usage":["master"],"keys":{"ed25519:YWJj":"YWJj"}}`,
	} {
		if _, err := parseCrossSigningKey([]byte(in), "@u:x", Master); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMayReplaceKeepsSignedIdentities(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	device := func(ed string, sign bool) string {
		obj := map[string]any{"user_id": "@u:x", "device_id": "D", "algorithms": []any{"a"},
			"keys": map[string]any{"ed25519:D": ed, "curve25519:D": "c"}, "signatures": map[string]any{}}
		if sign {
			payload, _ := signing.SigningPayload(obj)
			obj["signatures"] = map[string]any{"@u:x": map[string]any{"ed25519:D": signing.EncodeBase64(ed25519.Sign(priv, payload))}}
		}
		b, _ := canonicaljson.Marshal(obj)
		return string(b)
	}
	ed := signing.EncodeBase64(pub)
	check := mayReplace("@u:x", "D")
	if err := check(device(ed, true), device("other", false)); !errors.Is(err, ErrIdentityChanged) {
		t.Errorf("signed identity replaced: %v", err)
	}
	if err := check(device(ed, true), device(ed, false)); err != nil {
		t.Errorf("same keys, other signatures: %v", err)
	}
	if err := check(device("unsigned", false), device("other", false)); err != nil {
		t.Errorf("unsigned keys kept: %v", err)
	}
}
