// Package server assembles a running homeserver from a configuration:
// storage, services and one HTTP listener per configured listener.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/httpapi/clientapi"
	"github.com/axonhs/axon/internal/keybackup"
	"github.com/axonhs/axon/internal/metrics"
	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/profile"
	"github.com/axonhs/axon/internal/push"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
)

// Server is a homeserver whose database is open and sockets are bound.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	db        *storage.DB
	accounts  *accounts.Service // flushed on Close
	rooms     *rooms.Service    // stopped on Close
	push      *push.Service     // push rules and unread counts
	listeners []*httpapi.BoundListener
	pidFile   string // written by New, removed by Close

	stopCleanup func() // stops the periodic deletion of expired tokens
	// stopEphemeral stops typing and presence timers and writes presence (rooms.go).
	stopEphemeral func(ctx context.Context)
}

// New opens the database (migrating it) and binds every listener, so that
// configuration mistakes surface before anything is served.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	if err := checkSupported(cfg); err != nil {
		return nil, err
	}
	db, err := storage.Open(ctx, StorageOptions(cfg.Database), log)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s := &Server{cfg: cfg, log: log, db: db}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start binds the listeners and writes the pid file.
func (s *Server) start(ctx context.Context) error {
	cfg := s.cfg
	profiles := profile.New(s.db, profile.Settings{SetDisplayNameAllowed: cfg.EnableSetDisplayName, SetAvatarURLAllowed: cfg.EnableSetAvatarURL})
	rs, err := s.startRooms(ctx, profiles)
	if err != nil {
		return err
	}
	svc := services{
		rooms:    rs.rooms,
		syncer:   rs.syncer,
		push:     rs.push,
		accounts: accounts.New(s.db, cfg.ServerName, password.Hasher{Rounds: cfg.BcryptRounds, Pepper: cfg.Password.Pepper}),
		userData: clientapi.UserData{
			Profiles:    profiles,
			AccountData: rs.accountData,
			Filters:     filter.New(s.db),
		},
		metrics:   metrics.New(),
		ephemeral: rs.ephemeral,
		e2ee:      rs.e2ee,
		keyBackup: keybackup.New(s.db),
	}
	svc.accounts.SetLifetimes(accounts.Lifetimes{
		RefreshableAccessToken:    cfg.TokenLifetimes.RefreshableAccessTokenLifetime,
		RefreshToken:              cfg.TokenLifetimes.RefreshTokenLifetime,
		NonrefreshableAccessToken: cfg.TokenLifetimes.NonrefreshableAccessTokenLifetime,
		Session:                   cfg.TokenLifetimes.SessionLifetime,
	})
	svc.regTokens = accounts.NewRegistrationTokens(s.db)
	overrides, err := accounts.LoadRateLimitOverrides(ctx, s.db, cfg.ServerName)
	if err != nil {
		return err
	}
	svc.overrides = overrides
	svc.limiters = newLimiters(cfg.RateLimits, overrides)
	svc.consent = newConsent(cfg, s.db)
	svc.accounts.OnDeactivate(func(ctx context.Context, userID string, erase bool) error {
		// Leave before erasing, so the leave events do not need the profile.
		if err := rs.rooms.LeaveAll(ctx, userID); err != nil {
			return err
		}
		if !erase {
			return nil
		}
		return profiles.Erase(ctx, userID)
	})
	// Synapse deletes a deactivated user's key backups (not their
	// cross-signing keys).
	svc.accounts.OnDeactivate(func(ctx context.Context, userID string, _ bool) error {
		return svc.keyBackup.DeleteUser(ctx, userID)
	})
	svc.accounts.OnRegister(func(_ context.Context, userID string, _ bool) { rs.presence.Registered(userID) })
	if aj := autoJoin(cfg); len(aj.Rooms) > 0 {
		svc.accounts.OnRegister(func(ctx context.Context, userID string, guest bool) {
			// As in Synapse, a room that cannot be joined does not fail
			// the registration.
			if err := rs.rooms.AutoJoinUser(ctx, aj, userID, guest); err != nil {
				s.log.Warn("auto-join rooms", "user", userID, "err", err)
			}
		})
	}
	s.announceDeviceChanges(svc.accounts, rs.keys)
	s.accounts = svc.accounts
	s.stopCleanup = svc.accounts.StartCleanup(accounts.CleanupInterval)
	var tlsConfig *tls.Config
	for i, lc := range cfg.Listeners {
		l, err := buildListener(cfg, lc, svc, s.log)
		if err != nil {
			return fmt.Errorf("listeners[%d]: %w", i, err)
		}
		if lc.TLS {
			if tlsConfig == nil {
				if tlsConfig, err = loadTLS(cfg); err != nil {
					return err
				}
			}
			l.TLS = tlsConfig
		}
		b, err := httpapi.Bind(l, s.log)
		if err != nil {
			return fmt.Errorf("listeners[%d]: %w", i, err)
		}
		s.listeners = append(s.listeners, b)
	}
	if len(s.listeners) == 0 {
		return errors.New("the configuration has no listeners: nothing to serve")
	}
	if cfg.PIDFile != "" {
		if err := os.WriteFile(cfg.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("write pid_file: %w", err)
		}
		s.pidFile = cfg.PIDFile
	}
	return nil
}

