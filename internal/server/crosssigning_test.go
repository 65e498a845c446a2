package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/matrix/signing"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// ed25519Key is a key pair with its public half as key IDs name it.
type ed25519Key struct {
	priv ed25519.PrivateKey
	pub  string
}

func newEd25519Key(t *testing.T) ed25519Key {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519Key{priv: priv, pub: signing.EncodeBase64(pub)}
}

// sign adds user's signature by keyID to obj, as clients sign.
func (k ed25519Key) sign(t *testing.T, obj map[string]any, user, keyID string) map[string]any {
	t.Helper()
	payload, err := signing.SigningPayload(obj)
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := obj["signatures"].(map[string]any)
	if sigs == nil {
		sigs = map[string]any{}
		obj["signatures"] = sigs
	}
	mine, _ := sigs[user].(map[string]any)
	if mine == nil {
		mine = map[string]any{}
		sigs[user] = mine
	}
	mine[keyID] = signing.EncodeBase64(ed25519.Sign(k.priv, payload))
	return obj
}

func crossSigningKey(user id.UserID, usage string, k ed25519Key) map[string]any {
	return map[string]any{"user_id": user, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + k.pub: k.pub}}
}

// crossSigner is a user's cross-signing keys.
type crossSigner struct {
	master, selfSigning, userSigning ed25519Key
}

func newCrossSigner(t *testing.T) crossSigner {
	return crossSigner{master: newEd25519Key(t), selfSigning: newEd25519Key(t), userSigning: newEd25519Key(t)}
}

func (cs crossSigner) upload(t *testing.T, user id.UserID) map[string]any {
	mk := "ed25519:" + cs.master.pub
	return map[string]any{
		"master_key":       crossSigningKey(user, "master", cs.master),
		"self_signing_key": cs.master.sign(t, crossSigningKey(user, "self_signing", cs.selfSigning), string(user), mk),
		"user_signing_key": cs.master.sign(t, crossSigningKey(user, "user_signing", cs.userSigning), string(user), mk),
	}
}

