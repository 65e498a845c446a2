// Package signing implements the spec appendix "Signing JSON": ed25519
// signatures over the canonical JSON of an object without its `signatures`
// and `unsigned` members, unpadded base64 helpers, signing key IDs, and the
// server key objects published at /_matrix/key/v2/server.
//
// Event signing (which signs the redacted event and adds a content hash)
// builds on this package but lives with the event format, because the
// redaction algorithm depends on the room version.
package signing

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// Errors reported by signing and verification, matched with errors.Is.
var (
	// ErrNotObject reports JSON whose top level is not an object, or a
	// `signatures` member that is not an object of objects of strings.
	ErrNotObject = errors.New("not a signable JSON object")
	// ErrMissingSignature reports that the object carries no signature
	// from the given server with the given key ID.
	ErrMissingSignature = errors.New("missing signature")
	// ErrBadSignature reports a signature that does not verify (including
	// one of the wrong length).
	ErrBadSignature = errors.New("bad signature")
	// ErrBadKey reports a public or private key of the wrong size.
	ErrBadKey = errors.New("bad ed25519 key")
)

// Options carries the canonical JSON rules used to encode the signed
// payload. The zero value applies the spec's rules; events in room versions
// 1–5 may need canonicaljson.Options.AllowLargeIntegers.
type Options struct {
	JSON canonicaljson.Options
}

// SignJSON signs obj as serverName with keyID; see Options.SignJSON.
func SignJSON(obj any, serverName, keyID string, priv ed25519.PrivateKey) ([]byte, error) {
	return Options{}.SignJSON(obj, serverName, keyID, priv)
}

// VerifyJSON checks serverName's keyID signature on data; see
// Options.VerifyJSON.
func VerifyJSON(data []byte, serverName, keyID string, pub ed25519.PublicKey) error {
	return Options{}.VerifyJSON(data, serverName, keyID, pub)
}

// SigningPayload returns the bytes that a signature on obj covers; see
// Options.SigningPayload.
func SigningPayload(obj any) ([]byte, error) { return Options{}.SigningPayload(obj) }

// SignJSON signs a JSON object and returns it, canonically encoded, with the
// signature added under signatures[serverName][keyID].
//
// obj may be JSON bytes ([]byte or json.RawMessage), a map[string]any, or
// any value that encodes to a JSON object (a struct, say). Following the
// spec's sign_json: `signatures` and `unsigned` are removed, the rest is
// encoded as canonical JSON and signed, then the existing signatures (from
// this or other servers) are kept with the new one added, and `unsigned`
// is put back unchanged. The caller's map is not modified.
func (o Options) SignJSON(obj any, serverName, keyID string, priv ed25519.PrivateKey) ([]byte, error) {
	if err := ValidateKeyID(keyID); err != nil {
		return nil, fmt.Errorf("sign JSON: %w", err)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sign JSON: %w: private key is %d bytes", ErrBadKey, len(priv))
	}
	m, err := o.toObject(obj)
	if err != nil {
		return nil, fmt.Errorf("sign JSON: %w", err)
	}
	sigs, err := signaturesOf(m)
	if err != nil {
		return nil, fmt.Errorf("sign JSON: %w", err)
	}
	unsigned, hasUnsigned := m["unsigned"]
	delete(m, "signatures")
	delete(m, "unsigned")
	payload, err := o.JSON.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("sign JSON: encode payload: %w", err)
	}
	sig := EncodeBase64(ed25519.Sign(priv, payload))

	// Copy the signatures so that the caller's nested maps are untouched.
	newSigs := make(map[string]any, len(sigs)+1)
	for server, keys := range sigs {
		inner := make(map[string]any, len(keys))
		for k, v := range keys {
			inner[k] = v
		}
		newSigs[server] = inner
	}
	mine, _ := newSigs[serverName].(map[string]any)
	if mine == nil {
		mine = make(map[string]any, 1)
		newSigs[serverName] = mine
	}
	mine[keyID] = sig
	m["signatures"] = newSigs
	if hasUnsigned {
		m["unsigned"] = unsigned
	}
	out, err := o.JSON.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("sign JSON: encode result: %w", err)
	}
	return out, nil
}

