package signing

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/id"
)

var (
	// ErrMalformedServerKeys reports a /_matrix/key/v2/server response
	// that does not have the shape the spec requires.
	ErrMalformedServerKeys = errors.New("malformed server keys")
	// ErrWrongServer reports server keys for a server other than the one
	// asked for: accepting them would let one server publish keys for
	// another.
	ErrWrongServer = errors.New("server keys are for another server")
	// ErrNotSelfSigned reports server keys not signed by any of the keys
	// they list in verify_keys.
	ErrNotSelfSigned = errors.New("server keys are not signed by their own verify keys")
)

// MaxKeyValidity is the longest a server key response may be trusted for:
// servers MUST use the lesser of valid_until_ts and 7 days from now, so that
// an attacker who briefly controls a server cannot plant a key forever.
const MaxKeyValidity = 7 * 24 * 60 * 60 * 1000 // milliseconds

// Base64 is binary data that JSON-encodes as unpadded base64 and decodes
// from padded or unpadded base64.
type Base64 []byte

// MarshalText encodes as unpadded standard base64.
func (b Base64) MarshalText() ([]byte, error) { return []byte(EncodeBase64(b)), nil }

// UnmarshalText decodes padded or unpadded standard base64.
func (b *Base64) UnmarshalText(text []byte) error {
	d, err := DecodeBase64(string(text))
	if err != nil {
		return err
	}
	*b = d
	return nil
}

// VerifyKey is an entry of verify_keys: a key the server currently signs
// events and federation requests with.
type VerifyKey struct {
	Key Base64 `json:"key"`
}

// OldVerifyKey is an entry of old_verify_keys: a key the server used to
// sign with, valid only for checking events signed before ExpiredTS.
type OldVerifyKey struct {
	Key       Base64 `json:"key"`
	ExpiredTS int64  `json:"expired_ts"`
}

// ServerKeys is the object served at GET /_matrix/key/v2/server (and
// returned, countersigned, by notaries from /_matrix/key/v2/query).
type ServerKeys struct {
	ServerName    id.ServerName           `json:"server_name"`
	ValidUntilTS  int64                   `json:"valid_until_ts"`
	VerifyKeys    map[string]VerifyKey    `json:"verify_keys"`
	OldVerifyKeys map[string]OldVerifyKey `json:"old_verify_keys"`
	// Signatures maps server name → key ID → unpadded base64 signature.
	Signatures map[string]map[string]string `json:"signatures,omitempty"`

	// Raw holds the exact JSON this value was parsed from or last signed
	// into. Signatures are checked against Raw, not against a
	// re-encoding of the struct, so that members this struct does not
	// model (future extensions) stay covered by the signature; notaries
	// must serve Raw unchanged plus their own signature.
	Raw []byte `json:"-"`
}

// NewServerKeys starts a key response for server, valid until validUntilTS
// (milliseconds since the epoch). Add keys, then Sign.
func NewServerKeys(server id.ServerName, validUntilTS int64) *ServerKeys {
	return &ServerKeys{
		ServerName:    server,
		ValidUntilTS:  validUntilTS,
		VerifyKeys:    map[string]VerifyKey{},
		OldVerifyKeys: map[string]OldVerifyKey{},
	}
}

// AddVerifyKey lists pub as a current key under keyID.
func (k *ServerKeys) AddVerifyKey(keyID string, pub ed25519.PublicKey) error {
	if err := checkPublicKey(keyID, pub); err != nil {
		return fmt.Errorf("add verify key: %w", err)
	}
	if k.VerifyKeys == nil {
		k.VerifyKeys = map[string]VerifyKey{}
	}
	k.VerifyKeys[keyID] = VerifyKey{Key: Base64(pub)}
	k.invalidate()
	return nil
}

// AddOldVerifyKey lists pub as a retired key under keyID, expired at
// expiredTS (milliseconds since the epoch).
func (k *ServerKeys) AddOldVerifyKey(keyID string, pub ed25519.PublicKey, expiredTS int64) error {
	if err := checkPublicKey(keyID, pub); err != nil {
		return fmt.Errorf("add old verify key: %w", err)
	}
	if k.OldVerifyKeys == nil {
		k.OldVerifyKeys = map[string]OldVerifyKey{}
	}
	k.OldVerifyKeys[keyID] = OldVerifyKey{Key: Base64(pub), ExpiredTS: expiredTS}
	k.invalidate()
	return nil
}

// invalidate drops signatures that no longer cover the content.
func (k *ServerKeys) invalidate() {
	k.Signatures = nil
	k.Raw = nil
}

func checkPublicKey(keyID string, pub ed25519.PublicKey) error {
	if err := ValidateKeyID(keyID); err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key for %s is %d bytes", ErrBadKey, keyID, len(pub))
	}
	return nil
}

// Sign signs the response as its own server with keyID, which must be one
// of its verify_keys and match priv, and returns the canonical JSON to
// serve. Existing signatures are kept, so Sign may be called once per key;
// AddVerifyKey and AddOldVerifyKey drop them, since they no longer cover
// the content (so does any direct change to the fields: set Signatures to
// nil before re-signing).
// A notary countersigning another server's response should use SignJSON on
// Raw instead.
func (k *ServerKeys) Sign(keyID string, priv ed25519.PrivateKey) ([]byte, error) {
	vk, ok := k.VerifyKeys[keyID]
	if !ok {
		return nil, fmt.Errorf("sign server keys: %s is not in verify_keys", keyID)
	}
	if len(priv) != ed25519.PrivateKeySize || !ed25519.PublicKey(vk.Key).Equal(priv.Public()) {
		return nil, fmt.Errorf("sign server keys: %w: private key does not match verify key %s", ErrBadKey, keyID)
	}
	if k.OldVerifyKeys == nil {
		k.OldVerifyKeys = map[string]OldVerifyKey{} // serve {} rather than null
	}
	out, err := SignJSON(k, string(k.ServerName), keyID, priv)
	if err != nil {
		return nil, fmt.Errorf("sign server keys: %w", err)
	}
	var signed struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(out, &signed); err != nil {
		return nil, fmt.Errorf("sign server keys: %w", err)
	}
	k.Signatures = signed.Signatures
	k.Raw = out
	return out, nil
}

