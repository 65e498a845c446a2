package server_test

import (
	"net/http"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func dehydratedURL(c *mautrix.Client, path ...any) string {
	return c.BuildClientURL(append([]any{"unstable", "org.matrix.msc3814.v1", "dehydrated_device"}, path...)...)
}

// dehydrated is a PUT body for a dehydrated device with one one-time key.
func dehydrated(c *mautrix.Client, deviceID string) map[string]any {
	keys := deviceKeysOf(&mautrix.Client{UserID: c.UserID, DeviceID: "x"}, "ed-"+deviceID)
	keys["device_id"] = deviceID
	keys["keys"] = map[string]string{"ed25519:" + deviceID: "ed-" + deviceID}
	return map[string]any{
		"device_id":                   deviceID,
		"device_data":                 map[string]any{"algorithm": "org.matrix.msc3814.v2", "device_pickle": "encrypted"},
		"initial_device_display_name": "Dehydrated",
		"device_keys":                 keys,
		"one_time_keys":               map[string]any{"signed_curve25519:AAA": signedKey("k")},
	}
}

func TestDehydratedDevices(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := servertest.Config(t, engine)
			cfg.EnableRegistration, cfg.EnableRegistrationWithoutVerification = true, true
			cfg.Password.Policy = password.Policy{Enabled: true, MinimumLength: 8}
			cfg.Experimental.MSC3814 = true
			srv := servertest.Start(t, cfg)
			alice := register(t, srv.URL, "alice", "alice password", "ALICE1")
			bob := register(t, srv.URL, "bob", "bob's password", "BOB1")

			if r := doURL(t, alice, http.MethodGet, nil, dehydratedURL(alice)); r.status != http.StatusNotFound || r.errcode() != "M_NOT_FOUND" {
				t.Fatalf("none yet: %d %v", r.status, r.body)
			}
			noKeys := dehydrated(alice, "DRY1")
			delete(noKeys, "device_keys")
			if r := doURL(t, alice, http.MethodPut, noKeys, dehydratedURL(alice)); r.status != http.StatusBadRequest {
				t.Fatalf("without device keys: %d %v", r.status, r.body)
			}
			if r := doURL(t, alice, http.MethodPut, dehydrated(alice, "ALICE1"), dehydratedURL(alice)); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_PARAM" {
				t.Fatalf("an ordinary device's ID: %d %v", r.status, r.body)
			}
			if r := doURL(t, alice, http.MethodPut, dehydrated(alice, "DRY1"), dehydratedURL(alice)); r.status != http.StatusOK || r.body["device_id"] != "DRY1" {
				t.Fatalf("put: %d %v", r.status, r.body)
			}
			r := doURL(t, alice, http.MethodGet, nil, dehydratedURL(alice))
			if data, _ := r.body["device_data"].(map[string]any); r.status != http.StatusOK || r.body["device_id"] != "DRY1" || data["device_pickle"] != "encrypted" {
				t.Fatalf("get: %d %v", r.status, r.body)
			}
			// An ordinary device to everyone else: queried, claimed, messaged.
			q, err := bob.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}}})
			if _, ok := q.DeviceKeys[alice.UserID]["DRY1"]; err != nil || !ok {
				t.Fatalf("query: %+v %v", q, err)
			}
			msg := map[string]any{"messages": map[string]any{string(alice.UserID): map[string]any{"*": map[string]any{"room_key": "k"}}}}
			if r := do(t, bob, http.MethodPut, msg, "sendToDevice", "m.room.encrypted", "t1"); r.status != http.StatusOK {
				t.Fatal(r.body)
			}
			r = doURL(t, alice, http.MethodPost, map[string]any{}, dehydratedURL(alice, "DRY1", "events"))
			events, _ := r.body["events"].([]any)
			next, _ := r.body["next_batch"].(string)
			if r.status != http.StatusOK || len(events) != 1 || next == "" {
				t.Fatalf("events: %d %v", r.status, r.body)
			}
			r = doURL(t, alice, http.MethodPost, map[string]any{"next_batch": next}, dehydratedURL(alice, "DRY1", "events"))
			if events, _ := r.body["events"].([]any); r.status != http.StatusOK || len(events) != 0 {
				t.Fatalf("events after next_batch: %d %v", r.status, r.body)
			}
			if r := doURL(t, alice, http.MethodPost, map[string]any{}, dehydratedURL(alice, "ALICE1", "events")); r.status != http.StatusForbidden {
				t.Fatalf("another device's events: %d %v", r.status, r.body)
			}
			if r := doURL(t, alice, http.MethodPost, map[string]any{"next_batch": "bogus"}, dehydratedURL(alice, "DRY1", "events")); r.status != http.StatusBadRequest {
				t.Fatalf("bad next_batch: %d %v", r.status, r.body)
			}
			// A new dehydrated device replaces the old one and its keys.
			if r := doURL(t, alice, http.MethodPut, dehydrated(alice, "DRY2"), dehydratedURL(alice)); r.status != http.StatusOK {
				t.Fatalf("replace: %d %v", r.status, r.body)
			}
			q, err = bob.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}}})
			_, old := q.DeviceKeys[alice.UserID]["DRY1"]
			if _, now := q.DeviceKeys[alice.UserID]["DRY2"]; err != nil || old || !now {
				t.Fatalf("query after replacing: %+v %v", q.DeviceKeys, err)
			}
			if r := doURL(t, alice, http.MethodDelete, nil, dehydratedURL(alice)); r.status != http.StatusOK || r.body["device_id"] != "DRY2" {
				t.Fatalf("delete: %d %v", r.status, r.body)
			}
			if r := doURL(t, alice, http.MethodGet, nil, dehydratedURL(alice)); r.status != http.StatusNotFound {
				t.Fatalf("after delete: %d %v", r.status, r.body)
			}
		})
	}
}

func TestDehydratedDevicesNeedTheExperimentalSwitch(t *testing.T) {
	srv := deviceServer(t, storagetest.Engines()[0])
	alice := register(t, srv.URL, "alice", "alice password", "ALICE1")
	if r := doURL(t, alice, http.MethodGet, nil, dehydratedURL(alice)); r.status != http.StatusNotFound || r.errcode() != "M_UNRECOGNIZED" {
		t.Fatalf("without msc3814_enabled: %d %v", r.status, r.body)
	}
}
