package authrules

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// VerifyEd25519Signed reports whether the signed JSON object (the
// content.third_party_invite.signed of an m.room.member invite) carries an
// ed25519 signature, under any server and key ID, that verifies with
// publicKey. The public key and signatures may be in standard or URL-safe
// base64, padded or not. What is signed is the canonical JSON of the object
// without its "signatures" and "unsigned" keys (appendices, "Signing JSON").
func VerifyEd25519Signed(signed json.RawMessage, publicKey string) bool {
	key, ok := decodeBase64(publicKey)
	if !ok || len(key) != ed25519.PublicKeySize {
		return false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(signed, &obj); err != nil {
		return false
	}
	var sigs map[string]map[string]string
	if err := json.Unmarshal(obj["signatures"], &sigs); err != nil || len(sigs) == 0 {
		return false
	}
	delete(obj, "signatures")
	delete(obj, "unsigned")
	stripped, err := json.Marshal(obj)
	if err != nil {
		return false
	}
	msg, err := canonicaljson.Options{AllowLargeIntegers: true}.Canonicalize(stripped)
	if err != nil {
		return false
	}
	for _, byKey := range sigs {
		for keyID, sig := range byKey {
			if !strings.HasPrefix(keyID, "ed25519:") {
				continue
			}
			raw, ok := decodeBase64(sig)
			if !ok || len(raw) != ed25519.SignatureSize {
				continue
			}
			if ed25519.Verify(ed25519.PublicKey(key), msg, raw) {
				return true
			}
		}
	}
	return false
}

func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}
