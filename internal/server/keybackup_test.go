package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/server"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

const kbRoom, kbRoom2 = id.RoomID("!backup:axon.test"), id.RoomID("!other:axon.test")

// kbDo is do with a query: the /room_keys/keys requests carry ?version=.
func kbDo(t *testing.T, c *mautrix.Client, method string, body any, query map[string]string, path ...any) result {
	t.Helper()
	u := c.BuildURLWithQuery(mautrix.ClientURLPath(append([]any{"v3"}, path...)), query)
	contents, err := c.MakeRequest(context.Background(), method, u, body, nil)
	res := result{status: http.StatusOK}
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		res.status = httpErr.Response.StatusCode
	} else if err != nil {
		t.Fatalf("%s %v: %v", method, path, err)
	}
	if len(contents) > 0 {
		if err := json.Unmarshal(contents, &res.body); err != nil {
			t.Fatalf("%s %v: body %q: %v", method, path, contents, err)
		}
	}
	return res
}

// kbSessionData is session_data in the shape mautrix decodes
// (m.megolm_backup.v1.curve25519-aes-sha2), its ciphertext naming the key.
func kbSessionData(name string) json.RawMessage {
	b64 := base64.RawStdEncoding.EncodeToString
	return json.RawMessage(fmt.Sprintf(`{"ephemeral":%q,"ciphertext":%q,"mac":%q}`,
		b64(bytes.Repeat([]byte{9}, 32)), b64([]byte(name)), b64([]byte("mac"))))
}

func kbKey(verified bool, index, forwarded int, name string) mautrix.ReqKeyBackupData {
	return mautrix.ReqKeyBackupData{FirstMessageIndex: index, ForwardedCount: forwarded, IsVerified: verified, SessionData: kbSessionData(name)}
}

// kbName is the name kbSessionData put in a key.
func kbName(k *mautrix.RespKeyBackupData[backup.EncryptedSessionData[backup.MegolmSessionData]]) string {
	return string(k.SessionData.Ciphertext)
}

func kbAuthData(key string) backup.MegolmAuthData {
	return backup.MegolmAuthData{PublicKey: id.Ed25519(key)}
}

