package storage_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/axonhs/axon/internal/storage"
)

// TestSQLiteSurvivesKill checks that a write acknowledged by CreateUser is
// there after the process is killed without closing the database: a child
// process (this test binary) writes and then SIGKILLs itself.
func TestSQLiteSurvivesKill(t *testing.T) {
	const env = "AXON_STORAGE_TEST_KILL_CHILD"
	ctx := context.Background()
	if path := os.Getenv(env); path != "" {
		db, err := storage.Open(ctx, storage.Options{SQLitePath: path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, storage.NewUser{UserID: "@survivor:example.org"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		p, _ := os.FindProcess(os.Getpid())
		p.Kill()
		select {}
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}

	path := filepath.Join(t.TempDir(), "axon.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+path)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 { // -1: killed by a signal
		t.Fatalf("child: %v\n%s", err, out)
	}
	db, err := storage.Open(ctx, storage.Options{SQLitePath: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ok, err := db.UserExists(ctx, "@survivor:example.org"); err != nil || !ok {
		t.Errorf("UserExists after kill = %v, %v; want true", ok, err)
	}
}
