// Package servertest starts a real Axon server on loopback for integration
// tests, on a fresh database of the engine the test asks for.
package servertest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/server"
	"github.com/axonhs/axon/internal/signingkey"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// SharedSecret is the registration_shared_secret of test servers.
const SharedSecret = "test-shared-secret"

// Server is a running test homeserver.
type Server struct {
	Config *config.Config
	// URL is the client listener's base URL, e.g. http://127.0.0.1:41234.
	URL string

	addrs  [][]net.Addr
	cancel context.CancelFunc
	done   chan error
}

// Config returns a minimal configuration for a loopback server on a fresh
// database of engine; tests may adjust it before Start.
func Config(t testing.TB, engine string) *config.Config {
	t.Helper()
	keyPath := filepath.Join(t.TempDir(), "axon.test.signing.key")
	key, err := signingkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := signingkey.WriteNew(keyPath, key); err != nil {
		t.Fatal(err)
	}
	return &config.Config{
		ServerName:     "axon.test",
		SigningKeyPath: keyPath,
		Listeners: []config.Listener{{
			Port:          0, // any free port
			BindAddresses: []string{"127.0.0.1"},
			Type:          "http",
			Resources:     []config.Resource{{Names: []string{"client", "federation"}}},
		}},
		Database:                 databaseConfig(storagetest.NewOptions(t, engine)),
		RegistrationSharedSecret: SharedSecret,
		BcryptRounds:             4, // the minimum: tests need not pay for security
		Password:                 config.PasswordConfig{Enabled: true, LocalDBEnabled: true},
		EnableSetDisplayName:     true,
		EnableSetAvatarURL:       true,
		DefaultRoomVers:          config.DefaultRoomVersion,
	}
}

// Start starts a server for cfg and stops it when t ends.
func Start(t testing.TB, cfg *config.Config) *Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	s := &Server{Config: cfg, addrs: srv.Addrs(), cancel: cancel, done: make(chan error, 1)}
	s.URL = "http://" + srv.Addrs()[0][0].(*net.TCPAddr).String()
	go func() { s.done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	})
	return s
}

// MetricsURL is the base URL of the first listener of type metrics.
func (s *Server) MetricsURL(t testing.TB) string {
	t.Helper()
	for i, l := range s.Config.Listeners {
		if l.Type == "metrics" {
			return "http://" + s.addrs[i][0].String()
		}
	}
	t.Fatal("no metrics listener configured")
	return ""
}

// StartErr tries to start a server for cfg and returns why it could not;
// a server that does start is stopped at once.
func StartErr(t testing.TB, cfg *config.Config) error {
	t.Helper()
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		srv.Close()
	}
	return err
}

// Stop shuts the server down gracefully and waits for it; calling it again
// is harmless.
func (s *Server) Stop() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.cancel = nil
	return <-s.done
}

func databaseConfig(o storage.Options) config.Database {
	return config.Database{
		Engine:     o.Engine,
		SQLitePath: o.SQLitePath,
		User:       o.User,
		Password:   o.Password,
		DBName:     o.DBName,
		Host:       o.Host,
		Port:       o.Port,
		SSLMode:    o.SSLMode,
		CPMin:      o.MinConns,
		CPMax:      o.MaxConns,
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
