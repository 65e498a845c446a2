package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/storage/storagetest"
)

// deviceKeysOf is an unsigned device_keys object. The server checks
// signatures that are there; keys without the device's own signature
// prove nothing and may change (Complement uploads such keys).
func deviceKeysOf(c *mautrix.Client, ed25519 string) map[string]any {
	return map[string]any{
		"user_id": c.UserID, "device_id": c.DeviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys": map[string]string{
			"curve25519:" + string(c.DeviceID): "curve-" + ed25519,
			"ed25519:" + string(c.DeviceID):    ed25519,
		},
		"signatures": map[string]any{},
		"unsigned":   map[string]any{"dropped": true},
	}
}

func signedKey(key string) map[string]any {
	return map[string]any{"key": key, "signatures": map[string]any{"@x:y": map[string]string{"ed25519:D": "s"}}}
}

// syncFrom syncs c from since (initial when "") without waiting.
func syncFrom(t *testing.T, c *mautrix.Client, since string) *mautrix.RespSync {
	t.Helper()
	resp, err := c.SyncRequest(context.Background(), 0, since, "", false, "")
	if err != nil {
		t.Fatalf("sync of %s: %v", c.UserID, err)
	}
	return resp
}

func TestE2EEKeysAndToDevice(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := deviceServer(t, engine)
			alice := register(t, srv.URL, "alice", "alice password", "ALICE1")
			bob := register(t, srv.URL, "bob", "bob's password", "BOB1")
			carol := register(t, srv.URL, "carol", "carol's password", "CAROL1")

			t.Run("keys are uploaded, counted, queried and claimed", func(t *testing.T) {
				up := do(t, alice, http.MethodPost, map[string]any{
					"device_keys":   deviceKeysOf(alice, "ed-a"),
					"one_time_keys": map[string]any{"signed_curve25519:AAA": signedKey("k1"), "signed_curve25519:BBB": signedKey("k2")},
					"fallback_keys": map[string]any{"signed_curve25519:FFF": signedKey("fb")},
				}, "keys", "upload")
				counts, _ := up.body["one_time_key_counts"].(map[string]any)
				if up.status != http.StatusOK || counts["signed_curve25519"] != 2.0 {
					t.Fatalf("upload: %d %v", up.status, up.body)
				}
				// A retry is harmless; the same key with other contents is refused.
				if r := do(t, alice, http.MethodPost, map[string]any{"one_time_keys": map[string]any{"signed_curve25519:AAA": signedKey("k1")}}, "keys", "upload"); r.status != http.StatusOK {
					t.Fatalf("retried upload: %d %v", r.status, r.body)
				}
				if r := do(t, alice, http.MethodPost, map[string]any{"one_time_keys": map[string]any{"signed_curve25519:AAA": signedKey("other")}}, "keys", "upload"); r.status != http.StatusBadRequest {
					t.Fatalf("conflicting upload: %d %v", r.status, r.body)
				}
				q, err := bob.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}, carol.UserID: {}}})
				if err != nil {
					t.Fatal(err)
				}
				dk := q.DeviceKeys[alice.UserID]["ALICE1"]
				if dk.Keys.GetEd25519("ALICE1") != "ed-a" || dk.Unsigned["device_display_name"] != nil || dk.Unsigned["dropped"] != nil {
					t.Fatalf("alice's keys %+v", dk)
				}
				if keys, ok := q.DeviceKeys[carol.UserID]; !ok || len(keys) != 0 {
					t.Fatalf("carol without keys: %+v", q.DeviceKeys)
				}
				var claimed []string
				for range 4 {
					r, err := bob.ClaimKeys(ctx, &mautrix.ReqClaimKeys{OneTimeKeys: mautrix.OneTimeKeysRequest{alice.UserID: {"ALICE1": "signed_curve25519"}}})
					if err != nil {
						t.Fatal(err)
					}
					for keyID := range r.OneTimeKeys[alice.UserID]["ALICE1"] {
						claimed = append(claimed, string(keyID))
					}
				}
				want := []string{"signed_curve25519:AAA", "signed_curve25519:BBB", "signed_curve25519:FFF", "signed_curve25519:FFF"}
				if !slices.Equal(claimed, want) {
					t.Fatalf("claimed %v, want %v", claimed, want)
				}
				s := syncFrom(t, alice, "")
				if s.DeviceOTKCount.SignedCurve25519 != 0 || len(s.FallbackKeys) != 0 {
					t.Fatalf("counts in sync: %+v %v", s.DeviceOTKCount, s.FallbackKeys)
				}
			})

			t.Run("bad uploads are refused", func(t *testing.T) {
				for name, body := range map[string]map[string]any{
					"someone else's keys": {"device_keys": deviceKeysOf(alice, "x")},
					"no signatures":       {"device_keys": map[string]any{"user_id": bob.UserID, "device_id": bob.DeviceID, "algorithms": []string{}, "keys": map[string]any{}}},
					"a bad key name":      {"one_time_keys": map[string]any{"nocolon": "k"}},
					"a key of a number":   {"one_time_keys": map[string]any{"a:b": 1}},
				} {
					if r := do(t, bob, http.MethodPost, body, "keys", "upload"); r.status != http.StatusBadRequest || r.errcode() != "M_BAD_JSON" {
						t.Errorf("%s: %d %v", name, r.status, r.body)
					}
				}
				if r := do(t, bob, http.MethodPost, map[string]any{"device_keys": map[string]any{"@bob:x": map[string]any{"D": true}}}, "keys", "query"); r.status != http.StatusBadRequest {
					t.Errorf("query with an object: %d %v", r.status, r.body)
				}
			})

			t.Run("signed keys are checked and keep their identity", func(t *testing.T) {
				dave := register(t, srv.URL, "dave", "dave's password", "DAVE1")
				device := newEd25519Key(t)
				signed := func(ed string, extra map[string]any) map[string]any {
					keys := deviceKeysOf(dave, ed)
					delete(keys, "unsigned")
					for k, v := range extra {
						keys[k] = v
					}
					return device.sign(t, keys, string(dave.UserID), "ed25519:DAVE1")
				}
				forged := signed(newEd25519Key(t).pub, nil) // signed by a key it does not hold
				if r := do(t, dave, http.MethodPost, map[string]any{"device_keys": forged}, "keys", "upload"); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_SIGNATURE" {
					t.Fatalf("forged device keys: %d %v", r.status, r.body)
				}
				good := signed(device.pub, nil)
				otk := device.sign(t, map[string]any{"key": "k1"}, string(dave.UserID), "ed25519:DAVE1")
				if r := do(t, dave, http.MethodPost, map[string]any{"device_keys": good, "one_time_keys": map[string]any{"signed_curve25519:A": otk}}, "keys", "upload"); r.status != http.StatusOK {
					t.Fatalf("signed keys: %d %v", r.status, r.body)
				}
				// A one-time key signed by another key is refused, with the stored device key.
				badOTK := newEd25519Key(t).sign(t, map[string]any{"key": "k2"}, string(dave.UserID), "ed25519:DAVE1")
				if r := do(t, dave, http.MethodPost, map[string]any{"one_time_keys": map[string]any{"signed_curve25519:B": badOTK}}, "keys", "upload"); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_SIGNATURE" {
					t.Fatalf("forged one-time key: %d %v", r.status, r.body)
				}
				// New identity keys for a device that signed its keys: refused.
				other := newEd25519Key(t)
				keys := deviceKeysOf(dave, other.pub)
				delete(keys, "unsigned")
				keys = other.sign(t, keys, string(dave.UserID), "ed25519:DAVE1")
				if r := do(t, dave, http.MethodPost, map[string]any{"device_keys": keys}, "keys", "upload"); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_PARAM" {
					t.Fatalf("changed identity: %d %v", r.status, r.body)
				}
				// The same keys with one more signature (cross-signing) are fine.
				more := signed(device.pub, nil)
				more["signatures"].(map[string]any)[string(dave.UserID)].(map[string]any)["ed25519:SSKPUB"] = "cross-signature"
				if r := do(t, dave, http.MethodPost, map[string]any{"device_keys": more}, "keys", "upload"); r.status != http.StatusOK {
					t.Fatalf("added signature: %d %v", r.status, r.body)
				}
				q, err := bob.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{dave.UserID: {}}})
				if err != nil || q.DeviceKeys[dave.UserID]["DAVE1"].Keys.GetEd25519("DAVE1") != id.Ed25519(device.pub) {
					t.Fatalf("dave's keys after the refusals: %+v %v", q.DeviceKeys[dave.UserID], err)
				}
			})

			t.Run("device lists follow rooms and key changes", func(t *testing.T) {
				since := syncFrom(t, bob, "").NextBatch
				room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := bob.JoinRoomByID(ctx, room.RoomID); err != nil {
					t.Fatal(err)
				}
				s := syncFrom(t, bob, since)
				if !slices.Contains(s.DeviceLists.Changed, alice.UserID) {
					t.Fatalf("after joining alice's room: %+v", s.DeviceLists)
				}
				since = s.NextBatch
				if r := do(t, alice, http.MethodPost, map[string]any{"device_keys": deviceKeysOf(alice, "ed-a2")}, "keys", "upload"); r.status != http.StatusOK {
					t.Fatal(r.body)
				}
				// Carol shares no room with alice: she is not told.
				carolSince := syncFrom(t, carol, "").NextBatch
				s = syncFrom(t, bob, since)
				if !slices.Equal(s.DeviceLists.Changed, []id.UserID{alice.UserID}) {
					t.Fatalf("after alice's new keys: %+v", s.DeviceLists)
				}
				// mautrix's GetKeyChanges POSTs; the spec (and Synapse) want GET.
				var changes mautrix.RespKeyChanges
				url := bob.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "keys", "changes"}, map[string]string{"from": since, "to": s.NextBatch})
				if _, err := bob.MakeRequest(ctx, http.MethodGet, url, nil, &changes); err != nil || !slices.Equal(changes.Changed, []id.UserID{alice.UserID}) {
					t.Fatalf("/keys/changes: %+v %v", changes, err)
				}
				if _, err := alice.LeaveRoom(ctx, room.RoomID); err != nil {
					t.Fatal(err)
				}
				s2 := syncFrom(t, bob, s.NextBatch)
				if !slices.Equal(s2.DeviceLists.Left, []id.UserID{alice.UserID}) {
					t.Fatalf("after alice left: %+v", s2.DeviceLists)
				}
				// The same token gives the same answer.
				if again := syncFrom(t, bob, s.NextBatch); !slices.Equal(again.DeviceLists.Left, []id.UserID{alice.UserID}) {
					t.Fatalf("repeated sync: %+v", again.DeviceLists)
				}
				if _, err := alice.UploadKeys(ctx, &mautrix.ReqUploadKeys{}); err != nil {
					t.Fatal(err)
				}
				if r := do(t, alice, http.MethodPost, map[string]any{"device_keys": deviceKeysOf(alice, "ed-a3")}, "keys", "upload"); r.status != http.StatusOK {
					t.Fatal(r.body)
				}
				if s3 := syncFrom(t, bob, s2.NextBatch); slices.Contains(s3.DeviceLists.Changed, alice.UserID) {
					t.Fatalf("told of a user he no longer shares a room with: %+v", s3.DeviceLists)
				}
				if s := syncFrom(t, carol, carolSince); len(s.DeviceLists.Changed) != 0 {
					t.Fatalf("carol told: %+v", s.DeviceLists)
				}
				// A room joined and left within the window, created after
				// the token: nothing was shared at the token.
				since = syncFrom(t, carol, "").NextBatch
				brief, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := carol.JoinRoomByID(ctx, brief.RoomID); err != nil {
					t.Fatal(err)
				}
				if _, err := carol.LeaveRoom(ctx, brief.RoomID); err != nil {
					t.Fatal(err)
				}
				if s := syncFrom(t, carol, since); slices.Contains(s.DeviceLists.Left, alice.UserID) {
					t.Fatalf("left a user carol never shared a room with at the token: %+v", s.DeviceLists)
				}
			})

			t.Run("to-device messages are delivered until acknowledged", func(t *testing.T) {
				bob2 := login(t, srv.URL, "bob", "bob's password", "BOB2")
				since := syncFrom(t, bob, "").NextBatch
				body := map[string]any{"messages": map[string]any{
					string(bob.UserID):    map[string]any{"*": map[string]any{"n": 1}},
					"@nobody:remote.test": map[string]any{"X": map[string]any{"n": 2}},
				}}
				for range 2 { // the retry sends nothing more
					if r := do(t, alice, http.MethodPut, body, "sendToDevice", "m.test", "txn1"); r.status != http.StatusOK {
						t.Fatalf("send: %d %v", r.status, r.body)
					}
				}
				s := syncFrom(t, bob, since)
				if len(s.ToDevice.Events) != 1 || s.ToDevice.Events[0].Sender != alice.UserID || s.ToDevice.Events[0].Type.Type != "m.test" {
					t.Fatalf("to_device: %+v", s.ToDevice)
				}
				// Not acknowledged yet: the same token gets it again.
				if again := syncFrom(t, bob, since); len(again.ToDevice.Events) != 1 {
					t.Fatalf("redelivery: %+v", again.ToDevice)
				}
				if next := syncFrom(t, bob, s.NextBatch); len(next.ToDevice.Events) != 0 {
					t.Fatalf("after the ack: %+v", next.ToDevice)
				}
				if again := syncFrom(t, bob, since); len(again.ToDevice.Events) != 0 {
					t.Fatalf("acknowledged message delivered again: %+v", again.ToDevice)
				}
				if s2 := syncFrom(t, bob2, ""); len(s2.ToDevice.Events) != 1 {
					t.Fatalf("second device: %+v", s2.ToDevice)
				}
				big := map[string]any{"messages": map[string]any{string(bob.UserID): map[string]any{"BOB1": map[string]any{"x": strings.Repeat("a", 70000)}}}}
				if r := do(t, alice, http.MethodPut, big, "sendToDevice", "m.test", "txn2"); r.status != http.StatusRequestEntityTooLarge || r.errcode() != "M_TOO_LARGE" {
					t.Fatalf("too large: %d %v", r.status, r.body)
				}
				if r := do(t, alice, http.MethodPut, map[string]any{}, "sendToDevice", "m.test", "txn3"); r.status != http.StatusBadRequest {
					t.Fatalf("no messages: %d %v", r.status, r.body)
				}
			})

			t.Run("a deleted device takes its keys and tells others", func(t *testing.T) {
				room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := carol.JoinRoomByID(ctx, room.RoomID); err != nil {
					t.Fatal(err)
				}
				alice2 := login(t, srv.URL, "alice", "alice password", "ALICE2")
				if r := do(t, alice2, http.MethodPost, map[string]any{"device_keys": deviceKeysOf(alice2, "ed-a4")}, "keys", "upload"); r.status != http.StatusOK {
					t.Fatal(r.body)
				}
				since := syncFrom(t, carol, "").NextBatch
				if _, err := alice2.Logout(ctx); err != nil {
					t.Fatal(err)
				}
				if s := syncFrom(t, carol, since); !slices.Contains(s.DeviceLists.Changed, alice.UserID) {
					t.Fatalf("after alice's logout: %+v", s.DeviceLists)
				}
				q, err := carol.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {"ALICE2"}}})
				if err != nil || len(q.DeviceKeys[alice.UserID]) != 0 {
					t.Fatalf("keys of a deleted device: %+v %v", q.DeviceKeys, err)
				}
			})
		})
	}
}
