package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestCreateUser(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		created := time.UnixMilli(1700000000123)
		expires := created.Add(time.Hour)
		const id = "@alice:example.org"
		err := db.CreateUser(ctx,
			storage.NewUser{UserID: id, PasswordHash: "$2b$12$hash", Admin: true, UserType: "bot", CreatedAt: created},
			&storage.NewDevice{UserID: id, DeviceID: "DEV1", DisplayName: "phone", CreatedAt: created},
			&storage.NewAccessToken{TokenHash: []byte{0, 1, 2, 255}, UserID: id, DeviceID: "DEV1", CreatedAt: created, ExpiresAt: &expires})
		if err != nil {
			t.Fatal(err)
		}

		got, err := db.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := storage.User{UserID: id, PasswordHash: "$2b$12$hash", Admin: true, UserType: "bot", CreatedAt: created}
		if !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
		}
		got.CreatedAt = want.CreatedAt
		if got != want {
			t.Errorf("GetUser = %+v, want %+v", got, want)
		}

		var hash []byte
		var device string
		var expMS int64
		err = db.ReadTx(ctx, func(tx *storage.Tx) error {
			return tx.QueryRow(ctx, "SELECT token_hash, device_id, expires_ts FROM access_tokens WHERE user_id = $1", id).
				Scan(&hash, &device, &expMS)
		})
		if err != nil || string(hash) != "\x00\x01\x02\xff" || device != "DEV1" || expMS != expires.UnixMilli() {
			t.Errorf("token row = %x, %q, %d, %v", hash, device, expMS, err)
		}

		if ok, err := db.UserExists(ctx, id); err != nil || !ok {
			t.Errorf("UserExists = %v, %v; want true", ok, err)
		}
		if ok, err := db.UserExists(ctx, "@ALICE:example.org"); err != nil || ok {
			t.Errorf("UserExists(upper case) = %v, %v; want false (exact match)", ok, err)
		}
	})
}

func TestCreateUserDuplicate(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		const id = "@bob:example.org"
		if err := db.CreateUser(ctx, storage.NewUser{UserID: id}, nil, nil); err != nil {
			t.Fatal(err)
		}
		err := db.CreateUser(ctx, storage.NewUser{UserID: id},
			&storage.NewDevice{DeviceID: "D2"}, &storage.NewAccessToken{TokenHash: []byte("t2")})
		if !errors.Is(err, storage.ErrUserExists) {
			t.Fatalf("duplicate CreateUser = %v, want ErrUserExists", err)
		}
		// The failed call left nothing behind.
		var n int
		if err := db.ReadTx(ctx, func(tx *storage.Tx) error {
			return tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM access_tokens)").Scan(&n)
		}); err != nil || n != 0 {
			t.Errorf("rows left by failed CreateUser = %d, %v", n, err)
		}
	})
}

func TestCreateUserIsAtomic(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		tok := &storage.NewAccessToken{TokenHash: []byte("same")}
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@a:example.org"}, nil, tok); err != nil {
			t.Fatal(err)
		}
		// A token hash collision fails the whole registration, and is not
		// reported as the user existing.
		err := db.CreateUser(ctx, storage.NewUser{UserID: "@b:example.org"}, &storage.NewDevice{DeviceID: "D"}, tok)
		if err == nil || errors.Is(err, storage.ErrUserExists) {
			t.Fatalf("CreateUser with a duplicate token hash = %v", err)
		}
		if ok, err := db.UserExists(ctx, "@b:example.org"); err != nil || ok {
			t.Errorf("UserExists after failed CreateUser = %v, %v; want false", ok, err)
		}
	})
}

func TestCreateUserValidates(t *testing.T) {
	db := storagetest.Open(t, storage.Options{SQLitePath: ":memory:"})
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"empty id": func() error { return db.CreateUser(ctx, storage.NewUser{}, nil, nil) },
		"foreign device": func() error {
			return db.CreateUser(ctx, storage.NewUser{UserID: "@a:x"}, &storage.NewDevice{UserID: "@b:x", DeviceID: "D"}, nil)
		},
		"token without hash": func() error {
			return db.CreateUser(ctx, storage.NewUser{UserID: "@a:x"}, nil, &storage.NewAccessToken{})
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: CreateUser succeeded", name)
		}
	}
}

func TestGetUserNotFound(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		db := storagetest.Open(t, opts)
		if _, err := db.GetUser(context.Background(), "@nobody:example.org"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetUser = %v, want ErrNotFound", err)
		}
	})
}

func TestUserIDsCaseInsensitive(t *testing.T) {
	storagetest.ForEachEngine(t, func(t *testing.T, opts storage.Options) {
		ctx := context.Background()
		db := storagetest.Open(t, opts)
		for _, id := range []string{"@Carol:example.org", "@carol:example.org", "@dave:example.org"} {
			if err := db.CreateUser(ctx, storage.NewUser{UserID: id}, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.UserIDsCaseInsensitive(ctx, "@CAROL:EXAMPLE.ORG")
		if want := []string{"@Carol:example.org", "@carol:example.org"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("UserIDsCaseInsensitive = %q, %v; want %q", got, err, want)
		}
	})
}
