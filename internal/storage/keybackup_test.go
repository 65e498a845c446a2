package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func backupKey(room string, i int) storage.BackupKey {
	return storage.BackupKey{RoomID: room, SessionID: fmt.Sprintf("s%03d", i), FirstMessageIndex: int64(i),
		ForwardedCount: 1, SessionData: fmt.Appendf(nil, `{"n":%d}`, i)}
}

func never(_, _ *storage.BackupKey) bool { return false }

func TestKeyBackupVersions(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		for _, u := range []string{"@alice:x", "@bob:x"} {
			if err := db.CreateUser(ctx, storage.NewUser{UserID: u}, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		create := func(user, alg string) int64 {
			t.Helper()
			v, err := db.CreateBackupVersion(ctx, user, alg, []byte(`{"k":"`+alg+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if _, err := db.CurrentBackupVersion(ctx, "@alice:x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("no backup yet: %v", err)
		}
		if a1, a2, b1 := create("@alice:x", "a1"), create("@alice:x", "a2"), create("@bob:x", "b1"); a1 != 1 || a2 != 2 || b1 != 1 {
			t.Fatalf("versions %d %d %d", a1, a2, b1)
		}
		cur, err := db.CurrentBackupVersion(ctx, "@alice:x")
		if err != nil || cur.Version != 2 || cur.Algorithm != "a2" || string(cur.AuthData) != `{"k":"a2"}` || cur.Etag != 0 || cur.Count != 0 {
			t.Fatalf("current %+v %v", cur, err)
		}
		if v, err := db.BackupVersion(ctx, "@alice:x", 1); err != nil || v.Version != 1 || v.Algorithm != "a1" {
			t.Fatalf("version 1: %+v %v", v, err)
		}
		if _, err := db.BackupVersion(ctx, "@alice:x", 3); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("version 3: %v", err)
		}

		// auth_data of any live version can change, not its algorithm.
		if err := db.UpdateBackupAuthData(ctx, "@alice:x", 1, "a1", []byte(`{"new":1}`)); err != nil {
			t.Fatal(err)
		}
		if v, _ := db.BackupVersion(ctx, "@alice:x", 1); string(v.AuthData) != `{"new":1}` {
			t.Fatalf("updated auth_data %s", v.AuthData)
		}
		if err := db.UpdateBackupAuthData(ctx, "@alice:x", 1, "other", []byte(`{}`)); !errors.Is(err, storage.ErrBackupAlgorithm) {
			t.Fatalf("algorithm change: %v", err)
		}
		if err := db.UpdateBackupAuthData(ctx, "@alice:x", 5, "a1", []byte(`{}`)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown version: %v", err)
		}

		// Deleting the current version makes the one below it current;
		// its number is never given out again.
		if _, err := db.PutBackupKeys(ctx, "@alice:x", 2, []storage.BackupKey{backupKey("!r:x", 1)}, never); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteBackupVersion(ctx, "@alice:x", 2); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteBackupVersion(ctx, "@alice:x", 2); err != nil {
			t.Fatalf("deleting a deleted version: %v", err)
		}
		if err := db.DeleteBackupVersion(ctx, "@alice:x", 9); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("deleting an unknown version: %v", err)
		}
		if _, err := db.BackupKeys(ctx, "@alice:x", 2, "", ""); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("keys of a deleted version: %v", err)
		}
		if err := db.UpdateBackupAuthData(ctx, "@alice:x", 2, "a2", []byte(`{}`)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("update of a deleted version: %v", err)
		}
		if cur, err := db.CurrentBackupVersion(ctx, "@alice:x"); err != nil || cur.Version != 1 {
			t.Fatalf("current after deletion: %+v %v", cur, err)
		}
		if v := create("@alice:x", "a3"); v != 3 {
			t.Fatalf("version after a deletion: %d", v)
		}
		if v, err := db.BackupVersion(ctx, "@alice:x", 3); err != nil || v.Count != 0 {
			t.Fatalf("new version is empty: %+v %v", v, err)
		}

		// Deactivation removes everything of one user only.
		if err := db.DeleteUserBackups(ctx, "@alice:x"); err != nil {
			t.Fatal(err)
		}
		for _, v := range []int64{1, 2, 3} {
			if _, err := db.BackupVersion(ctx, "@alice:x", v); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("version %d after deleting all: %v", v, err)
			}
		}
		if v, err := db.CurrentBackupVersion(ctx, "@bob:x"); err != nil || v.Version != 1 {
			t.Fatalf("bob's backup: %+v %v", v, err)
		}
	})
}

