package signing

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/id"
)

func testKey(t testing.TB, seedByte byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = seedByte
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return priv.Public().(ed25519.PublicKey), priv
}

// A server builds, signs and serves its keys; another server fetches and
// verifies them; a notary countersigns them and the result still verifies.
func TestServerKeysRoundTrip(t *testing.T) {
	pub, priv := testKey(t, 1)
	oldPub, _ := testKey(t, 2)

	keys := NewServerKeys("example.org", 1_700_000_000_000)
	if err := keys.AddVerifyKey("ed25519:a_AbCd", pub); err != nil {
		t.Fatal(err)
	}
	if err := keys.AddOldVerifyKey("ed25519:0ldK3y", oldPub, 1_600_000_000_000); err != nil {
		t.Fatal(err)
	}
	served, err := keys.Sign("ed25519:a_AbCd", priv)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"old_verify_keys":{"ed25519:0ldK3y":{"expired_ts":1600000000000,"key":"` + EncodeBase64(oldPub) + `"}},` +
		`"server_name":"example.org","signatures":{"example.org":{"ed25519:a_AbCd":"`
	if !strings.HasPrefix(string(served), want) || !strings.Contains(string(served), `"valid_until_ts":1700000000000,"verify_keys":{"ed25519:a_AbCd":{"key":"`+EncodeBase64(pub)+`"}}}`) {
		t.Errorf("served =\n%s", served)
	}
	if canon, _ := canonicaljson.Canonicalize(served); string(canon) != string(served) {
		t.Error("served JSON is not canonical")
	}

	t.Run("fetcher verifies", func(t *testing.T) {
		got, err := VerifyServerKeys(served, "example.org")
		if err != nil {
			t.Fatal(err)
		}
		p, exp, ok := got.PublicKey("ed25519:a_AbCd")
		if !ok || !p.Equal(pub) || exp != 0 {
			t.Errorf("PublicKey(current) = %x, %d, %v", p, exp, ok)
		}
		p, exp, ok = got.PublicKey("ed25519:0ldK3y")
		if !ok || !p.Equal(oldPub) || exp != 1_600_000_000_000 {
			t.Errorf("PublicKey(old) = %x, %d, %v", p, exp, ok)
		}
		if _, _, ok := got.PublicKey("ed25519:nope"); ok {
			t.Error("PublicKey(unknown) found a key")
		}
	})

	t.Run("wrong server", func(t *testing.T) {
		if _, err := VerifyServerKeys(served, "evil.org"); !errors.Is(err, ErrWrongServer) {
			t.Errorf("err = %v, want ErrWrongServer", err)
		}
	})

	t.Run("notary countersigns", func(t *testing.T) {
		_, notaryPriv := testKey(t, 3)
		countersigned, err := SignJSON(served, "notary.org", "ed25519:n", notaryPriv)
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyServerKeys(countersigned, "example.org")
		if err != nil {
			t.Fatalf("origin signature after countersigning: %v", err)
		}
		if err := VerifyJSON(got.Raw, "notary.org", "ed25519:n", notaryPriv.Public().(ed25519.PublicKey)); err != nil {
			t.Errorf("notary signature: %v", err)
		}
	})

	t.Run("second key signs too", func(t *testing.T) {
		pub2, priv2 := testKey(t, 4)
		if err := keys.AddVerifyKey("ed25519:b", pub2); err != nil {
			t.Fatal(err)
		}
		if keys.Signatures != nil || keys.Raw != nil {
			t.Error("AddVerifyKey kept signatures that no longer cover the content")
		}
		if _, err := keys.Sign("ed25519:a_AbCd", priv); err != nil {
			t.Fatal(err)
		}
		out, err := keys.Sign("ed25519:b", priv2)
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyServerKeys(out, "example.org")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Signatures["example.org"]) != 2 {
			t.Errorf("signatures = %v, want both keys", got.Signatures)
		}
		for _, keyID := range []string{"ed25519:a_AbCd", "ed25519:b"} {
			p, _, _ := got.PublicKey(keyID)
			if err := VerifyJSON(out, "example.org", keyID, p); err != nil {
				t.Errorf("%s: %v", keyID, err)
			}
		}
	})
}

func TestServerKeysSignErrors(t *testing.T) {
	pub, priv := testKey(t, 1)
	_, otherPriv := testKey(t, 2)
	keys := NewServerKeys("example.org", 1)
	if err := keys.AddVerifyKey("ed25519:a", pub); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Sign("ed25519:b", priv); err == nil {
		t.Error("Sign with an unlisted key ID succeeded")
	}
	if _, err := keys.Sign("ed25519:a", otherPriv); !errors.Is(err, ErrBadKey) {
		t.Errorf("Sign with a mismatched key: %v, want ErrBadKey", err)
	}
	if err := keys.AddVerifyKey("ed25519:a-b", pub); !errors.Is(err, ErrInvalidKeyID) {
		t.Errorf("AddVerifyKey bad ID: %v", err)
	}
	if err := keys.AddVerifyKey("ed25519:c", pub[:5]); !errors.Is(err, ErrBadKey) {
		t.Errorf("AddVerifyKey short key: %v", err)
	}
	if err := keys.AddOldVerifyKey("x", pub, 1); !errors.Is(err, ErrInvalidKeyID) {
		t.Errorf("AddOldVerifyKey bad ID: %v", err)
	}
}

func TestVerifyServerKeysRejects(t *testing.T) {
	pub, priv := testKey(t, 1)
	otherPub, otherPriv := testKey(t, 2)
	sign := func(obj map[string]any, keyID string, p ed25519.PrivateKey) []byte {
		t.Helper()
		out, err := SignJSON(obj, "example.org", keyID, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	base := func() map[string]any {
		return map[string]any{
			"server_name":     "example.org",
			"valid_until_ts":  int64(1),
			"verify_keys":     map[string]any{"ed25519:a": map[string]any{"key": EncodeBase64(pub)}},
			"old_verify_keys": map[string]any{},
		}
	}
	with := func(k string, v any) map[string]any {
		m := base()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"unsigned", mustMarshal(t, base()), ErrNotSelfSigned},
		{"signed by unlisted key", sign(base(), "ed25519:z", otherPriv), ErrNotSelfSigned},
		{"listed key, wrong private key", sign(base(), "ed25519:a", otherPriv), ErrBadSignature},
		{"tampered after signing", []byte(strings.Replace(string(sign(base(), "ed25519:a", priv)), `"valid_until_ts":1`, `"valid_until_ts":2`, 1)), ErrBadSignature},
		{"missing server_name", sign(with("server_name", nil), "ed25519:a", priv), ErrMalformedServerKeys},
		{"missing valid_until_ts", sign(with("valid_until_ts", nil), "ed25519:a", priv), ErrMalformedServerKeys},
		{"missing verify_keys", sign(with("verify_keys", nil), "ed25519:a", priv), ErrMalformedServerKeys},
		{"bad server_name", sign(with("server_name", "bad_name"), "ed25519:a", priv), ErrMalformedServerKeys},
		{"valid_until_ts string", sign(with("valid_until_ts", "1"), "ed25519:a", priv), ErrMalformedServerKeys},
		{"short verify key", sign(with("verify_keys", map[string]any{"ed25519:a": map[string]any{"key": "AAAA"}}), "ed25519:a", priv), ErrMalformedServerKeys},
		{"bad base64 key", sign(with("verify_keys", map[string]any{"ed25519:a": map[string]any{"key": "!!"}}), "ed25519:a", priv), ErrMalformedServerKeys},
		{"bad key ID", sign(with("verify_keys", map[string]any{"ed25519:a-1": map[string]any{"key": EncodeBase64(pub)}}), "ed25519:a", priv), ErrMalformedServerKeys},
		{"old key without expired_ts", sign(with("old_verify_keys", map[string]any{"ed25519:o": map[string]any{"key": EncodeBase64(otherPub)}}), "ed25519:a", priv), ErrMalformedServerKeys},
		{"duplicate key", []byte(`{"server_name":"example.org","server_name":"example.org","valid_until_ts":1,"verify_keys":{}}`), ErrMalformedServerKeys},
		{"not JSON", []byte(`nope`), ErrMalformedServerKeys},
		{"array", []byte(`[]`), ErrMalformedServerKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyServerKeys(tt.data, "example.org"); !errors.Is(err, tt.want) {
				t.Errorf("VerifyServerKeys error = %v, want %v", err, tt.want)
			}
		})
	}

	// Keys of unknown algorithms are tolerated and ignored.
	m := base()
	m["verify_keys"].(map[string]any)["curve25519:x"] = map[string]any{"key": "AAAA"}
	if _, err := VerifyServerKeys(sign(m, "ed25519:a", priv), "example.org"); err != nil {
		t.Errorf("unknown algorithm key: %v", err)
	}
	// Unknown top-level members stay covered by the signature.
	m = base()
	m["m.future"] = map[string]any{"x": true}
	signed := sign(m, "ed25519:a", priv)
	if _, err := VerifyServerKeys(signed, "example.org"); err != nil {
		t.Errorf("future member: %v", err)
	}
	tampered := []byte(strings.Replace(string(signed), `"x":true`, `"x":false`, 1))
	if _, err := VerifyServerKeys(tampered, "example.org"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered future member: %v, want ErrBadSignature", err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := canonicaljson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEffectiveValidUntil(t *testing.T) {
	const now = 1_000_000_000_000
	k := &ServerKeys{ValidUntilTS: now + 3600_000}
	if got := k.EffectiveValidUntil(now); got != now+3600_000 {
		t.Errorf("short validity = %d", got)
	}
	k.ValidUntilTS = now + 30*24*3600_000
	if got := k.EffectiveValidUntil(now); got != now+MaxKeyValidity {
		t.Errorf("long validity = %d, want capped at 7 days", got)
	}
}

var _ = id.ServerName("")
