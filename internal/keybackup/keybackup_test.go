package keybackup_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/axonhs/axon/internal/keybackup"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestParseVersionBodies(t *testing.T) {
	info, err := keybackup.ParseNewVersion([]byte(`{"algorithm": "m.megolm_backup.v1", "auth_data": { "foo" : "bar" }, "version": 7}`))
	if err != nil || info.Algorithm != "m.megolm_backup.v1" || string(info.AuthData) != `{"foo":"bar"}` || info.Version != nil {
		t.Fatalf("new version %+v %v", info, err)
	}
	info, err = keybackup.ParseVersionUpdate([]byte(`{"algorithm": "a", "auth_data": {}, "version": "3"}`))
	if err != nil || info.Version == nil || *info.Version != "3" {
		t.Fatalf("update %+v %v", info, err)
	}
	for body, kind := range map[string]error{
		`{"auth_data": {}}`:                     keybackup.ErrMissing,
		`{"algorithm": "a"}`:                    keybackup.ErrMissing,
		`{"algorithm": 1, "auth_data": {}}`:     keybackup.ErrMalformed,
		`{"algorithm": null, "auth_data": {}}`:  keybackup.ErrMalformed,
		`{"algorithm": "a", "auth_data": "x"}`:  keybackup.ErrMalformed,
		`{"algorithm": "a", "auth_data": null}`: keybackup.ErrMalformed,
		`{"algorithm": "a", "auth_data": [1]}`:  keybackup.ErrMalformed,
		`[]`:                                    keybackup.ErrMalformed,
	} {
		if _, err := keybackup.ParseNewVersion([]byte(body)); !errors.Is(err, kind) {
			t.Errorf("ParseNewVersion(%s) = %v, want %v", body, err, kind)
		}
	}
	if _, err := keybackup.ParseVersionUpdate([]byte(`{"algorithm": "a", "auth_data": {}, "version": 3}`)); !errors.Is(err, keybackup.ErrInvalid) {
		t.Errorf("numeric version in an update: %v", err)
	}
}

const goodKey = `{"first_message_index": 1, "forwarded_count": 0, "is_verified" : true , "session_data": {"ciphertext": "c"}}`

func TestParseKeys(t *testing.T) {
	keys, err := keybackup.ParseRooms([]byte(`{"rooms": {"!a:x": {"sessions": {"s1": ` + goodKey + `, "s2": ` + goodKey + `}}, "!b:x": {"sessions": {}}}}`))
	if err != nil || len(keys) != 2 {
		t.Fatalf("rooms: %v %v", keys, err)
	}
	k := keys[0]
	if k.RoomID != "!a:x" || k.FirstMessageIndex != 1 || k.ForwardedCount != 0 || !k.IsVerified || string(k.SessionData) != `{"ciphertext":"c"}` {
		t.Fatalf("key %+v", k)
	}
	if keys, err := keybackup.ParseRoom("!a:x", []byte(`{"sessions": {"s1": `+goodKey+`}}`)); err != nil || len(keys) != 1 || keys[0].SessionID != "s1" {
		t.Fatalf("room: %v %v", keys, err)
	}
	if keys, err := keybackup.ParseSession("!a:x", "s1", []byte(goodKey)); err != nil || len(keys) != 1 || keys[0].RoomID != "!a:x" {
		t.Fatalf("session: %v %v", keys, err)
	}

	withKey := func(key string) string { return `{"rooms": {"!a:x": {"sessions": {"s1": ` + key + `}}}}` }
	for body, kind := range map[string]error{
		`{}`:                                   keybackup.ErrMissing,
		`{"rooms": []}`:                        keybackup.ErrMalformed,
		`{"rooms": {"!a:x": {}}}`:              keybackup.ErrMissing,
		`{"rooms": {"!a:x": {"sessions": 1}}}`: keybackup.ErrMalformed,
		`{"rooms": {"!a:x": 1}}`:               keybackup.ErrMalformed,
		`{"rooms": {"a:x": {"sessions": {}}}}`: keybackup.ErrInvalid,
		`{"rooms": {"!a:x": {"sessions": {"": ` + goodKey + `}}}}`:                                                          keybackup.ErrInvalid,
		withKey(`{"forwarded_count": 0, "is_verified": true, "session_data": {}}`):                                          keybackup.ErrMissing,
		withKey(`{"first_message_index": 1, "is_verified": true, "session_data": {}}`):                                      keybackup.ErrMissing,
		withKey(`{"first_message_index": 1, "forwarded_count": 0, "session_data": {}}`):                                     keybackup.ErrMissing,
		withKey(`{"first_message_index": 1, "forwarded_count": 0, "is_verified": true}`):                                    keybackup.ErrMissing,
		withKey(`{"first_message_index": "1", "forwarded_count": 0, "is_verified": true, "session_data": {}}`):              keybackup.ErrMalformed,
		withKey(`{"first_message_index": 1.5, "forwarded_count": 0, "is_verified": true, "session_data": {}}`):              keybackup.ErrMalformed,
		withKey(`{"first_message_index": -1, "forwarded_count": 0, "is_verified": true, "session_data": {}}`):               keybackup.ErrMalformed,
		withKey(`{"first_message_index": 1, "forwarded_count": 1e3, "is_verified": true, "session_data": {}}`):              keybackup.ErrMalformed,
		withKey(`{"first_message_index": 1, "forwarded_count": 0, "is_verified": "yes", "session_data": {}}`):               keybackup.ErrInvalid,
		withKey(`{"first_message_index": 1, "forwarded_count": 0, "is_verified": null, "session_data": {}}`):                keybackup.ErrInvalid,
		withKey(`{"first_message_index": 1, "forwarded_count": 0, "is_verified": true, "session_data": "x"}`):               keybackup.ErrMalformed,
		withKey(`{"first_message_index": 9007199254740992, "forwarded_count": 0, "is_verified": true, "session_data": {}}`): keybackup.ErrMalformed,
		withKey(`[]`): keybackup.ErrMalformed,
	} {
		if _, err := keybackup.ParseRooms([]byte(body)); !errors.Is(err, kind) {
			t.Errorf("ParseRooms(%s) = %v, want %v", body, err, kind)
		}
	}
	if _, err := keybackup.ParseRoom("!a:x", []byte(`{"rooms": {}}`)); !errors.Is(err, keybackup.ErrMissing) {
		t.Errorf("room body without sessions: %v", err)
	}
	if _, err := keybackup.ParseSession("!a:x", string(make([]byte, 256)), []byte(goodKey)); !errors.Is(err, keybackup.ErrInvalid) {
		t.Errorf("long session ID: %v", err)
	}
}