func TestCrossSigning(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := deviceServer(t, engine)
			const alicePW = "alice password"
			alice := register(t, srv.URL, "alice", alicePW, "ALICE1")
			bob := register(t, srv.URL, "bob", "bob's password", "BOB1")
			aliceDevice := newEd25519Key(t)
			keys := deviceKeysOf(alice, aliceDevice.pub)
			delete(keys, "signatures")
			delete(keys, "unsigned")
			keys = aliceDevice.sign(t, keys, string(alice.UserID), "ed25519:ALICE1")
			if r := do(t, alice, http.MethodPost, map[string]any{"device_keys": keys}, "keys", "upload"); r.status != http.StatusOK {
				t.Fatal(r.body)
			}
			aliceCS, bobCS := newCrossSigner(t), newCrossSigner(t)

			t.Run("the first upload needs no password, a change does", func(t *testing.T) {
				up := aliceCS.upload(t, alice.UserID)
				for range 2 { // a retry is accepted as it is
					if r := do(t, alice, http.MethodPost, up, "keys", "device_signing", "upload"); r.status != http.StatusOK {
						t.Fatalf("upload: %d %v", r.status, r.body)
					}
				}
				other := newCrossSigner(t)
				change := other.upload(t, alice.UserID)
				r := do(t, alice, http.MethodPost, change, "keys", "device_signing", "upload")
				if r.status != http.StatusUnauthorized || r.session() == "" {
					t.Fatalf("new master key without auth: %d %v", r.status, r.body)
				}
				change["auth"] = passwordAuth(string(alice.UserID), alicePW, r.session())
				if r := do(t, alice, http.MethodPost, change, "keys", "device_signing", "upload"); r.status != http.StatusOK {
					t.Fatalf("with auth: %d %v", r.status, r.body)
				}
				// The same body again, its auth spent, is a retry (MSC3967).
				if r := do(t, alice, http.MethodPost, change, "keys", "device_signing", "upload"); r.status != http.StatusOK {
					t.Fatalf("retry with spent auth: %d %v", r.status, r.body)
				}
				aliceCS = other
			})

			t.Run("bad keys are refused", func(t *testing.T) {
				if r := do(t, bob, http.MethodPost, map[string]any{"self_signing_key": crossSigningKey(bob.UserID, "self_signing", bobCS.selfSigning)},
					"keys", "device_signing", "upload"); r.status != http.StatusBadRequest || r.errcode() != "M_MISSING_PARAM" {
					t.Fatalf("no master key: %d %v", r.status, r.body)
				}
				up := bobCS.upload(t, bob.UserID)
				up["self_signing_key"] = crossSigningKey(bob.UserID, "self_signing", bobCS.selfSigning) // unsigned
				if r := do(t, bob, http.MethodPost, up, "keys", "device_signing", "upload"); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_SIGNATURE" {
					t.Fatalf("unsigned self-signing key: %d %v", r.status, r.body)
				}
				up["master_key"] = crossSigningKey(alice.UserID, "master", bobCS.master)
				if r := do(t, bob, http.MethodPost, up, "keys", "device_signing", "upload"); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_PARAM" {
					t.Fatalf("someone else's master key: %d %v", r.status, r.body)
				}
				if r := do(t, bob, http.MethodPost, bobCS.upload(t, bob.UserID), "keys", "device_signing", "upload"); r.status != http.StatusOK {
					t.Fatalf("bob's keys: %d %v", r.status, r.body)
				}
			})

			t.Run("the self-signing key signs a device", func(t *testing.T) {
				signed := aliceCS.selfSigning.sign(t, keys, string(alice.UserID), "ed25519:"+aliceCS.selfSigning.pub)
				r := do(t, alice, http.MethodPost, map[string]any{string(alice.UserID): map[string]any{"ALICE1": signed}}, "keys", "signatures", "upload")
				if fails, _ := r.body["failures"].(map[string]any); r.status != http.StatusOK || len(fails) != 0 {
					t.Fatalf("signatures upload: %d %v", r.status, r.body)
				}
				q, err := bob.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}}})
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := q.DeviceKeys[alice.UserID]["ALICE1"].Signatures[alice.UserID][id.NewKeyID(id.KeyAlgorithmEd25519, aliceCS.selfSigning.pub)]; !ok {
					t.Fatalf("device keys lack the self-signing signature: %+v", q.DeviceKeys[alice.UserID]["ALICE1"].Signatures)
				}
				if q.MasterKeys[alice.UserID].Keys == nil || q.SelfSigningKeys[alice.UserID].Keys == nil || len(q.UserSigningKeys) != 0 {
					t.Fatalf("cross-signing keys in bob's query: %+v %+v %+v", q.MasterKeys, q.SelfSigningKeys, q.UserSigningKeys)
				}
				// A forged signature is reported, not stored.
				forged := newEd25519Key(t).sign(t, deviceKeysOf(alice, aliceDevice.pub), string(alice.UserID), "ed25519:"+aliceCS.selfSigning.pub)
				r = do(t, alice, http.MethodPost, map[string]any{string(alice.UserID): map[string]any{"NOSUCH": forged}}, "keys", "signatures", "upload")
				if fails, _ := r.body["failures"].(map[string]any); r.status != http.StatusOK || fails[string(alice.UserID)] == nil {
					t.Fatalf("forged signature: %d %v", r.status, r.body)
				}
			})

			t.Run("bob verifies alice with his user-signing key", func(t *testing.T) {
				since := syncFrom(t, bob, "").NextBatch
				master := crossSigningKey(alice.UserID, "master", aliceCS.master)
				signed := bobCS.userSigning.sign(t, master, string(bob.UserID), "ed25519:"+bobCS.userSigning.pub)
				r := do(t, bob, http.MethodPost, map[string]any{string(alice.UserID): map[string]any{aliceCS.master.pub: signed}}, "keys", "signatures", "upload")
				if fails, _ := r.body["failures"].(map[string]any); r.status != http.StatusOK || len(fails) != 0 {
					t.Fatalf("signatures upload: %d %v", r.status, r.body)
				}
				usk := id.NewKeyID(id.KeyAlgorithmEd25519, bobCS.userSigning.pub)
				q, err := bob.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}, bob.UserID: {}}})
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := q.MasterKeys[alice.UserID].Signatures[bob.UserID][usk]; !ok {
					t.Fatalf("bob does not see his signature: %+v", q.MasterKeys[alice.UserID])
				}
				if q.UserSigningKeys[bob.UserID].Keys == nil {
					t.Fatalf("bob does not see his own user-signing key: %+v", q.UserSigningKeys)
				}
				q, err = alice.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}}})
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := q.MasterKeys[alice.UserID].Signatures[bob.UserID]; ok {
					t.Fatalf("alice sees bob's signature: %+v", q.MasterKeys[alice.UserID])
				}
				// Only bob is told, although he shares no room with alice.
				if s := syncFrom(t, bob, since); !slices.Contains(s.DeviceLists.Changed, alice.UserID) {
					t.Fatalf("bob's device lists after signing: %+v", s.DeviceLists)
				}
			})

			t.Run("a key may not take a device's name", func(t *testing.T) {
				carol := register(t, srv.URL, "carol", "carol's password", "CAROLDEV")
				clash := crossSigner{master: ed25519Key{priv: newEd25519Key(t).priv, pub: "CAROLDEV"}}
				up := map[string]any{"master_key": crossSigningKey(carol.UserID, "master", clash.master)}
				// Not 32 bytes of base64: refused before the name is looked at.
				if r := do(t, carol, http.MethodPost, up, "keys", "device_signing", "upload"); r.status != http.StatusBadRequest {
					t.Fatalf("malformed key: %d %v", r.status, r.body)
				}
				real := newEd25519Key(t)
				login(t, srv.URL, "carol", "carol's password", real.pub)
				up = map[string]any{"master_key": crossSigningKey(carol.UserID, "master", real)}
				if r := do(t, carol, http.MethodPost, up, "keys", "device_signing", "upload"); r.status != http.StatusForbidden {
					t.Fatalf("key named like a device: %d %v", r.status, r.body)
				}
				// Nor may a device take a key's name.
				mine := newEd25519Key(t)
				up = map[string]any{"master_key": crossSigningKey(carol.UserID, "master", mine)}
				if r := do(t, carol, http.MethodPost, up, "keys", "device_signing", "upload"); r.status != http.StatusOK {
					t.Fatalf("carol's master key: %d %v", r.status, r.body)
				}
				c := newClient(t, srv.URL)
				_, err := c.Login(t.Context(), &mautrix.ReqLogin{Type: mautrix.AuthTypePassword, Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"},
					Password: "carol's password", DeviceID: id.DeviceID(mine.pub)})
				if errcode(err) != "M_FORBIDDEN" {
					t.Fatalf("login as a key's name: %v", err)
				}
			})
		})
	}
}
