package keys

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/axonhs/axon/internal/concurrent"
	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/storage"
)

// QueryResult is the answer to /keys/query.
type QueryResult struct {
	// DeviceKeys has an entry, maybe empty, for every local user asked
	// about.
	DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
	// Failures lists servers that could not be asked (federation).
	Failures        map[string]json.RawMessage `json:"failures"`
	MasterKeys      map[string]json.RawMessage `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage `json:"user_signing_keys"`
}

// Query returns the device keys of users: of the devices listed, or all
// of them for an empty list. Only devices that uploaded keys are shown,
// each with its display name in unsigned. Remote users are left out until
// federation can ask their servers.
func (s *Service) Query(ctx context.Context, requester string, want map[string][]string) (QueryResult, error) {
	res := QueryResult{
		DeviceKeys: map[string]map[string]json.RawMessage{}, Failures: map[string]json.RawMessage{},
		MasterKeys: map[string]json.RawMessage{}, SelfSigningKeys: map[string]json.RawMessage{},
		UserSigningKeys: map[string]json.RawMessage{},
	}
	var users []string
	for _, u := range slices.Sorted(maps.Keys(want)) {
		if s.isLocal(u) {
			users = append(users, u)
			res.DeviceKeys[u] = map[string]json.RawMessage{}
		}
	}
	if len(users) == 0 {
		return res, nil
	}
	var (
		rows  []storage.DeviceKeysRow
		cross []storage.CrossSigningKey
		sigs  []storage.Signature
	)
	err := concurrent.Run(
		func() (err error) { rows, err = s.store.DeviceKeys(ctx, users); return err },
		func() (err error) { cross, err = s.store.CrossSigningKeys(ctx, users); return err },
		func() (err error) { sigs, err = s.store.SignaturesOn(ctx, requester, users); return err },
	)
	if err != nil {
		return QueryResult{}, err
	}
	extra := signaturesByKey(sigs)
	for _, r := range rows {
		if devices := want[r.UserID]; len(devices) > 0 && !slices.Contains(devices, r.DeviceID) {
			continue
		}
		// A device shows the signatures of its own user's self-signing key.
		dk, err := withSignatures(withUnsigned(r), r.UserID, extra[sigKey{r.UserID, r.DeviceID}], r.UserID)
		if err != nil {
			return QueryResult{}, err
		}
		res.DeviceKeys[r.UserID][r.DeviceID] = dk
	}
	for _, k := range cross {
		// Cross-signing keys show the requester's own signatures on them.
		key, err := withSignatures(json.RawMessage(k.JSON), k.UserID, extra[sigKey{k.UserID, k.PublicKey}], requester)
		if err != nil {
			return QueryResult{}, err
		}
		switch k.Type {
		case Master:
			res.MasterKeys[k.UserID] = key
		case SelfSigning:
			res.SelfSigningKeys[k.UserID] = key
		case UserSigning:
			if k.UserID == requester {
				res.UserSigningKeys[k.UserID] = key
			}
		}
	}
	return res, nil
}

type sigKey struct{ user, keyID string }

func signaturesByKey(sigs []storage.Signature) map[sigKey][]storage.Signature {
	out := map[sigKey][]storage.Signature{}
	for _, sg := range sigs {
		k := sigKey{sg.TargetUserID, sg.TargetKeyID}
		out[k] = append(out[k], sg)
	}
	return out
}

// withSignatures adds the stored signatures by signer to a key object.
func withSignatures(key json.RawMessage, owner string, sigs []storage.Signature, signer string) (json.RawMessage, error) {
	var mine []storage.Signature
	for _, sg := range sigs {
		if sg.SignerUserID == signer {
			mine = append(mine, sg)
		}
	}
	if len(mine) == 0 {
		return key, nil
	}
	obj, ok := decodeObject(key)
	if !ok {
		return nil, fmt.Errorf("stored key of %s is not a JSON object", owner)
	}
	all, _ := obj["signatures"].(map[string]any)
	if all == nil {
		all = map[string]any{}
		obj["signatures"] = all
	}
	bySigner, _ := all[signer].(map[string]any)
	if bySigner == nil {
		bySigner = map[string]any{}
		all[signer] = bySigner
	}
	for _, sg := range mine {
		bySigner[sg.SignerKeyID] = sg.Signature
	}
	return canonicaljson.Marshal(obj)
}

// withUnsigned is a device's stored keys (canonical, without unsigned)
// with unsigned added: {} or the device's display name.
func withUnsigned(r storage.DeviceKeysRow) json.RawMessage {
	k := r.KeyJSON
	if len(k) < 2 || k[len(k)-1] != '}' {
		return json.RawMessage(k) // not an object: stored before validation existed
	}
	b := make([]byte, 0, len(k)+len(r.DisplayName)+40)
	b = append(b, k[:len(k)-1]...)
	b = append(b, `,"unsigned":{`...)
	if r.DisplayName != "" {
		b = canonicaljson.AppendString(append(b, `"device_display_name":`...), r.DisplayName)
	}
	return append(b, "}}"...)
}

// Claim hands out one key per device asked for: its oldest one-time key
// of the algorithm, else its fallback key. Devices with neither, and
// remote users, are left out.
func (s *Service) Claim(ctx context.Context, want map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	var claims []storage.KeyClaim
	for _, u := range slices.Sorted(maps.Keys(want)) {
		if !s.isLocal(u) {
			continue
		}
		for _, d := range slices.Sorted(maps.Keys(want[u])) {
			claims = append(claims, storage.KeyClaim{UserID: u, DeviceID: d, Algorithm: want[u][d]})
		}
	}
	out := map[string]map[string]map[string]json.RawMessage{}
	if len(claims) == 0 {
		return out, nil
	}
	got, err := s.store.ClaimKeys(ctx, claims)
	if err != nil {
		return nil, err
	}
	for _, c := range got {
		s.counts.forget(c.UserID, c.DeviceID)
		if out[c.UserID] == nil {
			out[c.UserID] = map[string]map[string]json.RawMessage{}
		}
		out[c.UserID][c.DeviceID] = map[string]json.RawMessage{c.Key.Name(): json.RawMessage(c.Key.JSON)}
	}
	return out, nil
}