func newService(t *testing.T, opts storage.Options, users ...string) *keybackup.Service {
	t.Helper()
	db := storagetest.Open(t, opts)
	for _, u := range users {
		if err := db.CreateUser(context.Background(), storage.NewUser{UserID: u}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return keybackup.New(db)
}

func sessionKey(room, session string, verified bool, index, forwarded int64, data string) keybackup.SessionKey {
	return keybackup.SessionKey{RoomID: room, SessionID: session, Key: keybackup.Key{
		IsVerified: verified, FirstMessageIndex: index, ForwardedCount: forwarded, SessionData: []byte(data)}}
}

func TestServiceKeepsTheBetterKey(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		const alice = "@alice:x"
		svc := newService(t, opts, alice)
		v, err := svc.CreateVersion(ctx, alice, keybackup.VersionInfo{Algorithm: "a", AuthData: []byte(`{}`)})
		if err != nil || v != "1" {
			t.Fatalf("version %q %v", v, err)
		}
		stored := sessionKey("!r:x", "s", false, 5, 2, `{"n":"first"}`)
		if c, err := svc.PutKeys(ctx, alice, v, []keybackup.SessionKey{stored}); err != nil || c.Etag != "1" || c.Count != 1 {
			t.Fatalf("first upload %+v %v", c, err)
		}
		etag := 1
		for _, c := range []struct {
			name     string
			uploaded keybackup.SessionKey
			replaces bool
		}{
			{"same key", sessionKey("!r:x", "s", false, 5, 2, `{"n":"tie"}`), false},
			{"higher index", sessionKey("!r:x", "s", false, 6, 0, `{"n":"later"}`), false},
			{"same index, more forwarded", sessionKey("!r:x", "s", false, 5, 3, `{"n":"forwarded"}`), false},
			{"same index, less forwarded", sessionKey("!r:x", "s", false, 5, 1, `{"n":"less forwarded"}`), true},
			{"lower index", sessionKey("!r:x", "s", false, 4, 9, `{"n":"earlier"}`), true},
			{"verified with a higher index", sessionKey("!r:x", "s", true, 8, 9, `{"n":"verified"}`), true},
			// Synapse would take these two.
			{"unverified with a lower index", sessionKey("!r:x", "s", false, 0, 0, `{"n":"unverified"}`), false},
			{"verified, higher index, lower forwarded count", sessionKey("!r:x", "s", true, 9, 0, `{"n":"odd"}`), false},
		} {
			got, err := svc.PutKeys(ctx, alice, v, []keybackup.SessionKey{c.uploaded})
			if err != nil {
				t.Fatal(err)
			}
			if c.replaces {
				etag++
				stored = c.uploaded
			}
			if got.Etag != fmt.Sprint(etag) || got.Count != 1 {
				t.Errorf("%s: counts %+v, want etag %d", c.name, got, etag)
			}
			k, err := svc.Key(ctx, alice, v, "!r:x", "s")
			if err != nil || string(k.SessionData) != string(stored.SessionData) || k.IsVerified != stored.IsVerified ||
				k.FirstMessageIndex != stored.FirstMessageIndex || k.ForwardedCount != stored.ForwardedCount {
				t.Errorf("%s: stored %+v %v, want %s", c.name, k, err, stored.SessionData)
			}
		}
	})
}

