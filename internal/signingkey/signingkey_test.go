package signingkey

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The public key below was computed independently with Python's
// `cryptography` package from the seed bytes 0x00..0x1f.
const (
	vectorSeed   = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	vectorPublic = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
)

func TestFixedVector(t *testing.T) {
	keys, err := Parse([]byte("ed25519 a_test " + vectorSeed + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("got %d keys", len(keys))
	}
	k := keys[0]
	if got := base64.RawStdEncoding.EncodeToString(k.Public()); got != vectorPublic {
		t.Errorf("public key = %s, want %s", got, vectorPublic)
	}
	if k.KeyID() != "ed25519:a_test" {
		t.Errorf("KeyID = %q", k.KeyID())
	}
	if got := string(Encode(keys)); got != "ed25519 a_test "+vectorSeed+"\n" {
		t.Errorf("Encode = %q", got)
	}
}

func TestGenerateFormat(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ed25519:a_[a-zA-Z0-9]{4}$`).MatchString(k.KeyID()) {
		t.Errorf("KeyID %q has the wrong shape", k.KeyID())
	}
	line := string(Encode([]Key{k}))
	if !regexp.MustCompile(`^ed25519 a_[a-zA-Z0-9]{4} [A-Za-z0-9+/]{43}\n$`).MatchString(line) {
		t.Errorf("encoded line %q has the wrong shape", line)
	}
	back, err := Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back[0].Private, k.Private) || back[0].Version != k.Version {
		t.Error("round trip changed the key")
	}
}

func TestParseTolerant(t *testing.T) {
	in := "\n  ed25519 a_test " + vectorSeed + "=  \r\n\ned25519 a_two " + vectorSeed + "\n"
	keys, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[1].Version != "a_two" {
		t.Fatalf("got %+v", keys)
	}
}

func TestParseErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"algorithm": {"rsa a_x " + vectorSeed, "unsupported signing key algorithm"},
		"short":     {"ed25519 a_x AAECAwQ", "seed must be 32 bytes"},
		"badb64":    {"ed25519 a_x !!!!", "invalid base64"},
		"fields":    {"ed25519 " + vectorSeed, "expected"},
		"version":   {"ed25519 a:x " + vectorSeed, "key version"},
		"empty":     {"\n\n", "no signing keys"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestWriteNewAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "example.org.signing.key")
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(path, k); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	other, _ := Generate()
	if err := WriteNew(path, other); err == nil {
		t.Error("WriteNew replaced an existing key file")
	}
	keys, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if keys[0].KeyID() != k.KeyID() || !bytes.Equal(keys[0].Private, k.Private) {
		t.Error("Read returned a different key")
	}
}