// VerifyJSON checks that data, a JSON object, carries a valid signature by
// serverName's key keyID, following the spec's "Checking for a Signature":
// look up signatures[serverName][keyID], base64-decode it, remove
// `signatures` and `unsigned`, encode the rest canonically and check the
// ed25519 signature. Choosing keyID and finding its public key (local cache
// or notary) is the caller's job; see KeyIDsFor.
//
// Errors wrap ErrMissingSignature, ErrBadBase64, ErrBadSignature,
// ErrNotObject, ErrBadKey, ErrInvalidKeyID / ErrUnsupportedAlgorithm, or a
// canonicaljson error when data is not acceptable JSON.
func (o Options) VerifyJSON(data []byte, serverName, keyID string, pub ed25519.PublicKey) error {
	if err := ValidateKeyID(keyID); err != nil {
		return fmt.Errorf("verify %s signature: %w", serverName, err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("verify %s signature: %w: public key is %d bytes", serverName, ErrBadKey, len(pub))
	}
	v, err := o.JSON.Decode(data)
	if err != nil {
		return fmt.Errorf("verify %s signature: %w", serverName, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("verify %s signature: %w", serverName, ErrNotObject)
	}
	return o.verifyObject(m, serverName, keyID, pub)
}

// VerifyEntityJSON checks entity's keyID signature on a JSON object, as
// VerifyJSON does for servers, for the keys of end-to-end encryption:
// users sign with keys named ed25519:<device ID> or ed25519:<public key>,
// whose names may hold characters server key IDs may not, so only the
// algorithm is checked.
func VerifyEntityJSON(data []byte, entity, keyID string, pub ed25519.PublicKey) error {
	return Options{}.VerifyEntityJSON(data, entity, keyID, pub)
}

// VerifyEntityJSON: see the package-level VerifyEntityJSON.
func (o Options) VerifyEntityJSON(data []byte, entity, keyID string, pub ed25519.PublicKey) error {
	if alg, _, ok := strings.Cut(keyID, ":"); !ok || alg != AlgorithmEd25519 {
		return fmt.Errorf("verify %s signature: %w: %q", entity, ErrUnsupportedAlgorithm, keyID)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("verify %s signature: %w: public key is %d bytes", entity, ErrBadKey, len(pub))
	}
	v, err := o.JSON.Decode(data)
	if err != nil {
		return fmt.Errorf("verify %s signature: %w", entity, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("verify %s signature: %w", entity, ErrNotObject)
	}
	return o.verifyObject(m, entity, keyID, pub)
}

// verifyObject does the work of VerifyJSON on a decoded object; it removes
// `signatures` and `unsigned` from m.
func (o Options) verifyObject(m map[string]any, serverName, keyID string, pub ed25519.PublicKey) error {
	sigs, err := signaturesOf(m)
	if err != nil {
		return fmt.Errorf("verify %s signature: %w", serverName, err)
	}
	b64, ok := sigs[serverName][keyID]
	if !ok {
		return fmt.Errorf("verify %s signature: %w by %s", serverName, ErrMissingSignature, keyID)
	}
	sig, err := DecodeBase64(b64)
	if err != nil {
		return fmt.Errorf("verify %s signature %s: %w", serverName, keyID, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("verify %s signature %s: %w: %d bytes", serverName, keyID, ErrBadSignature, len(sig))
	}
	delete(m, "signatures")
	delete(m, "unsigned")
	payload, err := o.JSON.Marshal(m)
	if err != nil {
		return fmt.Errorf("verify %s signature %s: encode payload: %w", serverName, keyID, err)
	}
	if !ed25519.Verify(pub, payload, sig) {
		return fmt.Errorf("verify %s signature %s: %w", serverName, keyID, ErrBadSignature)
	}
	return nil
}

// SigningPayload returns the canonical JSON of obj without `signatures` and
// `unsigned`: exactly the bytes a signature covers. Accepts the same obj
// forms as SignJSON.
func (o Options) SigningPayload(obj any) ([]byte, error) {
	m, err := o.toObject(obj)
	if err != nil {
		return nil, fmt.Errorf("signing payload: %w", err)
	}
	delete(m, "signatures")
	delete(m, "unsigned")
	payload, err := o.JSON.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("signing payload: %w", err)
	}
	return payload, nil
}

// KeyIDsFor lists the ed25519 key IDs under which serverName has signed
// data, in sorted order; entries with other or malformed algorithms are
// left out, as step 2 of "Checking for a Signature" requires. It returns
// ErrMissingSignature when none remain.
func KeyIDsFor(data []byte, serverName string) ([]string, error) {
	v, err := canonicaljson.Options{AllowLargeIntegers: true}.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("signature key IDs: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("signature key IDs: %w", ErrNotObject)
	}
	sigs, err := signaturesOf(m)
	if err != nil {
		return nil, fmt.Errorf("signature key IDs: %w", err)
	}
	var ids []string
	for keyID := range sigs[serverName] {
		if ValidateKeyID(keyID) == nil {
			ids = append(ids, keyID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("signature key IDs: %w from %s", ErrMissingSignature, serverName)
	}
	slices.Sort(ids)
	return ids, nil
}

// toObject turns the accepted forms of obj into a fresh top-level map that
// the caller may modify (nested values are shared with the input).
func (o Options) toObject(obj any) (map[string]any, error) {
	var v any
	switch x := obj.(type) {
	case map[string]any:
		if x == nil {
			return nil, ErrNotObject
		}
		m := make(map[string]any, len(x)+1)
		for k, e := range x {
			m[k] = e
		}
		return m, nil
	case []byte:
		var err error
		if v, err = o.JSON.Decode(x); err != nil {
			return nil, err
		}
	case json.RawMessage:
		var err error
		if v, err = o.JSON.Decode(x); err != nil {
			return nil, err
		}
	default:
		b, err := o.JSON.Marshal(obj)
		if err != nil {
			return nil, err
		}
		if v, err = o.JSON.Decode(b); err != nil {
			return nil, err
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ErrNotObject
	}
	return m, nil
}

// signaturesOf reads the `signatures` member as server → key ID → base64
// signature. A missing member yields an empty result; a member of the wrong
// shape is an error, since it cannot be extended or checked.
func signaturesOf(m map[string]any) (map[string]map[string]string, error) {
	raw, ok := m["signatures"]
	if !ok {
		return map[string]map[string]string{}, nil
	}
	var out map[string]map[string]string
	switch s := raw.(type) {
	case map[string]any:
		out = make(map[string]map[string]string, len(s))
		for server, keys := range s {
			km, ok := keys.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: signatures[%q] is not an object", ErrNotObject, server)
			}
			inner := make(map[string]string, len(km))
			for k, sig := range km {
				str, ok := sig.(string)
				if !ok {
					return nil, fmt.Errorf("%w: signatures[%q][%q] is not a string", ErrNotObject, server, k)
				}
				inner[k] = str
			}
			out[server] = inner
		}
	case map[string]map[string]string:
		out = s
	default:
		return nil, fmt.Errorf("%w: signatures is not an object", ErrNotObject)
	}
	return out, nil
}
