package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
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
	a, errA := canonicaljson.Decode([]byte(stored))
	b, errB := canonicaljson.Decode([]byte(uploaded))
	if errA != nil || errB != nil {
		return false
	}
	ao, okA := a.(map[string]any)
	bo, okB := b.(map[string]any)
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
