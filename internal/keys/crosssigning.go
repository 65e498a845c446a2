package keys

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/signing"
	"github.com/axonhs/axon/internal/storage"
)

// Cross-signing key types, as their usage names them.
const (
	Master      = "master"
	SelfSigning = "self_signing"
	UserSigning = "user_signing"
)

// Errors of cross-signing uploads, which the client API maps to Matrix
// errors.
var (
	ErrNoMasterKey      = errors.New("keys: no master key available")   // M_MISSING_PARAM
	ErrInvalidKey       = errors.New("keys: invalid cross-signing key") // M_INVALID_PARAM
	ErrInvalidSignature = errors.New("keys: invalid signature")         // M_INVALID_SIGNATURE
	ErrKeyIDInUse       = errors.New("keys: key ID in use by a device") // 403 M_FORBIDDEN
	ErrBadSignatures    = errors.New("keys: invalid signatures upload") // M_INVALID_PARAM
	errKeyMismatch      = errors.New("keys: key does not match the stored one")
)

// CrossSigningStore is the storage cross-signing needs.
type CrossSigningStore interface {
	CrossSigningKeys(ctx context.Context, userIDs []string) ([]storage.CrossSigningKey, error)
	PutCrossSigningKeys(ctx context.Context, up storage.CrossSigningUpload) error
	SignaturesOn(ctx context.Context, requester string, userIDs []string) ([]storage.Signature, error)
	PutSignatures(ctx context.Context, up storage.SignatureUpload) error
	Devices(ctx context.Context, userID string) ([]storage.Device, error)
	IsCrossSigningKeyID(ctx context.Context, userID, id string) (bool, error)
}

// SigningKeys are the keys of a /keys/device_signing/upload; nil: not
// uploaded.
type SigningKeys struct {
	Master, SelfSigning, UserSigning json.RawMessage
}

func (k SigningKeys) byType() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for typ, raw := range map[string]json.RawMessage{Master: k.Master, SelfSigning: k.SelfSigning, UserSigning: k.UserSigning} {
		if len(raw) > 0 && string(raw) != "null" {
			out[typ] = raw
		}
	}
	return out
}

// SigningKeysCheck is what an upload would do: nothing (the keys are
// those stored: a retry), or a change, which needs the user to
// authenticate again when they already have a master key (MSC3967: the
// first set-up does not).
type SigningKeysCheck struct {
	Unchanged, NeedsAuth bool
}

// CheckSigningKeys compares uploaded keys with the stored ones.
func (s *Service) CheckSigningKeys(ctx context.Context, user string, in SigningKeys) (SigningKeysCheck, error) {
	stored, err := s.crossSigningKeys(ctx, user)
	if err != nil {
		return SigningKeysCheck{}, err
	}
	check := SigningKeysCheck{Unchanged: true, NeedsAuth: stored[Master].JSON != ""}
	for typ, raw := range in.byType() {
		c, err := canonicaljson.Canonicalize(raw)
		if err != nil || string(c) != stored[typ].JSON {
			check.Unchanged = false
		}
	}
	return check, nil
}

func (s *Service) crossSigningKeys(ctx context.Context, user string) (map[string]storage.CrossSigningKey, error) {
	rows, err := s.store.CrossSigningKeys(ctx, []string{user})
	if err != nil {
		return nil, err
	}
	out := map[string]storage.CrossSigningKey{}
	for _, k := range rows {
		out[k.Type] = k
	}
	return out, nil
}

