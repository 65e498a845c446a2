package event

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/signing"
)

// KeyLookup returns the ed25519 public key that server publishes under
// keyID ("ed25519:…") and the key's valid_until_ts in milliseconds; ok is
// false when the key is unknown. The caller's key store applies the spec's
// rule of using the lesser of valid_until_ts and now + 7 days (fragment
// v5-signing-requirements). KeyLookup must not do I/O on behalf of this
// package: fetch keys before checking.
type KeyLookup func(server, keyID string) (key ed25519.PublicKey, validUntilTS int64, ok bool)

// Outcome is the result of hash and signature checks that did not reject
// the event.
type Outcome int

const (
	// Valid: signatures and content hash check out; process the event as
	// received.
	Valid Outcome = iota + 1
	// HashMismatch: the signatures are good but the content hash is not;
	// the event must be processed in its redacted form (server-server API
	// "Checks performed on receipt of a PDU", step 3).
	HashMismatch
)

func (o Outcome) String() string {
	switch o {
	case Valid:
		return "valid"
	case HashMismatch:
		return "hash mismatch (redacted)"
	}
	return "unknown"
}

// Checked is the result of [CheckHashAndSignatures].
type Checked struct {
	Outcome Outcome
	// Event is the event to process further: the received event when
	// Outcome is Valid, its redacted form when Outcome is HashMismatch.
	Event *Event
}

// Signature errors: the event must be dropped (step 2 of the checks on
// receipt of a PDU).
var (
	// ErrMissingSignature: no signature from a known, unexpired key of a
	// server whose signature is required.
	ErrMissingSignature = errors.New("event: no valid signature from required server")
	// ErrBadSignature: a signature by a known, unexpired key of a required
	// server does not verify.
	ErrBadSignature = errors.New("event: signature does not verify")
)

// RequiredSignatures returns the servers whose signatures an event needs
// (server-server API "Validating hashes and signatures on received
// events"): the sender's server, and in room versions 1 and 2 also the
// server named in the event ID. Auth rules add more (e.g. the server of
// join_authorised_via_users_server); check those with [VerifySignatureFrom].
func RequiredSignatures(e *Event) []string {
	out := []string{serverOf(e.sender)}
	if e.version.SignedByEventIDDomain() {
		if s := serverOf(e.eventID); s != "" && s != out[0] {
			out = append(out, s)
		}
	}
	return out
}

// serverOf returns the server name of a user ID or v1/v2 event ID: what
// follows the first colon.
func serverOf(id string) string {
	_, s, ok := strings.Cut(id, ":")
	if !ok {
		return ""
	}
	return s
}

// CheckHashAndSignatures performs steps 2 and 3 of the checks on receipt of
// a PDU. It returns an error wrapping [ErrMissingSignature] or
// [ErrBadSignature] when the event must be dropped. Otherwise Outcome is
// Valid, or HashMismatch with the redacted event to use instead.
func CheckHashAndSignatures(e *Event, keys KeyLookup) (Checked, error) {
	signed := referenceHashInput(make([]byte, 0, len(e.canon)), e.version.RedactionRules(), e.canon)
	for _, server := range RequiredSignatures(e) {
		if err := verifyFrom(e, signed, server, keys); err != nil {
			return Checked{}, err
		}
	}
	if e.contentHashMatches() {
		return Checked{Outcome: Valid, Event: e}, nil
	}
	return Checked{Outcome: HashMismatch, Event: e.Redacted()}, nil
}

// VerifySignatureFrom checks that the event carries a valid signature from
// server (for auth rules that require more signers, such as
// join_authorised_via_users_server).
func VerifySignatureFrom(e *Event, server string, keys KeyLookup) error {
	signed := referenceHashInput(make([]byte, 0, len(e.canon)), e.version.RedactionRules(), e.canon)
	return verifyFrom(e, signed, server, keys)
}

// verifyFrom checks the signatures of server over signed: every signature
// by a known, unexpired ed25519 key must verify and there must be at least
// one. Unknown keys and other algorithms are skipped; from room version 5
// so are keys whose validity ended before origin_server_ts.
func verifyFrom(e *Event, signed []byte, server string, keys KeyLookup) error {
	if server == "" {
		return fmt.Errorf("%w: no server name", ErrMissingSignature)
	}
	sigs, _ := rawjson.Lookup(e.canon, "signatures")
	var serverSigs []byte
	it, _ := rawjson.Object(sigs)
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		if name, err := keyString(m.Key); err == nil && name == server {
			serverSigs = m.Value
			break
		}
	}
	verified := 0
	kit, _ := rawjson.Object(serverSigs)
	for {
		m, ok := kit.Next()
		if !ok {
			break
		}
		keyID, err := keyString(m.Key)
		if err != nil || !strings.HasPrefix(keyID, "ed25519:") {
			continue
		}
		pub, validUntil, ok := keys(server, keyID)
		if !ok || len(pub) != ed25519.PublicKeySize {
			continue
		}
		if e.version.EnforceKeyValidity() && validUntil < e.originTS {
			continue
		}
		sigText, err := decodeString("signatures", m.Value)
		if err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrBadSignature, server, keyID, err)
		}
		sig, err := signing.DecodeBase64(sigText)
		if err != nil || !ed25519.Verify(pub, signed, sig) {
			return fmt.Errorf("%w: %s %s", ErrBadSignature, server, keyID)
		}
		verified++
	}
	if verified == 0 {
		return fmt.Errorf("%w: %s", ErrMissingSignature, server)
	}
	return nil
}

// keyString decodes the raw text of a canonical object key.
func keyString(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), nil
	}
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	return decodeString("key", q)
}

// contentHashMatches compares hashes.sha256 with the computed content hash.
func (e *Event) contentHashMatches() bool {
	claimed, err := signing.DecodeBase64(e.hashSHA256)
	if err != nil || len(claimed) != sha256.Size {
		return false
	}
	h := e.ContentHash()
	return bytes.Equal(claimed, h[:])
}
