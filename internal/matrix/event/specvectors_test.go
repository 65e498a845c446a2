package event

import (
	"crypto/ed25519"
	"encoding/base64"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// Test vectors from the appendices, "Cryptographic Test Vectors".
const (
	specSeed   = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
	specServer = "domain"
	specKeyID  = "ed25519:1"
)

func specKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := base64.RawStdEncoding.DecodeString(specSeed)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

var specEventVectors = []struct {
	name, in, hash, sig string
}{
	{
		name: "minimal event",
		in: `{
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
}`,
		hash: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos",
		sig:  "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg",
	},
	{
		name: "redactable content",
		in: `{
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
}`,
		hash: "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g",
		sig:  "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA",
	},
}

// The spec's event signing algorithm: content hash into hashes.sha256, then
// sign the redacted event. The vectors predate room versions and use the
// room version 1 redaction algorithm (they keep origin).
func TestSpecEventSigningVectors(t *testing.T) {
	key := specKey(t)
	for _, tc := range specEventVectors {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ContentHash("1", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := EncodeHash(h); got != tc.hash {
				t.Fatalf("content hash = %s, want %s", got, tc.hash)
			}
			_, canon, err := canonicalFor("1", []byte(tc.in), true)
			if err != nil {
				t.Fatal(err)
			}
			withHash := withKey(nil, canon, "hashes", []byte(`{"sha256":"`+tc.hash+`"}`))
			toSign := referenceHashInput(nil, roomversion.MustLookup("1").RedactionRules(), withHash)
			sig := base64.RawStdEncoding.EncodeToString(ed25519.Sign(key, toSign))
			if sig != tc.sig {
				t.Fatalf("signature = %s, want %s\nsigned bytes: %s", sig, tc.sig, toSign)
			}
		})
	}
}

func TestIndependentVectors(t *testing.T) {
	for _, tc := range independentVectors {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse(tc.version, []byte(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if got := EncodeHash(ev.ContentHash()); got != tc.contentHash {
				t.Errorf("content hash = %s, want %s", got, tc.contentHash)
			}
			if ev.ContentHashClaim() != tc.contentHash {
				t.Errorf("claimed hash = %s", ev.ContentHashClaim())
			}
			if ev.EventID() != tc.eventID {
				t.Errorf("event ID = %s, want %s", ev.EventID(), tc.eventID)
			}
			red := withoutKeys(nil, ev.Redacted().Canonical(), "signatures")
			if string(red) != tc.redacted {
				t.Errorf("redacted:\ngot  %s\nwant %s", red, tc.redacted)
			}
			h, err := ReferenceHash(tc.version, []byte(tc.input))
			if err != nil || EventIDFromReferenceHash(ev.Version(), h) != tc.eventID {
				t.Errorf("ReferenceHash: %v", err)
			}
			if !ev.contentHashMatches() {
				t.Error("content hash does not match its own claim")
			}
		})
	}
}
