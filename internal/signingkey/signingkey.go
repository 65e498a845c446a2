// Package signingkey reads and writes server signing keys in the file format
// Synapse uses (<server_name>.signing.key), so that an existing Synapse key
// can be reused by Axon unchanged and vice versa.
//
// The file holds one key per line:
//
//	ed25519 a_AbCd <unpadded standard base64 of the 32-byte seed>
//
// Only the seed is stored; the public key is derived from it.
package signingkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// AlgorithmEd25519 is the only signing algorithm Matrix defines.
const AlgorithmEd25519 = "ed25519"

// Key is one server signing key.
type Key struct {
	Algorithm string // always "ed25519"
	Version   string // e.g. "a_AbCd"
	Private   ed25519.PrivateKey
}

// KeyID returns the Matrix key identifier, e.g. "ed25519:a_AbCd".
func (k Key) KeyID() string { return k.Algorithm + ":" + k.Version }

// Public returns the public half of the key.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// Seed returns the 32-byte seed that the key file stores.
func (k Key) Seed() []byte { return k.Private.Seed() }

const versionAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Generate creates a new ed25519 key with a random version "a_" + 4
// alphanumeric characters, the same shape Synapse gives new keys.
func Generate() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generating ed25519 key: %w", err)
	}
	suffix, err := randomString(4)
	if err != nil {
		return Key{}, err
	}
	return Key{Algorithm: AlgorithmEd25519, Version: "a_" + suffix, Private: priv}, nil
}

// FromSeed builds a key from a 32-byte seed and a version.
func FromSeed(version string, seed []byte) (Key, error) {
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("ed25519 seed must be %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	if err := checkVersion(version); err != nil {
		return Key{}, err
	}
	return Key{Algorithm: AlgorithmEd25519, Version: version, Private: ed25519.NewKeyFromSeed(seed)}, nil
}

func randomString(n int) (string, error) {
	// Rejection sampling keeps the distribution uniform over the alphabet.
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	limit := byte(256 - 256%len(versionAlphabet))
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if b < limit && len(out) < n {
				out = append(out, versionAlphabet[int(b)%len(versionAlphabet)])
			}
		}
	}
	return string(out), nil
}

// checkVersion enforces the Matrix rule for key versions: [a-zA-Z0-9_]+.
func checkVersion(v string) error {
	if v == "" {
		return errors.New("empty key version")
	}
	for _, c := range v {
		if c != '_' && !strings.ContainsRune(versionAlphabet, c) {
			return fmt.Errorf("key version %q may only contain a-z, A-Z, 0-9 and _", v)
		}
	}
	return nil
}

// Parse reads a signing key file. Blank lines and surrounding whitespace are
// ignored; padded base64 is accepted as well as the unpadded form Synapse
// writes.
func Parse(data []byte) ([]Key, error) {
	var keys []Key
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: expected \"<algorithm> <version> <base64 seed>\", got %d fields", i+1, len(fields))
		}
		if fields[0] != AlgorithmEd25519 {
			return nil, fmt.Errorf("line %d: unsupported signing key algorithm %q (only %s is supported)", i+1, fields[0], AlgorithmEd25519)
		}
		seed, err := decodeBase64(fields[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: key %s:%s: invalid base64: %w", i+1, fields[0], fields[1], err)
		}
		k, err := FromSeed(fields[1], seed)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no signing keys found")
	}
	return keys, nil
}

// decodeBase64 accepts standard or URL-safe alphabets, padded or not, as
// Matrix tooling is inconsistent about both.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Read parses the signing key file at path.
func Read(path string) ([]Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	keys, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("signing key file %s: %w", path, err)
	}
	return keys, nil
}

// Encode renders keys in the signing key file format, one per line.
func Encode(keys []Key) []byte {
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s %s\n", k.Algorithm, k.Version, base64.RawStdEncoding.EncodeToString(k.Seed()))
	}
	return b.Bytes()
}

// WriteNew writes k to a new file at path with mode 0600. It never replaces
// an existing file: losing a signing key breaks federation with every server
// that cached it.
func WriteNew(path string, k Key) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating signing key file: %w", err)
	}
	if _, err := f.Write(Encode([]Key{k})); err != nil {
		f.Close()
		return fmt.Errorf("writing signing key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing signing key file %s: %w", path, err)
	}
	return nil
}