func TestKeyBackup(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := deviceServer(t, engine)
			alice := register(t, srv.URL, "alice", "alice's password", "ALICE")
			bob := register(t, srv.URL, "bob", "bob's password", "BOB")

			t.Run("versions are created, read, updated and deleted", func(t *testing.T) {
				_, err := alice.GetKeyBackupLatestVersion(ctx)
				if r := do(t, alice, http.MethodGet, nil, "room_keys", "version"); r.status != 404 || r.errcode() != "M_NOT_FOUND" || r.body["error"] != "No backup found" || errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("no backup: %d %v %v", r.status, r.body, err)
				}
				created, err := alice.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
					Algorithm: id.KeyBackupAlgorithmMegolmBackupV1, AuthData: kbAuthData("first")})
				if err != nil || created.Version != "1" {
					t.Fatalf("create: %+v %v", created, err)
				}
				// Any algorithm is accepted, as in Synapse (Complement uses m.megolm_backup.v1).
				r := do(t, alice, http.MethodPost, map[string]any{"algorithm": "m.megolm_backup.v1", "auth_data": map[string]any{"foo": "bar"}}, "room_keys", "version")
				if r.status != 200 || r.body["version"] != "2" {
					t.Fatalf("second version: %d %v", r.status, r.body)
				}
				latest := do(t, alice, http.MethodGet, nil, "room_keys", "version")
				if latest.status != 200 || mustJSON(t, latest.body) != `{"algorithm":"m.megolm_backup.v1","auth_data":{"foo":"bar"},"count":0,"etag":"0","version":"2"}` {
					t.Fatalf("latest: %d %v", latest.status, latest.body)
				}
				v1, err := alice.GetKeyBackupVersion(ctx, "1")
				if err != nil || v1.Version != "1" || v1.Algorithm != id.KeyBackupAlgorithmMegolmBackupV1 || v1.AuthData.PublicKey != "first" || v1.ETag != "0" || v1.Count != 0 {
					t.Fatalf("version 1: %+v %v", v1, err)
				}
				if _, err := alice.GetKeyBackupVersion(ctx, "3"); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("version 3: %v", err)
				}
				if r := do(t, alice, http.MethodGet, nil, "room_keys", "version", "one"); r.status != 404 || r.errcode() != "M_NOT_FOUND" {
					t.Fatalf("non-numeric version: %d %v", r.status, r.body)
				}

				// Updates change auth_data only, of any live version. (mautrix's
				// UpdateKeyBackupVersion sends no body, hence raw requests.)
				update := func(version string, body map[string]any) result {
					return do(t, alice, http.MethodPut, body, "room_keys", "version", version)
				}
				if r := update("1", map[string]any{"algorithm": string(id.KeyBackupAlgorithmMegolmBackupV1), "auth_data": kbAuthData("updated"), "version": "1"}); r.status != 200 || mustJSON(t, r.body) != `{}` {
					t.Fatalf("update: %d %v", r.status, r.body)
				}
				if v1, err := alice.GetKeyBackupVersion(ctx, "1"); err != nil || v1.AuthData.PublicKey != "updated" || v1.ETag != "0" {
					t.Fatalf("updated: %+v %v", v1, err)
				}
				for _, c := range []struct {
					name, version string
					body          map[string]any
					status        int
					errcode       string
				}{
					{"another algorithm", "1", map[string]any{"algorithm": "m.megolm_backup.v1", "auth_data": map[string]any{}}, 400, "M_INVALID_PARAM"},
					{"another version in the body", "1", map[string]any{"algorithm": string(id.KeyBackupAlgorithmMegolmBackupV1), "auth_data": map[string]any{}, "version": "2"}, 400, "M_INVALID_PARAM"},
					{"unknown version", "7", map[string]any{"algorithm": "x", "auth_data": map[string]any{}}, 404, "M_NOT_FOUND"},
					{"no auth_data", "1", map[string]any{"algorithm": string(id.KeyBackupAlgorithmMegolmBackupV1)}, 400, "M_MISSING_PARAM"},
				} {
					if r := update(c.version, c.body); r.status != c.status || r.errcode() != c.errcode {
						t.Errorf("update with %s: %d %v", c.name, r.status, r.body)
					}
				}
				if v1, _ := alice.GetKeyBackupVersion(ctx, "1"); v1.AuthData.PublicKey != "updated" {
					t.Fatalf("refused updates changed the version: %+v", v1)
				}

				// Deleting the latest version makes the one before it latest;
				// numbers are never reused.
				if err := alice.DeleteKeyBackupVersion(ctx, "2"); err != nil {
					t.Fatal(err)
				}
				if v, err := alice.GetKeyBackupLatestVersion(ctx); err != nil || v.Version != "1" {
					t.Fatalf("latest after deletion: %+v %v", v, err)
				}
				if _, err := alice.GetKeyBackupVersion(ctx, "2"); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("deleted version: %v", err)
				}
				if err := alice.DeleteKeyBackupVersion(ctx, "2"); err != nil {
					t.Fatalf("deleting a deleted version (the spec: succeeds): %v", err)
				}
				if r := do(t, alice, http.MethodDelete, nil, "room_keys", "version", "9"); r.status != 404 || r.errcode() != "M_NOT_FOUND" {
					t.Fatalf("deleting an unknown version: %d %v", r.status, r.body)
				}
				if r := do(t, alice, http.MethodDelete, nil, "room_keys", "version"); r.status != 405 {
					t.Fatalf("DELETE without a version: %d %v", r.status, r.body)
				}
				created, err = alice.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
					Algorithm: id.KeyBackupAlgorithmMegolmBackupV1, AuthData: kbAuthData("third")})
				if err != nil || created.Version != "3" {
					t.Fatalf("version after a deletion: %+v %v", created, err)
				}
				// The r0 path serves the same.
				res := rawJSON(t, http.MethodGet, srv.URL+"/_matrix/client/r0/room_keys/version", alice.AccessToken, nil)
				if res.status != 200 || res.body["version"] != "3" {
					t.Fatalf("r0: %d %v", res.status, res.body)
				}
			})

			t.Run("malformed version bodies are refused", func(t *testing.T) {
				for _, c := range []struct {
					body    map[string]any
					errcode string
				}{
					{map[string]any{"auth_data": map[string]any{}}, "M_MISSING_PARAM"},
					{map[string]any{"algorithm": "a"}, "M_MISSING_PARAM"},
					{map[string]any{"algorithm": 5, "auth_data": map[string]any{}}, "M_BAD_JSON"},
					{map[string]any{"algorithm": "a", "auth_data": "data"}, "M_BAD_JSON"},
				} {
					if r := do(t, alice, http.MethodPost, c.body, "room_keys", "version"); r.status != 400 || r.errcode() != c.errcode {
						t.Errorf("POST %v: %d %v", c.body, r.status, r.body)
					}
				}
				if v, err := alice.GetKeyBackupLatestVersion(ctx); err != nil || v.Version != "3" {
					t.Fatalf("a refused body created a version: %+v %v", v, err)
				}
			})

			t.Run("keys at every level", func(t *testing.T) {
				const v = id.KeyBackupVersion("3")
				resp, err := alice.PutKeysInBackup(ctx, v, &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{
					kbRoom:  {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{"s1": kbKey(false, 0, 0, "one"), "s2": kbKey(true, 5, 1, "two")}},
					kbRoom2: {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{"s3": kbKey(false, 2, 0, "three")}},
				}})
				if err != nil || resp.ETag != "1" || resp.Count != 3 {
					t.Fatalf("put all: %+v %v", resp, err)
				}
				resp, err = alice.PutKeysInBackupForRoom(ctx, v, kbRoom2, &mautrix.ReqRoomKeyBackup{Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{"s4": kbKey(false, 0, 0, "four")}})
				if err != nil || resp.ETag != "2" || resp.Count != 4 {
					t.Fatalf("put room: %+v %v", resp, err)
				}
				resp, err = alice.PutKeysInBackupForRoomAndSession(ctx, v, kbRoom, "s5", &mautrix.ReqKeyBackupData{IsVerified: true, SessionData: kbSessionData("five")})
				if err != nil || resp.ETag != "3" || resp.Count != 5 {
					t.Fatalf("put session: %+v %v", resp, err)
				}
				// The same key again changes nothing: the etag stays.
				resp, err = alice.PutKeysInBackupForRoomAndSession(ctx, v, kbRoom, "s5", &mautrix.ReqKeyBackupData{IsVerified: true, SessionData: kbSessionData("five again")})
				if err != nil || resp.ETag != "3" || resp.Count != 5 {
					t.Fatalf("put unchanged: %+v %v", resp, err)
				}

				all, err := alice.GetKeyBackup(ctx, v)
				if err != nil || len(all.Rooms) != 2 || len(all.Rooms[kbRoom].Sessions) != 3 || len(all.Rooms[kbRoom2].Sessions) != 2 {
					t.Fatalf("get all: %+v %v", all, err)
				}
				if s2 := all.Rooms[kbRoom].Sessions["s2"]; kbName(&s2) != "two" || !s2.IsVerified || s2.FirstMessageIndex != 5 || s2.ForwardedCount != 1 {
					t.Fatalf("s2: %+v", s2)
				}
				room, err := alice.GetKeyBackupForRoom(ctx, v, kbRoom2)
				if err != nil || len(room.Sessions) != 2 {
					t.Fatalf("get room: %+v %v", room, err)
				}
				if s4 := room.Sessions["s4"]; kbName(&s4) != "four" {
					t.Fatalf("s4: %+v", s4)
				}
				s5, err := alice.GetKeyBackupForRoomAndSession(ctx, v, kbRoom, "s5")
				if err != nil || kbName(s5) != "five" || !s5.IsVerified {
					t.Fatalf("get session: %+v %v", s5, err)
				}
				if r := kbDo(t, alice, http.MethodGet, nil, map[string]string{"version": "3"}, "room_keys", "keys", "!empty:axon.test"); r.status != 200 || mustJSON(t, r.body) != `{"sessions":{}}` {
					t.Fatalf("room without keys: %d %v", r.status, r.body)
				}
				if r := kbDo(t, alice, http.MethodGet, nil, map[string]string{"version": "3"}, "room_keys", "keys", kbRoom, "nope"); r.status != 404 || r.errcode() != "M_NOT_FOUND" {
					t.Fatalf("missing session: %d %v", r.status, r.body)
				}
				if v, err := alice.GetKeyBackupLatestVersion(ctx); err != nil || v.Count != 5 || v.ETag != "3" {
					t.Fatalf("version info: %+v %v", v, err)
				}

				// Deletion always moves the etag, even when nothing goes.
				resp, err = alice.DeleteKeysInBackupForRoomAndSession(ctx, v, kbRoom, "s1")
				if err != nil || resp.ETag != "4" || resp.Count != 4 {
					t.Fatalf("delete session: %+v %v", resp, err)
				}
				resp, err = alice.DeleteKeysInBackupForRoomAndSession(ctx, v, kbRoom, "s1")
				if err != nil || resp.ETag != "5" || resp.Count != 4 {
					t.Fatalf("delete session again: %+v %v", resp, err)
				}
				resp, err = alice.DeleteKeysFromBackupForRoom(ctx, v, kbRoom2)
				if err != nil || resp.ETag != "6" || resp.Count != 2 {
					t.Fatalf("delete room: %+v %v", resp, err)
				}
				if all, err := alice.GetKeyBackup(ctx, v); err != nil || len(all.Rooms) != 1 {
					t.Fatalf("after deleting a room: %+v %v", all, err)
				}
				resp, err = alice.DeleteKeyBackup(ctx, v)
				if err != nil || resp.ETag != "7" || resp.Count != 0 {
					t.Fatalf("delete all: %+v %v", resp, err)
				}
				if r := kbDo(t, alice, http.MethodGet, nil, map[string]string{"version": "3"}, "room_keys", "keys"); r.status != 200 || mustJSON(t, r.body) != `{"rooms":{}}` {
					t.Fatalf("empty backup: %d %v", r.status, r.body)
				}
				// An older live version can be read and emptied, not written.
				if r := kbDo(t, alice, http.MethodGet, nil, map[string]string{"version": "1"}, "room_keys", "keys"); r.status != 200 {
					t.Fatalf("read old version: %d %v", r.status, r.body)
				}
				if r := kbDo(t, alice, http.MethodDelete, nil, map[string]string{"version": "1"}, "room_keys", "keys"); r.status != 200 || r.body["etag"] != "1" {
					t.Fatalf("empty old version: %d %v", r.status, r.body)
				}
				for _, method := range []string{http.MethodGet, http.MethodDelete} {
					for _, version := range []string{"2", "9", "x"} {
						if r := kbDo(t, alice, method, nil, map[string]string{"version": version}, "room_keys", "keys"); r.status != 404 || r.errcode() != "M_NOT_FOUND" {
							t.Errorf("%s keys of version %s: %d %v", method, version, r.status, r.body)
						}
					}
				}
			})

			t.Run("the better key is kept", func(t *testing.T) {
				const v = id.KeyBackupVersion("3")
				put := func(k mautrix.ReqKeyBackupData) *mautrix.RespRoomKeysUpdate {
					t.Helper()
					resp, err := alice.PutKeysInBackupForRoomAndSession(ctx, v, kbRoom, "contested", &k)
					if err != nil {
						t.Fatal(err)
					}
					return resp
				}
				etag := put(kbKey(false, 5, 2, "first")).ETag
				stored := "first"
				for _, c := range []struct {
					name             string
					verified         bool
					index, forwarded int
					replaces         bool
				}{
					{"an exact tie", false, 5, 2, false},
					{"a higher index", false, 6, 0, false},
					{"more forwarding", false, 5, 3, false},
					{"less forwarding", false, 5, 1, true},
					{"a lower index", false, 4, 9, true},
					{"verified, higher index", true, 8, 9, true},
					{"unverified, lower index", false, 0, 0, false},
					{"verified, higher index, less forwarding", true, 9, 0, false},
					{"verified, lower index", true, 1, 9, true},
				} {
					resp := put(kbKey(c.verified, c.index, c.forwarded, c.name))
					want, _ := strconv.Atoi(etag)
					if c.replaces {
						want++
						stored = c.name
					}
					if resp.ETag != strconv.Itoa(want) || resp.Count != 1 {
						t.Errorf("%s: %+v, want etag %d", c.name, resp, want)
					}
					etag = resp.ETag
					got, err := alice.GetKeyBackupForRoomAndSession(ctx, v, kbRoom, "contested")
					if err != nil || kbName(got) != stored {
						t.Errorf("%s: stored %+v %v, want %q", c.name, got, err, stored)
					}
				}
			})

			t.Run("keys go to the current version only", func(t *testing.T) {
				keys := map[string]any{"rooms": map[string]any{string(kbRoom): map[string]any{"sessions": map[string]any{"stale": kbKey(false, 0, 0, "stale")}}}}
				r := kbDo(t, alice, http.MethodPut, keys, map[string]string{"version": "1"}, "room_keys", "keys")
				if r.status != 403 || r.errcode() != "M_WRONG_ROOM_KEYS_VERSION" || r.body["current_version"] != "3" {
					t.Fatalf("old version: %d %v", r.status, r.body)
				}
				for _, version := range []string{"2", "4", "x", ""} {
					if r := kbDo(t, alice, http.MethodPut, keys, map[string]string{"version": version}, "room_keys", "keys"); r.status != 404 || r.errcode() != "M_NOT_FOUND" {
						t.Errorf("version %q: %d %v", version, r.status, r.body)
					}
				}
				for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
					for _, path := range [][]any{{"room_keys", "keys"}, {"room_keys", "keys", kbRoom}, {"room_keys", "keys", kbRoom, "s"}} {
						if r := kbDo(t, alice, method, map[string]any{}, nil, path...); r.status != 400 || r.errcode() != "M_MISSING_PARAM" {
							t.Errorf("%s %v without a version: %d %v", method, path, r.status, r.body)
						}
					}
				}
				for _, version := range []string{"1", "3"} {
					if r := kbDo(t, alice, http.MethodGet, nil, map[string]string{"version": version}, "room_keys", "keys", kbRoom, "stale"); r.status != 404 {
						t.Fatalf("refused key stored in version %s: %d %v", version, r.status, r.body)
					}
				}
			})

			t.Run("malformed keys are refused and nothing is stored", func(t *testing.T) {
				before, err := alice.GetKeyBackupLatestVersion(ctx)
				if err != nil {
					t.Fatal(err)
				}
				good := kbKey(false, 0, 0, "good")
				q := map[string]string{"version": "3"}
				for _, c := range []struct {
					name    string
					path    []any
					body    any
					errcode string
				}{
					{"no rooms", []any{"room_keys", "keys"}, map[string]any{}, "M_MISSING_PARAM"},
					{"rooms not an object", []any{"room_keys", "keys"}, map[string]any{"rooms": []int{1}}, "M_BAD_JSON"},
					{"a bad key beside a good one", []any{"room_keys", "keys"}, map[string]any{"rooms": map[string]any{
						string(kbRoom): map[string]any{"sessions": map[string]any{"good": good, "bad": map[string]any{"first_message_index": 0, "forwarded_count": 0, "is_verified": "no", "session_data": map[string]any{}}}}}}, "M_INVALID_PARAM"},
					{"a missing field", []any{"room_keys", "keys", kbRoom}, map[string]any{"sessions": map[string]any{
						"good": good, "bad": map[string]any{"first_message_index": 0, "is_verified": true, "session_data": map[string]any{}}}}, "M_MISSING_PARAM"},
					{"no sessions", []any{"room_keys", "keys", kbRoom}, map[string]any{}, "M_MISSING_PARAM"},
					{"a string index", []any{"room_keys", "keys", kbRoom, "bad"}, map[string]any{"first_message_index": "0", "forwarded_count": 0, "is_verified": true, "session_data": map[string]any{}}, "M_BAD_JSON"},
					{"session_data not an object", []any{"room_keys", "keys", kbRoom, "bad"}, map[string]any{"first_message_index": 0, "forwarded_count": 0, "is_verified": true, "session_data": "x"}, "M_BAD_JSON"},
					{"an invalid room ID", []any{"room_keys", "keys", "not-a-room"}, map[string]any{"sessions": map[string]any{"good": good}}, "M_INVALID_PARAM"},
				} {
					if r := kbDo(t, alice, http.MethodPut, c.body, q, c.path...); r.status != 400 || r.errcode() != c.errcode {
						t.Errorf("%s: %d %v", c.name, r.status, r.body)
					}
				}
				after, err := alice.GetKeyBackupLatestVersion(ctx)
				if err != nil || after.Count != before.Count || after.ETag != before.ETag {
					t.Fatalf("refused uploads changed the backup: %+v -> %+v %v", before, after, err)
				}
			})

			t.Run("a user's backup is theirs alone", func(t *testing.T) {
				q := map[string]string{"version": "3"}
				if _, err := bob.GetKeyBackupLatestVersion(ctx); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("bob sees a backup: %v", err)
				}
				if _, err := bob.GetKeyBackupVersion(ctx, "3"); errcode(err) != "M_NOT_FOUND" {
					t.Fatalf("bob reads alice's version: %v", err)
				}
				for _, method := range []string{http.MethodGet, http.MethodDelete} {
					if r := kbDo(t, bob, method, nil, q, "room_keys", "keys"); r.status != 404 {
						t.Errorf("bob %s alice's keys: %d %v", method, r.status, r.body)
					}
				}
				if r := kbDo(t, bob, http.MethodPut, map[string]any{"sessions": map[string]any{"b": kbKey(true, 0, 0, "bob")}}, q, "room_keys", "keys", kbRoom); r.status != 404 {
					t.Errorf("bob writes alice's version: %d %v", r.status, r.body)
				}
				if r := do(t, bob, http.MethodPut, map[string]any{"algorithm": string(id.KeyBackupAlgorithmMegolmBackupV1), "auth_data": map[string]any{}}, "room_keys", "version", "3"); r.status != 404 {
					t.Errorf("bob updates alice's version: %d %v", r.status, r.body)
				}
				if r := do(t, bob, http.MethodDelete, nil, "room_keys", "version", "3"); r.status != 404 {
					t.Errorf("bob deletes alice's version: %d %v", r.status, r.body)
				}
				// Bob's numbers are his own.
				if created, err := bob.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
					Algorithm: id.KeyBackupAlgorithmMegolmBackupV1, AuthData: kbAuthData("bob")}); err != nil || created.Version != "1" {
					t.Fatalf("bob's first version: %+v %v", created, err)
				}
				if v, err := alice.GetKeyBackupLatestVersion(ctx); err != nil || v.Version != "3" || v.AuthData.PublicKey != "third" {
					t.Fatalf("alice's backup after bob's attempts: %+v %v", v, err)
				}
				if k, err := alice.GetKeyBackupForRoomAndSession(ctx, "3", kbRoom, "contested"); err != nil || kbName(k) != "verified, lower index" {
					t.Fatalf("alice's key after bob's attempts: %+v %v", k, err)
				}
			})
		})
	}
}

