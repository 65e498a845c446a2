package main_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/httpapi/adminapi"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

const secret = "crash-test-secret"

// TestAcknowledgedWritesSurviveKill9 registers users concurrently, kills the
// server with SIGKILL in the middle of the burst, restarts it, and checks
// that every registration that got a 200 is still there.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildAxon(t)
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfgPath, url := writeConfig(t, storagetest.NewOptions(t, engine))

			srv := startAxon(t, bin, cfgPath, url)
			acked := registerUntilKilled(t, url, srv)

			if len(acked) == 0 {
				t.Fatal("no registration was acknowledged before the kill")
			}
			srv = startAxon(t, bin, cfgPath, url)
			defer stopAxon(t, srv)
			for _, name := range acked {
				status, errcode := register(url, name)
				if status != 400 || errcode != "M_USER_IN_USE" {
					t.Errorf("acknowledged user %s lost after kill -9: re-registering gave %d %s", name, status, errcode)
				}
			}
			t.Logf("%d acknowledged registrations all survived kill -9", len(acked))
		})
	}
}

// registerUntilKilled runs concurrent registrations, SIGKILLs the server
// once some have succeeded, and returns the names that got a 200.
func registerUntilKilled(t *testing.T, url string, srv *exec.Cmd) []string {
	t.Helper()
	const workers = 8
	var (
		mu     sync.Mutex
		acked  []string
		killed = make(chan struct{})
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				name := fmt.Sprintf("user%d-%d", w, i)
				if status, _ := register(url, name); status == 200 {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	close(killed)
	wg.Wait()
	return acked
}

func register(url, name string) (status int, errcode string) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url + "/_synapse/admin/v1/register")
	if err != nil {
		return 0, ""
	}
	var nonce struct{ Nonce string }
	err = json.NewDecoder(resp.Body).Decode(&nonce)
	resp.Body.Close()
	if err != nil {
		return 0, ""
	}
	body, _ := json.Marshal(map[string]any{
		"nonce": nonce.Nonce, "username": name, "password": "pw", "admin": false,
		"mac": hex.EncodeToString(adminapi.MAC([]byte(secret), nonce.Nonce, name, "pw", false, "")),
	})
	resp, err = client.Post(url+"/_synapse/admin/v1/register", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var e struct{ Errcode string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Errcode
}

func buildAxon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "axon")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func writeConfig(t *testing.T, db storage.Options) (path, url string) {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	var database string
	if db.Engine == storage.EnginePostgres {
		database = fmt.Sprintf("database:\n  name: psycopg2\n  args:\n    user: %q\n    password: %q\n    dbname: %q\n    host: %q\n    port: %d\n    sslmode: %q\n",
			db.User, db.Password, db.DBName, db.Host, db.Port, db.SSLMode)
	} else {
		database = fmt.Sprintf("database:\n  name: sqlite3\n  args:\n    database: %q\n", db.SQLitePath)
	}
	cfg := fmt.Sprintf(`server_name: crash.test
registration_shared_secret: %q
bcrypt_rounds: 4
rc_message: {per_second: 100000, burst_count: 100000}
listeners:
  - port: %d
    bind_addresses: ['127.0.0.1']
    type: http
    resources:
      - names: [client]
%s`, secret, port, database)
	path = filepath.Join(t.TempDir(), "homeserver.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://127.0.0.1:" + strconv.Itoa(port)
}

func startAxon(t *testing.T, bin, cfgPath, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-c", cfgPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t.Fatalf("server did not become healthy:\n%s", logs.String())
	return nil
}

func stopAxon(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Error("server did not stop within 30s of SIGTERM")
	}
}
