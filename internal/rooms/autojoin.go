package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/axonhs/axon/internal/matrix/id"
)

// AutoJoin is Synapse's auto_join_rooms family of settings.
type AutoJoin struct {
	Rooms      []string // room aliases or IDs
	Autocreate bool     // autocreate_auto_join_rooms
	Federated  bool     // autocreate_auto_join_rooms_federated
	Preset     string   // autocreate_auto_join_room_preset
	// Creator is the user from auto_join_mxid_localpart ("" for none): it
	// creates missing rooms and invites new users to invite-only ones.
	Creator   string
	ForGuests bool // auto_join_rooms_for_guests
}

// AutoJoinUser joins a newly registered user to the configured rooms,
// creating missing local aliases' rooms first when allowed, as Synapse
// does. Failures are collected rather than stopping at the first room.
func (s *Service) AutoJoinUser(ctx context.Context, aj AutoJoin, user string, guest bool) error {
	if guest && !aj.ForGuests {
		return nil
	}
	var errs []error
	for _, target := range aj.Rooms {
		if err := s.autoJoinOne(ctx, aj, user, target); err != nil {
			errs = append(errs, fmt.Errorf("auto-join %s: %w", target, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) autoJoinOne(ctx context.Context, aj AutoJoin, user, target string) error {
	roomID := target
	if strings.HasPrefix(target, "#") {
		var err error
		roomID, err = s.ResolveAlias(ctx, target)
		if errors.Is(err, ErrNotFound) && aj.Autocreate {
			return s.autoCreate(ctx, aj, user, target)
		}
		if err != nil {
			return err
		}
	}
	return s.autoJoinExisting(ctx, aj, user, roomID)
}

// autoCreate creates the room of a missing local alias, by the configured
// creator or else the new user, and brings the user in.
func (s *Service) autoCreate(ctx context.Context, aj AutoJoin, user, alias string) error {
	a, err := id.ParseRoomAlias(alias)
	if err != nil || a.Server() != id.ServerName(s.signer.ServerName) {
		return fmt.Errorf("%w: only local aliases can be created", ErrBadRequest)
	}
	creator := user
	if aj.Creator != "" {
		creator = aj.Creator
	}
	req := CreateRequest{Creator: creator, AliasLocalpart: a.Localpart(), Preset: aj.Preset, Public: aj.Preset == PresetPublicChat}
	if !aj.Federated {
		req.CreationContent = map[string]json.RawMessage{"m.federate": json.RawMessage("false")}
	}
	roomID, err := s.CreateRoom(ctx, req)
	if err != nil {
		return err
	}
	if creator == user {
		return nil
	}
	return s.autoJoinExisting(ctx, aj, user, roomID)
}

// autoJoinExisting joins user to roomID, inviting them first from the
// configured creator when the room needs an invite.
func (s *Service) autoJoinExisting(ctx context.Context, aj AutoJoin, user, roomID string) error {
	join := MembershipChange{Sender: user, RoomID: roomID, Target: user, Membership: membershipJoin}
	_, err := s.ChangeMembership(ctx, join)
	if err == nil || !errors.Is(err, ErrForbidden) || aj.Creator == "" {
		return err
	}
	invite := MembershipChange{Sender: aj.Creator, RoomID: roomID, Target: user, Membership: membershipInvite}
	if _, err := s.ChangeMembership(ctx, invite); err != nil {
		return err
	}
	_, err = s.ChangeMembership(ctx, join)
	return err
}
