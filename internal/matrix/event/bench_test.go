package event

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

func benchProto() ProtoEvent {
	v := roomversion.MustLookup("11")
	p := messageProto(v)
	p.Content = json.RawMessage(`{"body":"Hello, this is a fairly ordinary chat message of moderate length.","msgtype":"m.text","m.mentions":{}}`)
	return p
}

// Build, hash and sign an m.room.message (target ≤ 30 µs, ≤ 20 allocs).
func BenchmarkBuildMessage(b *testing.B) {
	key := specKey(b)
	p := benchProto()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build("11", p, "example.org", "ed25519:a", key, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// Verify hash and signature of a parsed event (target ≤ 60 µs).
func BenchmarkCheckHashAndSignatures(b *testing.B) {
	key := specKey(b)
	ev, err := Build("11", benchProto(), "example.org", "ed25519:a", key, testNow)
	if err != nil {
		b.Fatal(err)
	}
	lookup := keysFor("example.org", "ed25519:a", key.Public().(ed25519.PublicKey), 1<<62)
	b.ReportAllocs()
	for b.Loop() {
		c, err := CheckHashAndSignatures(ev, lookup)
		if err != nil || c.Outcome != Valid {
			b.Fatal(err)
		}
	}
}

// Parse (canonicalize, validate, compute the event ID) a received PDU.
func BenchmarkParse(b *testing.B) {
	ev, err := Build("11", benchProto(), "example.org", "ed25519:a", specKey(b), testNow)
	if err != nil {
		b.Fatal(err)
	}
	raw := ev.Raw()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("11", raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	ev, err := Build("11", benchProto(), "example.org", "ed25519:a", specKey(b), testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ev.Redacted()
	}
}
