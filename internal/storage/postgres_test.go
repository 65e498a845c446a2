package storage_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

func TestPostgresRefusesUnsafeLocale(t *testing.T) {
	// Synapse accepts exactly "C" for both; C.UTF-8 is the non-C locale
	// every Debian system has.
	for _, tc := range []struct{ collate, ctype string }{
		{"C.UTF-8", "C.UTF-8"},
		{"C", "C.UTF-8"},
		{"C.UTF-8", "C"},
	} {
		t.Run(tc.collate+"/"+tc.ctype, func(t *testing.T) {
			ctx := context.Background()
			opts := storagetest.NewPostgresDatabase(t, tc.collate, tc.ctype)
			db, err := storage.Open(ctx, opts, nil)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded on a database with a non-C locale")
			}
			t.Logf("refused: %v", err)
			for _, want := range []string{"LC_COLLATE", "CREATE DATABASE", "LC_CTYPE='C'", "template0", "allow_unsafe_locale"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}

			opts.AllowUnsafeLocale = true
			db = storagetest.Open(t, opts)
			if err := db.CreateUser(ctx, storage.NewUser{UserID: "@a:example.org"}, nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPostgresUnixSocket(t *testing.T) {
	dir := os.Getenv("AXON_TEST_POSTGRES_SOCKET_DIR")
	if dir == "" {
		t.Skip("AXON_TEST_POSTGRES_SOCKET_DIR not set (./scripts/test sets it)")
	}
	opts := storagetest.NewOptions(t, storage.EnginePostgres)
	opts.Host = dir
	opts.SSLMode = ""
	db := storagetest.Open(t, opts)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresConnectError(t *testing.T) {
	opts := storagetest.NewOptions(t, storage.EnginePostgres)
	opts.DBName += "_missing"
	opts.Password = "s3cret-password"
	db, err := storage.Open(context.Background(), opts, nil)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a missing database")
	}
	if !strings.Contains(err.Error(), opts.DBName) || strings.Contains(err.Error(), opts.Password) {
		t.Errorf("error %q should name the database and not contain the password", err)
	}
}
