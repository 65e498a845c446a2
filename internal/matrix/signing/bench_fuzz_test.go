package signing

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// benchObject is a typical federation object (~1 KB).
const benchObject = `{"type":"m.room.message","room_id":"!OGEhHVWSdvArJzumhm:matrix.org","sender":"@alice:example.org",` +
	`"origin_server_ts":1700000000000,"depth":12345,"content":{"msgtype":"m.text","body":"Hello, world! This is a ` +
	`reasonably typical message body with some quotes and an emoji 😀.","format":"org.matrix.custom.html",` +
	`"formatted_body":"<p>Hello, <b>world</b>! This is a reasonably typical message body.</p>"},` +
	`"prev_events":["$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"],"auth_events":["$aZvO0y5a0Z8zmnQ5kiTwnZJ2sFPVb0tYBLqXzF3Vt5A",` +
	`"$NDCbnu5yo5IAhtwuZGJxTPpqKSd7PiCSwiWFNG7bdDY","$k4VTqy4tnlgjGJ9OKxe8EaQ95Mk3zkrzCJtWCDDJdSQ"],` +
	`"hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},"unsigned":{"age":1234}}`

func BenchmarkSignJSON(b *testing.B) {
	priv := vectorKey(b)
	in := []byte(benchObject)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignJSON(in, "example.org", "ed25519:a_AbCd", priv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyJSON(b *testing.B) {
	priv := vectorKey(b)
	pub := priv.Public().(ed25519.PublicKey)
	signed, err := SignJSON([]byte(benchObject), "example.org", "ed25519:a_AbCd", priv)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyJSON(signed, "example.org", "ed25519:a_AbCd", pub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Verify is the floor VerifyJSON cannot go below.
func BenchmarkEd25519Verify(b *testing.B) {
	priv := vectorKey(b)
	pub := priv.Public().(ed25519.PublicKey)
	payload, _ := canonicaljson.Canonicalize([]byte(benchObject))
	sig := ed25519.Sign(priv, payload)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, payload, sig) {
			b.Fatal("bad")
		}
	}
}

func BenchmarkVerifyServerKeys(b *testing.B) {
	pub, priv := testKey(b, 1)
	keys := NewServerKeys("example.org", 1_700_000_000_000)
	if err := keys.AddVerifyKey("ed25519:a", pub); err != nil {
		b.Fatal(err)
	}
	served, err := keys.Sign("ed25519:a", priv)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyServerKeys(served, "example.org"); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzVerifyJSON feeds arbitrary bytes to the verifier and server key
// parser: they must never panic, and whatever SignJSON produces must verify.
func FuzzVerifyJSON(f *testing.F) {
	f.Add([]byte(benchObject))
	f.Add([]byte(`{"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}}`))
	f.Add([]byte(`{"server_name":"a","valid_until_ts":1,"verify_keys":{"ed25519:a":{"key":"AAAA"}},"signatures":{"a":{"ed25519:a":"AAAA"}}}`))
	f.Add([]byte(`{"signatures":[],"unsigned":1}`))
	priv := vectorKey(f)
	pub := priv.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = VerifyJSON(data, "domain", "ed25519:1", pub)
		_, _ = KeyIDsFor(data, "domain")
		_, _ = VerifyServerKeys(data, "a")
		signed, err := SignJSON(data, "domain", "ed25519:1", priv)
		if err != nil {
			return
		}
		if err := VerifyJSON(signed, "domain", "ed25519:1", pub); err != nil {
			t.Fatalf("own signature does not verify: %v\n%s", err, signed)
		}
		if err := VerifyJSON(signed, "domain", "ed25519:2", pub); !errors.Is(err, ErrMissingSignature) {
			t.Fatalf("missing key ID: %v", err)
		}
	})
}
