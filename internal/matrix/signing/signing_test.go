package signing

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// The spec appendix "Cryptographic Test Vectors" signing key.
const (
	vectorSeed   = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
	vectorServer = "domain"
	vectorKeyID  = "ed25519:1"
)

func vectorKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := DecodeBase64(vectorSeed)
	if err != nil {
		t.Fatalf("decode seed: %v", err)
	}
	if len(seed) != ed25519.SeedSize {
		t.Fatalf("seed is %d bytes", len(seed))
	}
	return ed25519.NewKeyFromSeed(seed)
}

// canon canonicalizes a spec example so it can be compared byte for byte.
func canon(t testing.TB, s string) string {
	t.Helper()
	b, err := canonicaljson.Canonicalize([]byte(s))
	if err != nil {
		t.Fatalf("canonicalize %s: %v", s, err)
	}
	return string(b)
}

// Appendix "JSON Signing".
func TestSpecJSONSigningVectors(t *testing.T) {
	priv := vectorKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	tests := []struct{ name, in, want string }{
		{"empty object", `{}`, `{
    "signatures": {
        "domain": {
            "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
        }
    }
}`},
		{"data values", `{
    "one": 1,
    "two": "Two"
}`, `{
    "one": 1,
    "signatures": {
        "domain": {
            "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
        }
    },
    "two": "Two"
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := canon(t, tt.want)
			// Every accepted input form must give the same result.
			asMap, err := canonicaljson.Decode([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			// encoding/json with UseNumber gives json.Number values.
			var numberMap map[string]any
			dec := json.NewDecoder(strings.NewReader(tt.in))
			dec.UseNumber()
			if err := dec.Decode(&numberMap); err != nil {
				t.Fatal(err)
			}
			for form, obj := range map[string]any{
				"bytes":      []byte(tt.in),
				"RawMessage": json.RawMessage(tt.in),
				"map":        asMap,
				"number map": numberMap,
			} {
				got, err := SignJSON(obj, vectorServer, vectorKeyID, priv)
				if err != nil {
					t.Fatalf("%s: SignJSON: %v", form, err)
				}
				if string(got) != want {
					t.Errorf("%s: SignJSON =\n%s\nwant\n%s", form, got, want)
				}
			}
			if err := VerifyJSON([]byte(tt.want), vectorServer, vectorKeyID, pub); err != nil {
				t.Errorf("VerifyJSON(spec output): %v", err)
			}
		})
	}
}

// redactV1 is a test-only stand-in for the room version 1 redaction
// algorithm, enough for the spec's event vectors (neither event has state
// or membership content). The real algorithm lives with the event format.
func redactV1(ev map[string]any) map[string]any {
	keep := map[string]bool{
		"event_id": true, "type": true, "room_id": true, "sender": true, "state_key": true,
		"content": true, "hashes": true, "signatures": true, "depth": true, "prev_events": true,
		"prev_state": true, "auth_events": true, "origin": true, "origin_server_ts": true, "membership": true,
	}
	out := map[string]any{}
	for k, v := range ev {
		if keep[k] {
			out[k] = v
		}
	}
	out["content"] = map[string]any{}
	return out
}

// Appendix "Event Signing": content hash over the event without
// unsigned/signatures/hashes, then a signature over the redacted event.
func TestSpecEventSigningVectors(t *testing.T) {
	priv := vectorKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	tests := []struct{ name, in, want string }{
		{"minimal event", `{
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "signatures": {},
    "hashes": {},
    "type": "X",
    "content": {},
    "prev_events": [],
    "auth_events": [],
    "depth": 3,
    "unsigned": {
        "age_ts": 1000000
    }
}`, `{
    "auth_events": [],
    "content": {},
    "depth": 3,
    "hashes": {
        "sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "prev_events": [],
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        }
    },
    "type": "X",
    "unsigned": {
        "age_ts": 1000000
    }
}`},
		{"redactable content", `{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {},
    "unsigned": {
        "age_ts": 1000000
    }
}`, `{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "hashes": {
        "sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        }
    },
    "unsigned": {
        "age_ts": 1000000
    }
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := canonicaljson.Decode([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			ev := v.(map[string]any)

			// Content hash.
			forHash := maps.Clone(ev)
			delete(forHash, "unsigned")
			delete(forHash, "signatures")
			delete(forHash, "hashes")
			hashed, err := canonicaljson.Marshal(forHash)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(hashed)
			ev["hashes"] = map[string]any{"sha256": EncodeBase64(sum[:])}

			// Sign the redacted event, then copy the signatures onto
			// the full event.
			signedRedacted, err := SignJSON(redactV1(ev), vectorServer, vectorKeyID, priv)
			if err != nil {
				t.Fatal(err)
			}
			var sigs struct {
				Signatures map[string]any `json:"signatures"`
			}
			if err := json.Unmarshal(signedRedacted, &sigs); err != nil {
				t.Fatal(err)
			}
			ev["signatures"] = sigs.Signatures
			got, err := canonicaljson.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if want := canon(t, tt.want); string(got) != want {
				t.Errorf("signed event =\n%s\nwant\n%s", got, want)
			}

			// And the spec's redacted output verifies.
			wantV, _ := canonicaljson.Decode([]byte(tt.want))
			redacted, err := canonicaljson.Marshal(redactV1(wantV.(map[string]any)))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyJSON(redacted, vectorServer, vectorKeyID, pub); err != nil {
				t.Errorf("VerifyJSON(redacted spec output): %v", err)
			}
		})
	}
}

// The spec's sign_json keeps other servers' signatures and unsigned.
func TestSignJSONPreservesSignaturesAndUnsigned(t *testing.T) {
	priv := vectorKey(t)
	in := map[string]any{
		"a":          int64(1),
		"unsigned":   map[string]any{"age_ts": int64(5)},
		"signatures": map[string]any{"other.org": map[string]any{"ed25519:x": "c2ln"}, "domain": map[string]any{"ed25519:0": "b2xk"}},
	}
	before, _ := canonicaljson.Marshal(in)
	out, err := SignJSON(in, vectorServer, vectorKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := canonicaljson.Marshal(in)
	if string(before) != string(after) {
		t.Errorf("SignJSON modified its input:\n%s\n%s", before, after)
	}
	v, _ := canonicaljson.Decode(out)
	m := v.(map[string]any)
	sigs := m["signatures"].(map[string]any)
	if sigs["other.org"].(map[string]any)["ed25519:x"] != "c2ln" {
		t.Error("other server's signature lost")
	}
	if sigs["domain"].(map[string]any)["ed25519:0"] != "b2xk" {
		t.Error("our older signature lost")
	}
	if _, ok := sigs["domain"].(map[string]any)[vectorKeyID]; !ok {
		t.Error("new signature missing")
	}
	if m["unsigned"].(map[string]any)["age_ts"] != int64(5) {
		t.Error("unsigned lost")
	}
	// The signature covers only {"a":1}, the same as signing it bare.
	bare, _ := SignJSON([]byte(`{"a":1}`), vectorServer, vectorKeyID, priv)
	bv, _ := canonicaljson.Decode(bare)
	if got, want := sigs["domain"].(map[string]any)[vectorKeyID], bv.(map[string]any)["signatures"].(map[string]any)["domain"].(map[string]any)[vectorKeyID]; got != want {
		t.Errorf("signature %v != bare signature %v", got, want)
	}
	// Changing unsigned or adding signatures does not break it.
	m["unsigned"] = map[string]any{"age": int64(99)}
	sigs["third.org"] = map[string]any{"ed25519:z": "eHl6"}
	changed, _ := canonicaljson.Marshal(m)
	if err := VerifyJSON(changed, vectorServer, vectorKeyID, priv.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("VerifyJSON after unsigned/signature changes: %v", err)
	}
}

func TestSignJSONStruct(t *testing.T) {
	priv := vectorKey(t)
	type obj struct {
		One int    `json:"one"`
		Two string `json:"two"`
	}
	got, err := SignJSON(obj{1, "Two"}, vectorServer, vectorKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}`
	if string(got) != want {
		t.Errorf("SignJSON(struct) = %s", got)
	}
}

func TestSignJSONErrors(t *testing.T) {
	priv := vectorKey(t)
	tests := []struct {
		name  string
		obj   any
		keyID string
		priv  ed25519.PrivateKey
		want  error
	}{
		{"array", []byte(`[1]`), vectorKeyID, priv, ErrNotObject},
		{"string", []byte(`"x"`), vectorKeyID, priv, ErrNotObject},
		{"nil map", map[string]any(nil), vectorKeyID, priv, ErrNotObject},
		{"bad JSON", []byte(`{"a":}`), vectorKeyID, priv, canonicaljson.ErrSyntax},
		{"duplicate key", []byte(`{"a":1,"a":2}`), vectorKeyID, priv, canonicaljson.ErrDuplicateKey},
		{"float", map[string]any{"a": 1.5}, vectorKeyID, priv, canonicaljson.ErrFloat},
		{"signatures not object", []byte(`{"signatures":[]}`), vectorKeyID, priv, ErrNotObject},
		{"signatures entry not object", []byte(`{"signatures":{"x":1}}`), vectorKeyID, priv, ErrNotObject},
		{"signature not string", []byte(`{"signatures":{"x":{"ed25519:a":1}}}`), vectorKeyID, priv, ErrNotObject},
		{"bad key ID", []byte(`{}`), "ed25519", priv, ErrInvalidKeyID},
		{"bad key ID chars", []byte(`{}`), "ed25519:a-b", priv, ErrInvalidKeyID},
		{"other algorithm", []byte(`{}`), "curve25519:1", priv, ErrUnsupportedAlgorithm},
		{"short key", []byte(`{}`), vectorKeyID, priv[:10], ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := SignJSON(tt.obj, vectorServer, tt.keyID, tt.priv); !errors.Is(err, tt.want) {
				t.Errorf("SignJSON error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyJSONErrors(t *testing.T) {
	priv := vectorKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	const sig = "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
	good := `{"one":1,"two":"Two","signatures":{"domain":{"ed25519:1":"` + sig + `"}}}`
	tests := []struct {
		name   string
		data   string
		server string
		keyID  string
		pub    ed25519.PublicKey
		want   error
	}{
		{"ok", good, vectorServer, vectorKeyID, pub, nil},
		{"ok padded", strings.Replace(good, sig, sig+"==", 1), vectorServer, vectorKeyID, pub, nil},
		{"ok with unsigned", `{"one":1,"two":"Two","unsigned":{"x":[]},"signatures":{"domain":{"ed25519:1":"` + sig + `"}}}`, vectorServer, vectorKeyID, pub, nil},
		{"no signatures", `{"one":1,"two":"Two"}`, vectorServer, vectorKeyID, pub, ErrMissingSignature},
		{"other server", good, "other.org", vectorKeyID, pub, ErrMissingSignature},
		{"other key", good, vectorServer, "ed25519:2", pub, ErrMissingSignature},
		{"bad base64", strings.Replace(good, sig, "!!!!", 1), vectorServer, vectorKeyID, pub, ErrBadBase64},
		{"base64 with newline", strings.Replace(good, sig, sig[:40]+`\n`+sig[40:], 1), vectorServer, vectorKeyID, pub, ErrBadBase64},
		{"short signature", strings.Replace(good, sig, "AAAA", 1), vectorServer, vectorKeyID, pub, ErrBadSignature},
		{"tampered content", strings.Replace(good, `"Two"`, `"Three"`, 1), vectorServer, vectorKeyID, pub, ErrBadSignature},
		{"added member", strings.Replace(good, `"one":1`, `"one":1,"x":null`, 1), vectorServer, vectorKeyID, pub, ErrBadSignature},
		{"wrong public key", good, vectorServer, vectorKeyID, otherPub, ErrBadSignature},
		{"short public key", good, vectorServer, vectorKeyID, pub[:31], ErrBadKey},
		{"not an object", `[]`, vectorServer, vectorKeyID, pub, ErrNotObject},
		{"signatures malformed", `{"signatures":{"domain":"x"}}`, vectorServer, vectorKeyID, pub, ErrNotObject},
		{"duplicate key", `{"one":1,"one":1}`, vectorServer, vectorKeyID, pub, canonicaljson.ErrDuplicateKey},
		{"float", `{"one":1.5}`, vectorServer, vectorKeyID, pub, canonicaljson.ErrFloat},
		{"invalid key ID", good, vectorServer, "ed25519:", pub, ErrInvalidKeyID},
		{"unknown algorithm", good, vectorServer, "rsa:1", pub, ErrUnsupportedAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyJSON([]byte(tt.data), tt.server, tt.keyID, tt.pub)
			if tt.want == nil {
				if err != nil {
					t.Errorf("VerifyJSON: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("VerifyJSON error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSigningPayload(t *testing.T) {
	got, err := SigningPayload([]byte(`{"b":1,"unsigned":{},"signatures":{},"a":"x"}`))
	if err != nil || string(got) != `{"a":"x","b":1}` {
		t.Errorf("SigningPayload = %s, %v", got, err)
	}
}

func TestKeyIDsFor(t *testing.T) {
	data := []byte(`{"signatures":{"s":{"ed25519:b":"x","ed25519:a":"y","curve25519:c":"z","ed25519:bad-id":"w"},"t":{}}}`)
	ids, err := KeyIDsFor(data, "s")
	if err != nil || strings.Join(ids, ",") != "ed25519:a,ed25519:b" {
		t.Errorf("KeyIDsFor = %v, %v", ids, err)
	}
	for _, server := range []string{"t", "u"} {
		if _, err := KeyIDsFor(data, server); !errors.Is(err, ErrMissingSignature) {
			t.Errorf("KeyIDsFor(%q) error = %v, want ErrMissingSignature", server, err)
		}
	}
}

func TestSplitKeyID(t *testing.T) {
	for _, tc := range []struct{ in, alg, ver string }{
		{"ed25519:1", "ed25519", "1"},
		{"ed25519:a_AbCd", "ed25519", "a_AbCd"},
		{"ed25519:auto", "ed25519", "auto"},
		{"curve25519:ABC", "curve25519", "ABC"},
	} {
		alg, ver, err := SplitKeyID(tc.in)
		if err != nil || alg != tc.alg || ver != tc.ver {
			t.Errorf("SplitKeyID(%q) = %q, %q, %v", tc.in, alg, ver, err)
		}
	}
	for _, in := range []string{"", "ed25519", "ed25519:", ":1", "ed25519:a:b", "ed25519:a-b", "ed25519:a b", "ed25519:é", "ed-25519:1"} {
		if _, _, err := SplitKeyID(in); !errors.Is(err, ErrInvalidKeyID) {
			t.Errorf("SplitKeyID(%q) error = %v, want ErrInvalidKeyID", in, err)
		}
	}
	if err := ValidateKeyID("curve25519:1"); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("ValidateKeyID(curve25519:1) = %v", err)
	}
}

// Appendix "Unpadded Base64" examples.
func TestBase64(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy",
	} {
		if got := EncodeBase64([]byte(in)); got != want {
			t.Errorf("EncodeBase64(%q) = %q, want %q", in, got, want)
		}
		for _, enc := range []string{want, want + strings.Repeat("=", (4-len(want)%4)%4)} {
			if got, err := DecodeBase64(enc); err != nil || string(got) != in {
				t.Errorf("DecodeBase64(%q) = %q, %v; want %q", enc, got, err, in)
			}
		}
	}
	if got := EncodeURLBase64([]byte{0xfb, 0xff}); got != "-_8" {
		t.Errorf("EncodeURLBase64 = %q", got)
	}
	if got, err := DecodeURLBase64("-_8"); err != nil || string(got) != "\xfb\xff" {
		t.Errorf("DecodeURLBase64 = %q, %v", got, err)
	}
	if got, err := DecodeURLBase64("-_8="); err != nil || string(got) != "\xfb\xff" {
		t.Errorf("DecodeURLBase64 padded = %q, %v", got, err)
	}
	for _, bad := range []string{"Z", "Zg=", "Zm9v\n", "Zm 9v", "+/8", "Zg==="} {
		if _, err := DecodeBase64(bad); !errors.Is(err, ErrBadBase64) && bad != "+/8" {
			t.Errorf("DecodeBase64(%q) error = %v, want ErrBadBase64", bad, err)
		}
	}
	if _, err := DecodeURLBase64("+/8"); !errors.Is(err, ErrBadBase64) {
		t.Errorf("DecodeURLBase64 accepted standard alphabet: %v", err)
	}
	if _, err := DecodeBase64("-_8"); !errors.Is(err, ErrBadBase64) {
		t.Errorf("DecodeBase64 accepted URL-safe alphabet: %v", err)
	}
}
