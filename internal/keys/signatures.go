package keys

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/signing"
	"github.com/axonhs/axon/internal/storage"
)

// SignatureFailure is why one signed key of a /keys/signatures/upload was
// refused: a Matrix error (with Synapse's status).
type SignatureFailure struct {
	Status  int    `json:"status"`
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

func notFound(msg string) *SignatureFailure {
	return &SignatureFailure{Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND", Error: msg}
}

func invalidSignature(msg string) *SignatureFailure {
	return &SignatureFailure{Status: http.StatusBadRequest, ErrCode: "M_INVALID_SIGNATURE", Error: msg}
}

var keyMismatch = &SignatureFailure{Status: http.StatusBadRequest, ErrCode: "M_UNKNOWN", Error: "Key does not match"}

// signatureBatch collects what one upload stores.
type signatureBatch struct {
	up       storage.SignatureUpload
	failures map[string]map[string]*SignatureFailure
}

func (b *signatureBatch) fail(user, keyID string, f *SignatureFailure) {
	if b.failures[user] == nil {
		b.failures[user] = map[string]*SignatureFailure{}
	}
	b.failures[user][keyID] = f
}

// UploadSignatures stores the signatures of an upload: by the uploader's
// devices on their master key, by their self-signing key on their
// devices, and by their user-signing key on other users' master keys.
// Each signed key must be the one stored and each signature must verify;
// those that do not are reported per key, the others stored.
func (s *Service) UploadSignatures(ctx context.Context, uploader string, body map[string]map[string]json.RawMessage) (map[string]map[string]*SignatureFailure, error) {
	b := &signatureBatch{up: storage.SignatureUpload{Uploader: uploader}, failures: map[string]map[string]*SignatureFailure{}}
	mine, err := s.crossSigningKeys(ctx, uploader)
	if err != nil {
		return nil, err
	}
	for _, target := range slices.Sorted(maps.Keys(body)) {
		var err error
		if target == uploader {
			err = s.signOwnKeys(ctx, uploader, mine, body[target], b)
		} else {
			err = s.signOtherUser(ctx, uploader, mine[UserSigning], target, body[target], b)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(b.up.Signatures) == 0 {
		return b.failures, nil
	}
	b.up.Pos = s.seq.Reserve()
	err = s.store.PutSignatures(ctx, b.up)
	if err == nil {
		if len(b.up.ChangedDevices) > 0 {
			s.changes.add(b.up.Pos, uploader, "")
		}
		for _, u := range b.up.SignedUsers {
			s.changes.add(b.up.Pos, u, uploader)
		}
	}
	s.seq.Finish(b.up.Pos)
	if err != nil {
		return nil, err
	}
	if len(b.up.ChangedDevices) > 0 {
		s.wake(uploader)
	}
	s.notifier.WakeUser(uploader)
	return b.failures, nil
}

// signedObject decodes an uploaded signed key and returns the uploader's
// signatures on it.
func signedObject(raw json.RawMessage, signer string) (map[string]any, map[string]any, bool) {
	obj, ok := decodeObject(raw)
	if !ok {
		return nil, nil, false
	}
	mine := signaturesBy(obj, signer)
	return obj, mine, len(mine) > 0
}

// signOwnKeys: the uploader signs their master key with devices, or
// devices with their self-signing key.
func (s *Service) signOwnKeys(ctx context.Context, user string, cross map[string]storage.CrossSigningKey, entries map[string]json.RawMessage, b *signatureBatch) error {
	devices, err := s.deviceKeys(ctx, user)
	if err != nil {
		return err
	}
	existing, err := s.existingSignatures(ctx, user, user)
	if err != nil {
		return err
	}
	var missing *SignatureFailure
	switch {
	case cross[SelfSigning].JSON == "":
		missing = notFound("No self_signing key found for " + user)
	case cross[Master].JSON == "":
		missing = notFound("No master key found for " + user)
	case len(devices) == 0:
		missing = notFound("No device keys found for " + user)
	}
	for _, keyID := range slices.Sorted(maps.Keys(entries)) {
		if missing != nil {
			b.fail(user, keyID, missing)
			continue
		}
		obj, mine, ok := signedObject(entries[keyID], user)
		if !ok {
			b.fail(user, keyID, invalidSignature("No signatures by "+user))
			continue
		}
		var f *SignatureFailure
		if keyID == cross[Master].PublicKey {
			f = s.signMasterWithDevices(user, cross[Master], obj, mine, devices, b)
		} else {
			f = signDevice(user, keyID, cross[SelfSigning], obj, mine, devices, existing, b)
		}
		if f != nil {
			b.fail(user, keyID, f)
		}
	}
	return nil
}

func (s *Service) signMasterWithDevices(user string, master storage.CrossSigningKey, obj, mine map[string]any, devices map[string]string, b *signatureBatch) *SignatureFailure {
	if !sameKey(obj, master.JSON) {
		return keyMismatch
	}
	var sigs []storage.Signature
	for _, signerKeyID := range slices.Sorted(maps.Keys(mine)) {
		device, _ := strings.CutPrefix(signerKeyID, "ed25519:")
		pub, err := storedDeviceEd25519(devices[device], device)
		if err != nil || verifyOn(obj, user, signerKeyID, pub) != nil {
			return invalidSignature("Invalid signature by " + signerKeyID)
		}
		sig, _ := mine[signerKeyID].(string)
		sigs = append(sigs, storage.Signature{SignerUserID: user, SignerKeyID: signerKeyID, TargetUserID: user, TargetKeyID: master.PublicKey, Signature: sig})
	}
	b.up.Signatures = append(b.up.Signatures, sigs...)
	b.up.ChangedDevices = append(b.up.ChangedDevices, master.PublicKey)
	return nil
}

func signDevice(user, device string, ssk storage.CrossSigningKey, obj, mine map[string]any, devices map[string]string, existing map[string]bool, b *signatureBatch) *SignatureFailure {
	signerKeyID := "ed25519:" + ssk.PublicKey
	sig, ok := mine[signerKeyID].(string)
	if !ok {
		return invalidSignature("Missing signature by the self-signing key")
	}
	stored, ok := devices[device]
	if !ok {
		return notFound("Unknown device")
	}
	if existing[device+"\x00"+signerKeyID] {
		return nil // signed before
	}
	if !sameKey(obj, stored) {
		return keyMismatch
	}
	pub, err := publicKey(ssk.PublicKey)
	if err != nil || verifyOn(obj, user, signerKeyID, pub) != nil {
		return invalidSignature("Invalid signature by the self-signing key")
	}
	b.up.Signatures = append(b.up.Signatures, storage.Signature{SignerUserID: user, SignerKeyID: signerKeyID, TargetUserID: user, TargetKeyID: device, Signature: sig})
	b.up.ChangedDevices = append(b.up.ChangedDevices, device)
	return nil
}

// signOtherUser: the uploader signs another user's master key with their
// user-signing key; nothing else of another user can be signed.
func (s *Service) signOtherUser(ctx context.Context, uploader string, usk storage.CrossSigningKey, target string, entries map[string]json.RawMessage, b *signatureBatch) error {
	failAll := func(f *SignatureFailure) {
		for keyID := range entries {
			b.fail(target, keyID, f)
		}
	}
	if usk.JSON == "" {
		failAll(notFound("No user_signing key found for " + uploader))
		return nil
	}
	theirs, err := s.crossSigningKeys(ctx, target)
	if err != nil {
		return err
	}
	master := theirs[Master]
	if master.JSON == "" {
		failAll(notFound("No master key found for " + target))
		return nil
	}
	if _, ok := entries[master.PublicKey]; !ok {
		failAll(notFound("Unknown device"))
		return nil
	}
	existing, err := s.existingSignatures(ctx, uploader, target)
	if err != nil {
		return err
	}
	for keyID, raw := range entries {
		if keyID != master.PublicKey {
			b.fail(target, keyID, notFound("Unknown device"))
			continue
		}
		if f := signMasterOf(uploader, target, usk, master, raw, existing, b); f != nil {
			b.fail(target, keyID, f)
		}
	}
	return nil
}

func signMasterOf(uploader, target string, usk, master storage.CrossSigningKey, raw json.RawMessage, existing map[string]bool, b *signatureBatch) *SignatureFailure {
	signerKeyID := "ed25519:" + usk.PublicKey
	if existing[master.PublicKey+"\x00"+signerKeyID] {
		return nil
	}
	obj, mine, ok := signedObject(raw, uploader)
	sig, hasSig := mine[signerKeyID].(string)
	if !ok || !hasSig {
		return invalidSignature("Missing signature by the user-signing key")
	}
	if !sameKey(obj, master.JSON) {
		return keyMismatch
	}
	pub, err := publicKey(usk.PublicKey)
	if err != nil || verifyOn(obj, uploader, signerKeyID, pub) != nil {
		return invalidSignature("Invalid signature by the user-signing key")
	}
	b.up.Signatures = append(b.up.Signatures, storage.Signature{SignerUserID: uploader, SignerKeyID: signerKeyID, TargetUserID: target, TargetKeyID: master.PublicKey, Signature: sig})
	if !slices.Contains(b.up.SignedUsers, target) {
		b.up.SignedUsers = append(b.up.SignedUsers, target)
	}
	return nil
}

// deviceKeys returns a user's devices' stored keys by device ID.
func (s *Service) deviceKeys(ctx context.Context, user string) (map[string]string, error) {
	rows, err := s.store.DeviceKeys(ctx, []string{user})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.DeviceID] = r.KeyJSON
	}
	return out, nil
}

// existingSignatures are signer's stored signatures on target's keys, as
// "target key ID\x00signer key ID".
func (s *Service) existingSignatures(ctx context.Context, signer, target string) (map[string]bool, error) {
	sigs, err := s.store.SignaturesOn(ctx, signer, []string{target})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, sg := range sigs {
		if sg.SignerUserID == signer {
			out[sg.TargetKeyID+"\x00"+sg.SignerKeyID] = true
		}
	}
	return out, nil
}

// sameKey reports whether an uploaded signed object is the stored key,
// signatures and unsigned aside.
func sameKey(obj map[string]any, stored string) bool {
	a, errA := signing.SigningPayload(obj)
	b, errB := signing.SigningPayload([]byte(stored))
	return errA == nil && errB == nil && string(a) == string(b)
}

// verifyOn verifies signer's keyID signature on a decoded object.
func verifyOn(obj map[string]any, signer, keyID string, pub ed25519.PublicKey) error {
	b, err := canonicaljson.Marshal(obj)
	if err != nil {
		return err
	}
	return signing.VerifyEntityJSON(b, signer, keyID, pub)
}

// ParseSignaturesUpload reads a /keys/signatures/upload body:
// {user: {key ID: signed object}}.
func ParseSignaturesUpload(raw json.RawMessage) (map[string]map[string]json.RawMessage, error) {
	var body map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignatures, err)
	}
	for _, keys := range body {
		for _, obj := range keys {
			if len(obj) == 0 || obj[0] != '{' {
				return nil, fmt.Errorf("%w: signed keys must be objects", ErrBadSignatures)
			}
		}
	}
	return body, nil
}