func TestServiceVersions(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		const alice = "@alice:x"
		svc := newService(t, opts, alice)
		if _, err := svc.CurrentVersion(ctx, alice); !errors.Is(err, keybackup.ErrNotFound) {
			t.Fatalf("no backup: %v", err)
		}
		info := keybackup.VersionInfo{Algorithm: "a", AuthData: []byte(`{"k":1}`)}
		v1, _ := svc.CreateVersion(ctx, alice, info)
		v2, _ := svc.CreateVersion(ctx, alice, info)
		key := []keybackup.SessionKey{sessionKey("!r:x", "s", false, 0, 0, `{}`)}

		var wrong *keybackup.WrongVersionError
		if _, err := svc.PutKeys(ctx, alice, v1, key); !errors.As(err, &wrong) || wrong.Current != v2 {
			t.Fatalf("old version: %v", err)
		}
		for _, v := range []string{"3", "x", "02", ""} {
			if _, err := svc.PutKeys(ctx, alice, v, key); !errors.Is(err, keybackup.ErrNotFound) {
				t.Errorf("PutKeys to %q: %v", v, err)
			}
			if _, err := svc.Version(ctx, alice, v); !errors.Is(err, keybackup.ErrNotFound) {
				t.Errorf("Version %q: %v", v, err)
			}
			if err := svc.DeleteVersion(ctx, alice, v); !errors.Is(err, keybackup.ErrNotFound) {
				t.Errorf("DeleteVersion %q: %v", v, err)
			}
		}
		if rooms, err := svc.Keys(ctx, alice, v2); err != nil || len(rooms) != 0 {
			t.Fatalf("refused uploads stored keys: %v %v", rooms, err)
		}

		// Updates: auth_data only, the version named must match.
		three := "3"
		if err := svc.UpdateVersion(ctx, alice, v1, keybackup.VersionInfo{Algorithm: "a", AuthData: []byte(`{}`), Version: &three}); !errors.Is(err, keybackup.ErrVersionMismatch) {
			t.Fatalf("version mismatch: %v", err)
		}
		if err := svc.UpdateVersion(ctx, alice, v1, keybackup.VersionInfo{Algorithm: "b", AuthData: []byte(`{}`)}); !errors.Is(err, keybackup.ErrAlgorithmMismatch) {
			t.Fatalf("algorithm mismatch: %v", err)
		}
		if err := svc.UpdateVersion(ctx, alice, "7", info); !errors.Is(err, keybackup.ErrNotFound) {
			t.Fatalf("unknown version: %v", err)
		}
		if err := svc.UpdateVersion(ctx, alice, v1, keybackup.VersionInfo{Algorithm: "a", AuthData: []byte(`{"k":2}`), Version: &v1}); err != nil {
			t.Fatal(err)
		}
		if got, err := svc.Version(ctx, alice, v1); err != nil || string(got.AuthData) != `{"k":2}` || got.Version != "1" || got.Etag != "0" {
			t.Fatalf("updated version %+v %v", got, err)
		}

		if _, err := svc.PutKeys(ctx, alice, v2, key); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteVersion(ctx, alice, v2); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteVersion(ctx, alice, v2); err != nil {
			t.Fatalf("deleting again: %v", err)
		}
		if cur, err := svc.CurrentVersion(ctx, alice); err != nil || cur.Version != v1 {
			t.Fatalf("current after deletion %+v %v", cur, err)
		}
		if v3, _ := svc.CreateVersion(ctx, alice, info); v3 != "3" {
			t.Fatalf("new version %q reuses a number", v3)
		}
		if err := svc.DeleteUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CurrentVersion(ctx, alice); !errors.Is(err, keybackup.ErrNotFound) {
			t.Fatalf("after deleting the user's backups: %v", err)
		}
	})
}