func TestKeyBackupRefusesGuests(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := guestServer(t, engine)
			guest, _ := registerGuest(t, srv.URL, &mautrix.ReqRegister{})
			q := map[string]string{"version": "1"}
			for _, c := range []struct {
				method string
				body   any
				query  map[string]string
				path   []any
			}{
				{http.MethodGet, nil, nil, []any{"room_keys", "version"}},
				{http.MethodPost, map[string]any{"algorithm": "a", "auth_data": map[string]any{}}, nil, []any{"room_keys", "version"}},
				{http.MethodGet, nil, nil, []any{"room_keys", "version", "1"}},
				{http.MethodPut, map[string]any{"algorithm": "a", "auth_data": map[string]any{}}, nil, []any{"room_keys", "version", "1"}},
				{http.MethodDelete, nil, nil, []any{"room_keys", "version", "1"}},
				{http.MethodGet, nil, q, []any{"room_keys", "keys"}},
				{http.MethodPut, map[string]any{"rooms": map[string]any{}}, q, []any{"room_keys", "keys"}},
				{http.MethodDelete, nil, q, []any{"room_keys", "keys", kbRoom}},
				{http.MethodGet, nil, q, []any{"room_keys", "keys", kbRoom, "s"}},
			} {
				if r := kbDo(t, guest, c.method, c.body, c.query, c.path...); r.status != 403 || r.errcode() != "M_GUEST_ACCESS_FORBIDDEN" {
					t.Errorf("guest %s %v: %d %v", c.method, c.path, r.status, r.body)
				}
			}
		})
	}
}

