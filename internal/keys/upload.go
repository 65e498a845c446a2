package keys

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/signing"
	"github.com/axonhs/axon/internal/storage"
)

// checkDeviceKeys validates an uploaded device_keys object and returns it
// as canonical JSON without its unsigned member, which /keys/query
// replaces anyway. Signatures are not verified (see Upload).
func checkDeviceKeys(raw []byte, user, device string) (string, error) {
	v, err := canonicaljson.Decode(raw)
	if err != nil {
		return "", badKeys("device_keys: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", badKeys("device_keys must be an object")
	}
	if u, ok := obj["user_id"].(string); !ok {
		return "", badKeys("device_keys.user_id: must be a string")
	} else if u != user {
		return "", badKeys("Provided `user_id` in `device_keys` does not match that of the authenticated user")
	}
	if d, ok := obj["device_id"].(string); !ok {
		return "", badKeys("device_keys.device_id: must be a string")
	} else if d != device {
		return "", badKeys("Provided `device_id` in `device_keys` does not match that of the authenticated user device")
	}
	if !isStringList(obj["algorithms"]) {
		return "", badKeys("device_keys.algorithms: must be a list of strings")
	}
	if !isStringMap(obj["keys"]) {
		return "", badKeys("device_keys.keys: must be an object of strings")
	}
	if !isSignatures(obj["signatures"]) {
		return "", badKeys("device_keys.signatures: must be an object of objects of strings")
	}
	if selfSigned(obj, user, device) && verifySelfSignature(obj, user, device) != nil {
		return "", fmt.Errorf("%w by the device on its keys", ErrInvalidSignature)
	}
	delete(obj, "unsigned")
	b, err := canonicaljson.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("encode device keys: %w", err)
	}
	return string(b), nil
}

// checkOneTimeKeys validates one_time_keys or fallback_keys: names
// "<algorithm>:<key ID>", values strings or signed key objects. The keys
// come back in name order, canonical.
func checkOneTimeKeys(field string, keys map[string]json.RawMessage) ([]storage.OneTimeKey, error) {
	out := make([]storage.OneTimeKey, 0, len(keys))
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		parts := strings.Split(name, ":")
		if len(parts) != 2 {
			return nil, badKeys("Invalid %s key %q. Expected \"<algorithm>:<device_id>\".", field, name)
		}
		v, err := canonicaljson.Decode(keys[name])
		if err != nil {
			return nil, badKeys("%s.%s: %v", field, name, err)
		}
		if !isKey(v) {
			return nil, badKeys("%s.%s: must be a string or an object with key and signatures", field, name)
		}
		b, err := canonicaljson.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s key: %w", field, err)
		}
		out = append(out, storage.OneTimeKey{Algorithm: parts[0], KeyID: parts[1], JSON: string(b)})
	}
	return out, nil
}

// isKey: a key is an unsigned string (old clients) or {key, signatures, ...}.
func isKey(v any) bool {
	switch k := v.(type) {
	case string:
		return true
	case map[string]any:
		_, ok := k["key"].(string)
		return ok && isSignatures(k["signatures"])
	}
	return false
}

// sameOneTimeKey reports whether an uploaded one-time key is a retry of
// the stored one: equal, apart from its signatures, which a client may
// compute anew (Synapse's rule).
func sameOneTimeKey(stored, uploaded string) bool {
	if stored == uploaded {
		return true
	}
	ao, okA := decodeObject([]byte(stored))
	bo, okB := decodeObject([]byte(uploaded))
	if !okA || !okB {
		return false // a string key must match exactly
	}
	delete(ao, "signatures")
	delete(bo, "signatures")
	ab, errA := canonicaljson.Marshal(ao)
	bb, errB := canonicaljson.Marshal(bo)
	return errA == nil && errB == nil && string(ab) == string(bb)
}

