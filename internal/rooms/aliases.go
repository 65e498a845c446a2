package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/storage"
)

// CreateAlias points a local alias at a room the user is joined to.
func (s *Service) CreateAlias(ctx context.Context, user, alias, roomID string) error {
	if err := s.checkLocalAlias(alias); err != nil {
		return err
	}
	if s.currentMembership(ctx, roomID, user) != membershipJoin {
		return fmt.Errorf("%w: you must be in the room to give it an alias", ErrForbidden)
	}
	return aliasError(s.db.CreateAlias(ctx, alias, roomID, user))
}

// DeleteAlias removes a local alias. Its creator may, and so may anyone
// allowed to change the room's canonical alias (as in Synapse).
func (s *Service) DeleteAlias(ctx context.Context, user, alias string) error {
	if err := s.checkLocalAlias(alias); err != nil {
		return err
	}
	a, err := s.db.AliasRoom(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: room alias %s", ErrNotFound, alias)
	}
	if err != nil {
		return err
	}
	if a.Creator != user && !s.maySendState(ctx, a.RoomID, user, typeCanonicalAlias) {
		return fmt.Errorf("%w: you may not delete this alias", ErrForbidden)
	}
	err = s.db.DeleteAlias(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: room alias %s", ErrNotFound, alias)
	}
	if err != nil {
		return err
	}
	return s.dropFromCanonicalAlias(ctx, user, a.RoomID, alias)
}

// AliasServers lists the servers that can help join the room an alias
// names: for local aliases, this one.
func (s *Service) AliasServers(string) []string { return []string{s.signer.ServerName} }

// RoomAliases lists a room's local aliases, for members (or anyone, if
// the room is world readable).
func (s *Service) RoomAliases(ctx context.Context, user, roomID string) ([]string, error) {
	if _, _, err := s.accessFor(ctx, user, roomID); err != nil {
		return nil, err
	}
	return s.db.RoomAliases(ctx, roomID)
}

// ErrStillInRoom: a user tried to forget a room they have not left.
var ErrStillInRoom = errors.New("rooms: leave the room before forgetting it")

// Forget hides a room the user has left from their room lists. A user
// still in the room must leave first.
func (s *Service) Forget(ctx context.Context, user, roomID string) error {
	switch s.currentMembership(ctx, roomID, user) {
	case membershipJoin, membershipInvite, membershipKnock:
		return ErrStillInRoom
	case "":
		return fmt.Errorf("%w: you have never been in this room", ErrNotFound)
	}
	return s.db.ForgetRoom(ctx, user, roomID)
}

func (s *Service) checkLocalAlias(alias string) error {
	a, err := id.ParseRoomAlias(alias)
	if err != nil {
		return fmt.Errorf("%w: invalid room alias", ErrBadRequest)
	}
	if a.Server() != id.ServerName(s.signer.ServerName) {
		return fmt.Errorf("%w: room aliases on other servers cannot be changed here", ErrBadRequest)
	}
	return nil
}

// currentMembership is user's current membership, loading the room if
// needed ("" for an unknown room).
func (s *Service) currentMembership(ctx context.Context, roomID, user string) string {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		return ""
	}
	return r.membership(user)
}

// maySendState reports whether user's power level allows sending state
// of type typ in the room now.
func (s *Service) maySendState(ctx context.Context, roomID, user, typ string) bool {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureLoaded(ctx, s.db); err != nil || r.membership(user) != membershipJoin {
		return false
	}
	var pl []byte
	if ev := r.stateEvent(typePowerLevels, ""); ev != nil {
		pl = ev.Content()
	}
	userLevel := authrules.UserLevel(r.version, pl, user)
	if creator := r.stateEvent(typeCreate, ""); pl == nil && creator != nil && creator.Sender() == user {
		userLevel = 100
	}
	return userLevel >= requiredStateLevel(r, pl, typ)
}

// requiredStateLevel is the power level needed to send state of type typ.
func requiredStateLevel(r *room, pl []byte, typ string) int64 {
	if pl == nil {
		return 0
	}
	if events, ok := rawjson.Lookup(pl, "events"); ok {
		if v, ok := rawjson.Lookup(events, typ); ok {
			if n, ok := authrules.ParseLevel(r.version, v); ok {
				return n
			}
		}
	}
	if v, ok := rawjson.Lookup(pl, "state_default"); ok {
		if n, ok := authrules.ParseLevel(r.version, v); ok {
			return n
		}
	}
	return 50
}