// UploadSigningKeys validates and stores a user's cross-signing keys:
// each names the user and its usage and holds one ed25519 key, the
// self-signing and user-signing keys are signed by the master key (the
// new one, or else the stored one), and no key is named like one of the
// user's devices.
func (s *Service) UploadSigningKeys(ctx context.Context, user string, in SigningKeys) error {
	stored, err := s.crossSigningKeys(ctx, user)
	if err != nil {
		return err
	}
	uploaded := in.byType()
	keys := map[string]parsedKey{}
	for typ, raw := range uploaded {
		k, err := parseCrossSigningKey(raw, user, typ)
		if err != nil {
			return err
		}
		keys[typ] = k
	}
	master, ok := keys[Master]
	if !ok {
		if stored[Master].JSON == "" {
			return ErrNoMasterKey
		}
		if master, err = parseCrossSigningKey([]byte(stored[Master].JSON), user, Master); err != nil {
			return fmt.Errorf("stored master key of %s: %w", user, err)
		}
	}
	for _, typ := range []string{SelfSigning, UserSigning} {
		k, ok := keys[typ]
		if ok && signing.VerifyEntityJSON([]byte(k.json), user, "ed25519:"+master.public, master.key) != nil {
			return fmt.Errorf("%w on %s key", ErrInvalidSignature, typ)
		}
	}
	if err := s.checkKeyIDsFree(ctx, user, keys); err != nil {
		return err
	}
	return s.storeSigningKeys(ctx, user, keys, stored)
}

func (s *Service) checkKeyIDsFree(ctx context.Context, user string, keys map[string]parsedKey) error {
	devices, err := s.store.Devices(ctx, user)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if slices.ContainsFunc(devices, func(d storage.Device) bool { return d.DeviceID == k.public }) {
			return ErrKeyIDInUse
		}
	}
	return nil
}

func (s *Service) storeSigningKeys(ctx context.Context, user string, keys map[string]parsedKey, stored map[string]storage.CrossSigningKey) error {
	up := storage.CrossSigningUpload{UserID: user}
	for _, typ := range []string{Master, SelfSigning, UserSigning} {
		k, ok := keys[typ]
		if !ok || k.json == stored[typ].JSON {
			continue
		}
		up.Keys = append(up.Keys, storage.CrossSigningKey{UserID: user, Type: typ, PublicKey: k.public, JSON: k.json})
		if typ == UserSigning {
			up.SelfSignature = true
		} else {
			up.DeviceListChange = true
		}
	}
	if len(up.Keys) == 0 {
		return nil
	}
	up.Pos = s.seq.Reserve()
	err := s.store.PutCrossSigningKeys(ctx, up)
	if err == nil && up.DeviceListChange {
		s.changes.add(up.Pos, user, "")
	}
	if err == nil && up.SelfSignature {
		s.changes.add(up.Pos, user, user)
	}
	s.seq.Finish(up.Pos)
	if err != nil {
		return err
	}
	if up.DeviceListChange {
		s.wake(user)
	}
	s.notifier.WakeUser(user)
	return nil
}

// parsedKey is a validated cross-signing key.
type parsedKey struct {
	json   string // canonical
	public string // unpadded base64, as in its key ID
	key    ed25519.PublicKey
	obj    map[string]any
}

// parseCrossSigningKey checks a key's shape: the user's, of usage typ,
// with exactly one ed25519 key named after itself.
func parseCrossSigningKey(raw []byte, user, typ string) (parsedKey, error) {
	invalid := fmt.Errorf("%w: invalid %s key", ErrInvalidKey, typ)
	obj, ok := decodeObject(raw)
	if !ok || obj["user_id"] != user {
		return parsedKey{}, invalid
	}
	usage, _ := obj["usage"].([]any)
	if !slices.Contains(usage, any(typ)) {
		return parsedKey{}, invalid
	}
	keys, ok := obj["keys"].(map[string]any)
	if !ok || len(keys) != 1 {
		return parsedKey{}, invalid
	}
	var k parsedKey
	for keyID, val := range keys {
		pub, ok := val.(string)
		id, found := strings.CutPrefix(keyID, "ed25519:")
		key, err := publicKey(pub)
		if !ok || !found || id != pub || err != nil {
			return parsedKey{}, invalid
		}
		k.public, k.key = pub, key
	}
	if sigs, ok := obj["signatures"]; ok && !isSignatures(sigs) {
		return parsedKey{}, invalid
	}
	c, err := canonicaljson.Marshal(obj)
	if err != nil {
		return parsedKey{}, invalid
	}
	k.json, k.obj = string(c), obj
	return k, nil
}

// DeviceIDReserved reports whether a device may not take id: it is, or
// was, one of the user's cross-signing keys.
func (s *Service) DeviceIDReserved(ctx context.Context, user, id string) (bool, error) {
	return s.store.IsCrossSigningKeyID(ctx, user, id)
}