func TestKeyBackupKeys(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const alice = "@alice:x"
		if err := db.CreateUser(ctx, storage.NewUser{UserID: alice}, nil, nil); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := db.CreateBackupVersion(ctx, alice, "alg", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		put := func(version int64, keys []storage.BackupKey, replace func(_, _ *storage.BackupKey) bool) (storage.BackupCounts, error) {
			t.Helper()
			return db.PutBackupKeys(ctx, alice, version, keys, replace)
		}
		check := func(c storage.BackupCounts, err error, etag, count int64) {
			t.Helper()
			if err != nil || c.Etag != etag || c.Count != count {
				t.Fatalf("counts %+v %v, want etag %d count %d", c, err, etag, count)
			}
		}

		// 70 keys in two rooms: more than one statement's worth.
		var keys []storage.BackupKey
		for i := range 70 {
			keys = append(keys, backupKey([]string{"!a:x", "!b:x"}[i%2], i))
		}
		var wrong *storage.WrongBackupVersionError
		if _, err := put(1, keys, never); !errors.As(err, &wrong) || wrong.Current != 2 {
			t.Fatalf("old version: %v", err)
		}
		if _, err := put(3, keys, never); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown version: %v", err)
		}
		if got, err := db.BackupKeys(ctx, alice, 2, "", ""); err != nil || len(got) != 0 {
			t.Fatalf("refused writes stored %d keys: %v", len(got), err)
		}
		c, err := put(2, keys, never)
		check(c, err, 1, 70)

		// The same keys again: replace sees each stored key and refuses,
		// so nothing changes and the etag stays.
		seen := 0
		c, err = put(2, keys, func(stored, k *storage.BackupKey) bool {
			seen++
			if stored.RoomID != k.RoomID || stored.SessionID != k.SessionID || stored.FirstMessageIndex != k.FirstMessageIndex ||
				stored.ForwardedCount != 1 || stored.IsVerified {
				t.Errorf("stored %+v for %+v", stored, k)
			}
			return false
		})
		check(c, err, 1, 70)
		if seen != 70 {
			t.Fatalf("replace asked %d times", seen)
		}

		// One replacement and one new key: one etag step.
		better := backupKey("!a:x", 0)
		better.IsVerified, better.SessionData = true, []byte(`{"better":true}`)
		c, err = put(2, []storage.BackupKey{better, backupKey("!c:x", 100)}, func(_, k *storage.BackupKey) bool { return k.IsVerified })
		check(c, err, 2, 71)

		all, err := db.BackupKeys(ctx, alice, 2, "", "")
		if err != nil || len(all) != 71 {
			t.Fatalf("all keys: %d %v", len(all), err)
		}
		if first := all[0]; first.RoomID != "!a:x" || first.SessionID != "s000" || !first.IsVerified || string(first.SessionData) != `{"better":true}` {
			t.Fatalf("replaced key %+v", first)
		}
		room, err := db.BackupKeys(ctx, alice, 2, "!b:x", "")
		if err != nil || len(room) != 35 || room[0].SessionID != "s001" || string(room[0].SessionData) != `{"n":1}` {
			t.Fatalf("room keys: %d %v", len(room), err)
		}
		one, err := db.BackupKeys(ctx, alice, 2, "!c:x", "s100")
		if err != nil || len(one) != 1 || one[0].FirstMessageIndex != 100 {
			t.Fatalf("one key: %+v %v", one, err)
		}
		if none, err := db.BackupKeys(ctx, alice, 2, "!nope:x", ""); err != nil || len(none) != 0 {
			t.Fatalf("room without keys: %+v %v", none, err)
		}
		if none, err := db.BackupKeys(ctx, alice, 1, "", ""); err != nil || len(none) != 0 {
			t.Fatalf("older version without keys: %+v %v", none, err)
		}
		if _, err := db.BackupKeys(ctx, alice, 7, "", ""); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown version: %v", err)
		}

		// Deletion raises the etag even when it deletes nothing.
		c, err = db.DeleteBackupKeys(ctx, alice, 2, "!c:x", "s100")
		check(c, err, 3, 70)
		c, err = db.DeleteBackupKeys(ctx, alice, 2, "!c:x", "s100")
		check(c, err, 4, 70)
		c, err = db.DeleteBackupKeys(ctx, alice, 2, "!b:x", "")
		check(c, err, 5, 35)
		c, err = db.DeleteBackupKeys(ctx, alice, 1, "", "")
		check(c, err, 1, 0)
		if v, _ := db.BackupVersion(ctx, alice, 2); v.Etag != 5 || v.Count != 35 {
			t.Fatalf("version after deletions %+v", v)
		}
		c, err = db.DeleteBackupKeys(ctx, alice, 2, "", "")
		check(c, err, 6, 0)
		if _, err := db.DeleteBackupKeys(ctx, alice, 9, "", ""); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("delete from an unknown version: %v", err)
		}
	})
}