// Addrs lists the bound addresses of every listener, in configuration order.
func (s *Server) Addrs() [][]net.Addr {
	out := make([][]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.Addrs()
	}
	return out
}

// Serve serves until ctx is cancelled, then shuts down gracefully and
// closes the database.
func (s *Server) Serve(ctx context.Context) error {
	defer s.Close()
	s.log.Info("Axon is serving", "server_name", s.cfg.ServerName, "database", s.db.Engine())
	err := httpapi.Serve(ctx, s.log, s.listeners)
	s.log.Info("stopped")
	return err
}

// Close releases the sockets and the database and removes the pid file.
// Serve calls it on its way out; call it directly for a server that will
// not be served.
func (s *Server) Close() {
	s.closeListeners()
	if s.pidFile != "" {
		_ = os.Remove(s.pidFile)
		s.pidFile = ""
	}
	if s.stopCleanup != nil {
		s.stopCleanup()
		s.stopCleanup = nil
	}
	if s.rooms != nil {
		s.rooms.Stop() // commits what is queued
		s.rooms = nil
	}
	if s.stopEphemeral != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.stopEphemeral(ctx)
		cancel()
		s.stopEphemeral = nil
	}
	if s.accounts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.accounts.Close(ctx); err != nil {
			s.log.Warn("write last seen of devices", "err", err)
		}
		cancel()
		s.accounts = nil
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			s.log.Warn("close database", "err", err)
		}
		s.db = nil
	}
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
	s.listeners = nil
}

// Run is New followed by Serve.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// checkSupported refuses settings whose absence of support would make the
// server less safe than the administrator asked for.
func checkSupported(cfg *config.Config) error {
	if unsupported := unsupportedVerifiers(cfg); cfg.EnableRegistration && len(unsupported) > 0 {
		return fmt.Errorf("enable_registration is on and %s asks for verification Axon does not support yet; "+
			"registration would be open to anyone. Set enable_registration: false (and create users with 'axon register') "+
			"or remove %s", strings.Join(unsupported, ", "), strings.Join(unsupported, ", "))
	}
	return nil
}

// StorageOptions maps the database section of homeserver.yaml to storage options.
func StorageOptions(db config.Database) storage.Options {
	return storage.Options{
		Engine:            db.Engine,
		SQLitePath:        db.SQLitePath,
		User:              db.User,
		Password:          db.Password,
		DBName:            db.DBName,
		Host:              db.Host,
		Port:              db.Port,
		SSLMode:           db.SSLMode,
		MinConns:          db.CPMin,
		MaxConns:          db.CPMax,
		AllowUnsafeLocale: db.AllowUnsafeLocale,
	}
}

func loadTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.TLSCertPath == "" || cfg.TLSKeyPath == "" {
		return nil, errors.New("a listener has tls: true, but tls_certificate_path and tls_private_key_path are not both set")
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertPath, cfg.TLSKeyPath)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