func TestKeyBackupGoesWithDeactivation(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := deviceServer(t, engine)
			const pw = "carol's password"
			carol := register(t, srv.URL, "carol", pw, "CAROL")
			dave := register(t, srv.URL, "dave", "dave's password", "DAVE")
			for _, c := range []*mautrix.Client{carol, dave} {
				v, err := c.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
					Algorithm: id.KeyBackupAlgorithmMegolmBackupV1, AuthData: kbAuthData("k")})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.PutKeysInBackupForRoomAndSession(ctx, v.Version, kbRoom, "s", &mautrix.ReqKeyBackupData{SessionData: kbSessionData("x")}); err != nil {
					t.Fatal(err)
				}
			}
			if r := uiaDance(t, carol, "carol", pw, http.MethodPost, map[string]any{}, "account", "deactivate"); r.status != 200 {
				t.Fatalf("deactivate: %d %v", r.status, r.body)
			}
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			db := storagetest.Open(t, server.StorageOptions(srv.Config.Database))
			if _, err := db.BackupVersion(ctx, "@carol:axon.test", 1); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("carol's backup after deactivation: %v", err)
			}
			if _, err := db.BackupKeys(ctx, "@carol:axon.test", 1, "", ""); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("carol's keys after deactivation: %v", err)
			}
			if keys, err := db.BackupKeys(ctx, "@dave:axon.test", 1, "", ""); err != nil || len(keys) != 1 {
				t.Fatalf("dave's keys: %v %v", keys, err)
			}
		})
	}
}
