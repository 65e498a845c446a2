package accounts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/storage"
)

// GuestDeviceID is the device of every guest, as in Synapse: the spec has
// the server pick a guest's device whatever the client asks for.
const GuestDeviceID = "guest_device"

// ErrNotGuest: an upgrade named a user who is not (or no longer) a guest.
var ErrNotGuest = errors.New("not a guest account")

// maxGuestIDAttempts bounds the retries when a generated guest ID is
// taken, as Synapse gives up after ten.
const maxGuestIDAttempts = 10

// guestIDs numbers guests after the largest numeric localpart in use, as
// Synapse's user_id_seq does. The largest is read from the database on
// first use and again after a collision.
type guestIDs struct {
	mu     sync.Mutex
	next   int64
	loaded bool
}

func (g *guestIDs) take(ctx context.Context, store Store) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.loaded {
		largest, err := store.MaxNumericLocalpart(ctx)
		if err != nil {
			return 0, err
		}
		g.next = max(g.next, largest+1)
		g.loaded = true
	}
	n := g.next
	g.next++
	return n, nil
}

// collided makes the next take look at the database again.
func (g *guestIDs) collided() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.loaded = false
}

// RegisterGuest creates a guest account, named by the next free number as
// in Synapse, logged in on GuestDeviceID. Its access token never expires:
// a guest has no password to log in again with, so an expired token
// would lose the account. deviceDisplayName is the only thing a client
// chooses (the spec has the server ignore everything else).
func (s *Service) RegisterGuest(ctx context.Context, deviceDisplayName string) (Session, error) {
	for range maxGuestIDAttempts {
		n, err := s.guestIDs.take(ctx, s.store)
		if err != nil {
			return Session{}, fmt.Errorf("number a guest: %w", err)
		}
		localpart := strconv.FormatInt(n, 10)
		uid, err := id.NewUserID(localpart, id.ServerName(s.serverName))
		if err != nil {
			return Session{}, fmt.Errorf("guest user ID: %w", err)
		}
		userID := uid.String()
		now := s.now()
		session, tok, err := s.issueTokens(userID, GuestDeviceID, false, now)
		if err != nil {
			return Session{}, err
		}
		tok.ExpiresAt, session.Expires, session.ExpiresIn = nil, false, 0
		err = s.store.CreateUser(ctx,
			storage.NewUser{UserID: userID, Guest: true, CreatedAt: now, DisplayName: localpart},
			&storage.NewDevice{UserID: userID, DeviceID: GuestDeviceID, DisplayName: deviceDisplayName, CreatedAt: now},
			&tok)
		if errors.Is(err, storage.ErrUserExists) {
			s.guestIDs.collided()
			continue
		}
		if err != nil {
			return Session{}, fmt.Errorf("create guest %s: %w", userID, err)
		}
		s.devicesChanged(ctx, userID, []string{GuestDeviceID})
		s.runRegistrationHooks(ctx, userID, true)
		return session, nil
	}
	return Session{}, errors.New("create guest: no free guest user ID found")
}

// GuestUpgrade describes a guest becoming a regular user (POST /register
// with guest_access_token): the user ID is kept, a password set, and the
// guest's session ended.
type GuestUpgrade struct {
	UserID   string
	Password string
	// DeviceID, DeviceDisplayName, NoSession and RefreshToken describe the
	// new session as in NewAccount.
	DeviceID          string
	DeviceDisplayName string
	NoSession         bool
	RefreshToken      bool
	// ConsentVersion: the privacy policy version agreed to (m.login.terms).
	ConsentVersion string
}

// UpgradeGuest turns a guest into a regular user, as Synapse does: the
// profile made for the guest stays, the guest's access tokens stop
// working, and a new session starts unless NoSession. It returns
// ErrNotGuest when up.UserID is not an active guest.
func (s *Service) UpgradeGuest(ctx context.Context, up GuestUpgrade) (Session, error) {
	var (
		hash string
		err  error
	)
	if up.Password != "" {
		if hash, err = s.hasher.Hash(up.Password); err != nil {
			return Session{}, fmt.Errorf("hash password: %w", err)
		}
	}
	now := s.now()
	session := Session{UserID: up.UserID}
	var (
		device *storage.NewDevice
		token  *storage.NewAccessToken
	)
	if !up.NoSession {
		deviceID := up.DeviceID
		if deviceID == "" {
			if deviceID, err = newDeviceID(); err != nil {
				return Session{}, err
			}
		}
		issued, tok, err := s.issueTokens(up.UserID, deviceID, up.RefreshToken, now)
		if err != nil {
			return Session{}, err
		}
		session, token = issued, &tok
		device = &storage.NewDevice{UserID: up.UserID, DeviceID: deviceID, DisplayName: up.DeviceDisplayName, CreatedAt: now}
	}
	revoked, err := s.store.UpgradeGuest(ctx,
		storage.GuestUpgrade{UserID: up.UserID, PasswordHash: hash, ConsentVersion: up.ConsentVersion, At: now},
		device, token)
	if errors.Is(err, storage.ErrNotFound) {
		return Session{}, ErrNotGuest
	}
	if err != nil {
		return Session{}, err
	}
	s.tokens.forget(revoked)
	if device != nil {
		s.devicesChanged(ctx, up.UserID, []string{device.DeviceID})
	}
	return session, nil
}
