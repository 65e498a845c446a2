package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/axonhs/axon/internal/accountdata"
	"github.com/axonhs/axon/internal/clock"
	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/httpapi/clientapi"
	"github.com/axonhs/axon/internal/keys"
	"github.com/axonhs/axon/internal/presence"
	"github.com/axonhs/axon/internal/profile"
	"github.com/axonhs/axon/internal/push"
	"github.com/axonhs/axon/internal/receipts"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/signingkey"
	"github.com/axonhs/axon/internal/streams"
	"github.com/axonhs/axon/internal/syncer"
	"github.com/axonhs/axon/internal/typing"
)

// roomServices are the services of the room event pipeline and /sync,
// which share the stream notifier.
type roomServices struct {
	rooms       *rooms.Service
	syncer      *syncer.Service
	accountData *accountdata.Service
	ephemeral   clientapi.Ephemeral // typing, receipts, presence
	push        *push.Service       // push rules and unread counts
	presence    *presence.Service
	keys        *keys.Service  // end-to-end encryption keys, device lists
	e2ee        clientapi.E2EE // keys and to-device messages
}

// startRooms loads the signing key and starts the rooms service (its
// committer) and the sync service.
func (s *Server) startRooms(ctx context.Context, profiles *profile.Service) (roomServices, error) {
	key, err := loadSigningKey(s.cfg.SigningKeyPath, s.log)
	if err != nil {
		return roomServices{}, err
	}
	adPos, err := s.db.MaxAccountDataPos(ctx)
	if err != nil {
		return roomServices{}, err
	}
	notifier := streams.NewNotifier()
	adSeq := streams.NewSequence(adPos)
	rs := roomServices{
		rooms: rooms.New(s.db, s.log, rooms.Signer{ServerName: s.cfg.ServerName, KeyID: key.KeyID(), Key: key.Private},
			profiles, rooms.Settings{DefaultRoomVersion: s.cfg.DefaultRoomVers}),
		accountData: accountdata.New(s.db, adSeq, notifier.WakeUser),
	}
	rs.syncer = syncer.New(rs.rooms, s.db, notifier, adSeq, s.cfg.ServerName)
	rs.push = push.New(s.db, s.log, s.cfg.ServerName, rs.accountData)
	rs.rooms.WithPusher(rs.push)
	if err := rs.rooms.Start(ctx); err != nil {
		return roomServices{}, fmt.Errorf("start rooms: %w", err)
	}
	s.rooms = rs.rooms
	s.push = rs.push
	if err := s.startEphemeral(ctx, &rs, notifier); err != nil {
		return roomServices{}, err
	}
	if err := s.startE2EE(ctx, &rs, notifier); err != nil {
		return roomServices{}, err
	}
	profiles.OnChange(func(ctx context.Context, userID string) {
		// The profile change itself succeeded; rooms that could not be
		// updated keep the old name, as they would in Synapse.
		if err := rs.rooms.RefreshProfile(ctx, userID); err != nil {
			s.log.Warn("update member events after a profile change", "user", userID, "err", err)
		}
	})
	if err := rs.syncer.Start(ctx); err != nil {
		return roomServices{}, fmt.Errorf("start sync: %w", err)
	}
	return rs, nil
}

// startEphemeral starts typing notifications, receipts and presence, and
// adds them to /sync.
func (s *Server) startEphemeral(ctx context.Context, rs *roomServices, notifier *streams.Notifier) error {
	rcptPos, err := s.db.MaxReceiptPos(ctx)
	if err != nil {
		return err
	}
	presencePos, err := s.db.MaxPresencePos(ctx)
	if err != nil {
		return err
	}
	ty := typing.New(s.db, clock.Real{}, notifier.WakeRoom)
	rcpts := receipts.New(s.db, rs.rooms, rs.accountData, streams.NewSequence(rcptPos), notifier)
	rcpts.OnRead(rs.push.ResetCounts)
	rs.syncer.WithCounts(rs.push)
	pc := s.cfg.Presence.WithDefaults()
	pres := presence.New(s.db, notifier, presence.Settings{
		Enabled: !pc.Disabled, Tracked: !pc.Untracked, IncludeOfflineOnSync: pc.IncludeOfflineUsersOnSync,
		LastActiveGranularity: pc.LastActiveGranularity, SyncOnlineTimeout: pc.SyncOnlineTimeout, IdleTimeout: pc.IdleTimeout,
	}, clock.Real{}, streams.NewSequence(presencePos+presence.MaxUnwritten), notifier.WakeSharers, s.log)
	if err := pres.Start(ctx); err != nil {
		return fmt.Errorf("start presence: %w", err)
	}
	s.stopEphemeral = func(ctx context.Context) {
		ty.Close()
		if err := pres.Close(ctx); err != nil {
			s.log.Warn("write presence", "err", err)
		}
	}
	// Leaving a room ends one's typing notification there, as in Synapse.
	rs.rooms.OnCommit(func(batch []rooms.Committed) {
		for _, c := range batch {
			if c.Type == "m.room.member" && c.StateKey != nil && c.Membership != rooms.MembershipJoin {
				ty.Stop(c.RoomID, *c.StateKey)
			}
		}
	})
	rs.presence = pres
	rs.syncer.WithEphemeral(syncer.Ephemeral{Typing: ty, Receipts: rcpts, Presence: pres})
	rs.ephemeral = clientapi.Ephemeral{Typing: ty, Receipts: rcpts, Presence: pres}
	return nil
}

// loadSigningKey reads the first key of the signing key file. A missing
// file gets a new key, as a first start would write one: unlike a lost
// database, a new key loses nothing (other servers fetch it).
func loadSigningKey(path string, log *slog.Logger) (signingkey.Key, error) {
	if path == "" {
		return signingkey.Key{}, errors.New("signing_key_path is not set")
	}
	keys, err := signingkey.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := signingkey.Generate()
		if err != nil {
			return signingkey.Key{}, err
		}
		if err := signingkey.WriteNew(path, key); err != nil {
			return signingkey.Key{}, fmt.Errorf("write new signing key: %w", err)
		}
		log.Warn("generated a new signing key", "path", path, "key_id", key.KeyID())
		return key, nil
	}
	if err != nil {
		return signingkey.Key{}, fmt.Errorf("read signing key: %w", err)
	}
	if len(keys) == 0 {
		return signingkey.Key{}, fmt.Errorf("signing key file %s holds no key", path)
	}
	return keys[0], nil
}

// autoJoin translates the auto_join_rooms settings.
func autoJoin(cfg *config.Config) rooms.AutoJoin {
	aj := cfg.AutoJoin
	out := rooms.AutoJoin{Rooms: aj.Rooms, Autocreate: aj.Autocreate, Federated: aj.Federated, Preset: aj.Preset, ForGuests: aj.ForGuests}
	if aj.MXIDLocal != "" {
		out.Creator = "@" + aj.MXIDLocal + ":" + cfg.ServerName
	}
	return out
}