// ParseServerKeys parses a server key response strictly (canonical JSON
// rules: no duplicate keys, no floats, valid UTF-8) and checks its shape:
// server_name, valid_until_ts and verify_keys present, key IDs well formed,
// ed25519 keys 32 bytes, old keys with expired_ts. It does not check
// signatures; see VerifyServerKeys.
func ParseServerKeys(data []byte) (*ServerKeys, error) {
	v, err := canonicaljson.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedServerKeys, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: not an object", ErrMalformedServerKeys)
	}
	for _, field := range []string{"server_name", "valid_until_ts", "verify_keys"} {
		if _, ok := m[field]; !ok {
			return nil, fmt.Errorf("%w: missing %s", ErrMalformedServerKeys, field)
		}
	}
	if olds, ok := m["old_verify_keys"].(map[string]any); ok {
		for keyID, old := range olds {
			if o, ok := old.(map[string]any); !ok || o["expired_ts"] == nil {
				return nil, fmt.Errorf("%w: old_verify_keys[%q] lacks expired_ts", ErrMalformedServerKeys, keyID)
			}
		}
	}
	// The input is now known to be strict JSON, so encoding/json's laxer
	// rules (last duplicate wins, etc.) cannot change its meaning.
	var k ServerKeys
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedServerKeys, err)
	}
	if _, err := id.ParseServerName(string(k.ServerName)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedServerKeys, err)
	}
	for keyID, vk := range k.VerifyKeys {
		if err := checkListedKey(keyID, vk.Key); err != nil {
			return nil, fmt.Errorf("%w: verify_keys: %w", ErrMalformedServerKeys, err)
		}
	}
	for keyID, ok := range k.OldVerifyKeys {
		if err := checkListedKey(keyID, ok.Key); err != nil {
			return nil, fmt.Errorf("%w: old_verify_keys: %w", ErrMalformedServerKeys, err)
		}
	}
	k.Raw = append([]byte(nil), data...)
	return &k, nil
}

// checkListedKey validates a published key: its ID must be well formed;
// ed25519 keys must be 32 bytes; keys of algorithms we do not know are kept
// but never used.
func checkListedKey(keyID string, key []byte) error {
	alg, _, err := SplitKeyID(keyID)
	if err != nil {
		return err
	}
	if alg == AlgorithmEd25519 && len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %s is %d bytes", ErrBadKey, keyID, len(key))
	}
	return nil
}

// VerifyServerKeys parses a server's key response and checks that it is
// for expected and is self-signed: at least one signature by expected
// must be under a key ID listed in verify_keys, and every such signature
// must verify. Signatures by other key IDs (for example a notary's) are
// not checked here.
func VerifyServerKeys(data []byte, expected id.ServerName) (*ServerKeys, error) {
	k, err := ParseServerKeys(data)
	if err != nil {
		return nil, err
	}
	if k.ServerName != expected {
		return nil, fmt.Errorf("%w: asked for %q, got %q", ErrWrongServer, expected, k.ServerName)
	}
	if err := k.VerifySelfSignature(); err != nil {
		return nil, err
	}
	return k, nil
}

// VerifySelfSignature checks Raw against the server's own verify_keys, as
// VerifyServerKeys describes.
func (k *ServerKeys) VerifySelfSignature() error {
	server := string(k.ServerName)
	verified := false
	for keyID := range k.Signatures[server] {
		vk, ok := k.VerifyKeys[keyID]
		if !ok || ValidateKeyID(keyID) != nil {
			continue
		}
		if err := VerifyJSON(k.Raw, server, keyID, ed25519.PublicKey(vk.Key)); err != nil {
			return fmt.Errorf("server keys of %s: %w", server, err)
		}
		verified = true
	}
	if !verified {
		return fmt.Errorf("server keys of %s: %w", server, ErrNotSelfSigned)
	}
	return nil
}

// PublicKey finds keyID among the current and old keys. For an old key it
// also returns when it expired; for a current key expiredTS is 0.
func (k *ServerKeys) PublicKey(keyID string) (pub ed25519.PublicKey, expiredTS int64, ok bool) {
	if ValidateKeyID(keyID) != nil {
		return nil, 0, false
	}
	if vk, ok := k.VerifyKeys[keyID]; ok {
		return ed25519.PublicKey(vk.Key), 0, true
	}
	if old, ok := k.OldVerifyKeys[keyID]; ok {
		return ed25519.PublicKey(old.Key), old.ExpiredTS, true
	}
	return nil, 0, false
}

// EffectiveValidUntil returns how long, in milliseconds since the epoch,
// the current keys may be trusted when fetched at nowMS: the lesser of
// valid_until_ts and nowMS + 7 days. (Room versions 1–4 ignore
// valid_until_ts altogether; that choice belongs to the caller.)
func (k *ServerKeys) EffectiveValidUntil(nowMS int64) int64 {
	return min(k.ValidUntilTS, nowMS+MaxKeyValidity)
}