func isStringList(v any) bool {
	l, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range l {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

func isStringMap(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, e := range m {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

// isSignatures: {user ID: {key ID: signature}}.
func isSignatures(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, e := range m {
		if !isStringMap(e) {
			return false
		}
	}
	return true
}

// ErrBadKeys wraps every validation failure of uploaded keys; the client
// API answers it with M_BAD_JSON.
var ErrBadKeys = errors.New("keys: invalid keys")

func badKeys(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadKeys, fmt.Sprintf(format, args...))
}

// decodeObject decodes a JSON object; ok is false for anything else.
func decodeObject(b []byte) (obj map[string]any, ok bool) {
	v, err := canonicaljson.Decode(b)
	obj, ok = v.(map[string]any)
	return obj, err == nil && ok
}

// signaturesBy returns signer's signatures on a key object, by key ID.
func signaturesBy(obj map[string]any, signer string) map[string]any {
	sigs, _ := obj["signatures"].(map[string]any)
	mine, _ := sigs[signer].(map[string]any)
	return mine
}

// selfSigned reports whether a key object carries a signature by the
// device's ed25519 key.
func selfSigned(obj map[string]any, user, device string) bool {
	_, ok := signaturesBy(obj, user)["ed25519:"+device]
	return ok
}

// verifySelfSignature checks the device's signature on its keys, with
// the ed25519 key they hold.
func verifySelfSignature(obj map[string]any, user, device string) error {
	pub, err := deviceEd25519(obj, device)
	if err != nil {
		return err
	}
	return verifyOn(obj, user, "ed25519:"+device, pub)
}

func deviceEd25519(deviceKeys map[string]any, device string) (ed25519.PublicKey, error) {
	keys, _ := deviceKeys["keys"].(map[string]any)
	b64, _ := keys["ed25519:"+device].(string)
	return publicKey(b64)
}

// storedDeviceEd25519 is the ed25519 key of a device's stored keys.
func storedDeviceEd25519(deviceKeys, device string) (ed25519.PublicKey, error) {
	obj, ok := decodeObject([]byte(deviceKeys))
	if !ok {
		return nil, errors.New("no stored device keys")
	}
	return deviceEd25519(obj, device)
}

func publicKey(b64 string) (ed25519.PublicKey, error) {
	b, err := signing.DecodeBase64(b64)
	if err != nil {
		return nil, err
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, errors.New("not an ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

// mayReplace refuses new device keys that would change a device's
// identity keys (its ed25519 and curve25519 keys), once the device has
// proven them with its own signature: clients (matrix-rust-sdk,
// mautrix-go) ignore such a change, and messages for the device then
// become undecryptable (Synapse issue 18511). New signatures on the same
// keys, as after a cross-signing reset, are welcome. Keys the device
// never signed prove nothing and may be replaced.
func mayReplace(user, device string) func(stored, uploaded string) error {
	return func(stored, uploaded string) error {
		oldObj, okOld := decodeObject([]byte(stored))
		newObj, okNew := decodeObject([]byte(uploaded))
		if !okOld || !okNew {
			return nil // not ours to judge: validation has passed
		}
		if !selfSigned(oldObj, user, device) || verifySelfSignature(oldObj, user, device) != nil {
			return nil
		}
		a, _ := canonicaljson.Marshal(oldObj["keys"])
		b, _ := canonicaljson.Marshal(newObj["keys"])
		if string(a) != string(b) {
			return ErrIdentityChanged
		}
		return nil
	}
}

// ErrIdentityChanged: new device keys would change a device's identity
// keys.
var ErrIdentityChanged = errors.New("keys: the device's identity keys may not change")

// checkSigned verifies the device's signatures on signed one-time and
// fallback keys, with the device keys in effect ("" when the device has
// none yet, and nothing can be checked).
func checkSigned(user, device string, keys []storage.OneTimeKey) func(deviceKeys string) error {
	return func(deviceKeys string) error {
		pub, err := storedDeviceEd25519(deviceKeys, device)
		if err != nil {
			return nil // no usable ed25519 key to check with
		}
		for _, k := range keys {
			obj, ok := decodeObject([]byte(k.JSON))
			if !ok || !selfSigned(obj, user, device) {
				continue // unsigned keys (old clients) have nothing to check
			}
			if verifyOn(obj, user, "ed25519:"+device, pub) != nil {
				return fmt.Errorf("%w by the device on key %s", ErrInvalidSignature, k.Name())
			}
		}
		return nil
	}
}