func TestServiceKeyLevels(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		const alice = "@alice:x"
		svc := newService(t, opts, alice)
		v, _ := svc.CreateVersion(ctx, alice, keybackup.VersionInfo{Algorithm: "a", AuthData: []byte(`{}`)})
		c, err := svc.PutKeys(ctx, alice, v, []keybackup.SessionKey{
			sessionKey("!a:x", "s1", false, 0, 0, `{"n":1}`), sessionKey("!a:x", "s2", true, 3, 1, `{"n":2}`),
			sessionKey("!b:x", "s3", false, 1, 0, `{"n":3}`),
		})
		if err != nil || c.Etag != "1" || c.Count != 3 {
			t.Fatalf("upload %+v %v", c, err)
		}
		rooms, err := svc.Keys(ctx, alice, v)
		if err != nil || len(rooms) != 2 || len(rooms["!a:x"].Sessions) != 2 || string(rooms["!b:x"].Sessions["s3"].SessionData) != `{"n":3}` {
			t.Fatalf("all keys %+v %v", rooms, err)
		}
		room, err := svc.RoomKeys(ctx, alice, v, "!a:x")
		if err != nil || len(room.Sessions) != 2 || !room.Sessions["s2"].IsVerified {
			t.Fatalf("room keys %+v %v", room, err)
		}
		if empty, err := svc.RoomKeys(ctx, alice, v, "!none:x"); err != nil || empty.Sessions == nil || len(empty.Sessions) != 0 {
			t.Fatalf("room without keys %+v %v", empty, err)
		}
		if _, err := svc.Key(ctx, alice, v, "!a:x", "s9"); !errors.Is(err, keybackup.ErrKeyNotFound) {
			t.Fatalf("missing key: %v", err)
		}
		if _, err := svc.RoomKeys(ctx, alice, v, "nope"); !errors.Is(err, keybackup.ErrInvalid) {
			t.Fatalf("invalid room ID: %v", err)
		}
		for _, c := range []struct {
			room, session string
			etag          string
			count         int64
		}{
			{"!a:x", "s1", "2", 2}, {"!a:x", "s1", "3", 2}, {"!b:x", "", "4", 1}, {"", "", "5", 0},
		} {
			got, err := svc.DeleteKeys(ctx, alice, v, c.room, c.session)
			if err != nil || got.Etag != c.etag || got.Count != c.count {
				t.Errorf("delete %s/%s: %+v %v, want etag %s count %d", c.room, c.session, got, err, c.etag, c.count)
			}
		}
		if _, err := svc.DeleteKeys(ctx, alice, "9", "", ""); !errors.Is(err, keybackup.ErrNotFound) {
			t.Fatalf("delete from an unknown version: %v", err)
		}
	})
}

// Concurrent uploads of one user are serialised: no etag step is lost,
// and the best of several keys for one session is what stays.
func TestServiceConcurrentUploads(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		const alice = "@alice:x"
		svc := newService(t, opts, alice)
		v, _ := svc.CreateVersion(ctx, alice, keybackup.VersionInfo{Algorithm: "a", AuthData: []byte(`{}`)})
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				_, err := svc.PutKeys(ctx, alice, v, []keybackup.SessionKey{sessionKey("!r:x", fmt.Sprint("own", i), false, 0, 0, `{}`)})
				errs <- err
			})
			wg.Go(func() {
				// Index n-1-i for the shared session: index 0 is the best.
				_, err := svc.PutKeys(ctx, alice, v, []keybackup.SessionKey{sessionKey("!r:x", "shared", false, int64(n-1-i), 0, fmt.Sprintf(`{"i":%d}`, n-1-i))})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		cur, err := svc.CurrentVersion(ctx, alice)
		if err != nil || cur.Count != n+1 {
			t.Fatalf("after concurrent uploads %+v %v", cur, err)
		}
		// Every private session was a change; the shared one changed at
		// least once and at most n times.
		if e, err := strconv.Atoi(cur.Etag); err != nil || e < n+1 || e > 2*n {
			t.Fatalf("etag %s after %d changes and %d competing uploads", cur.Etag, n, n)
		}
		k, err := svc.Key(ctx, alice, v, "!r:x", "shared")
		if err != nil || k.FirstMessageIndex != 0 || string(k.SessionData) != `{"i":0}` {
			t.Fatalf("shared session kept %+v %v", k, err)
		}
	})
}
