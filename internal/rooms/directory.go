package rooms

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/axonhs/axon/internal/storage"
)

// PublicRoom is one entry of the public room directory (PublishedRoomsChunk).
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}

// PublicRooms lists the published rooms, largest first (then by room ID,
// so pages are stable), keeping those whose name, topic or alias contain
// search (case-insensitively) when it is not empty.
func (s *Service) PublicRooms(ctx context.Context, search string) ([]PublicRoom, error) {
	ids, err := s.db.PublishedRooms(ctx)
	if err != nil {
		return nil, err
	}
	search = strings.ToLower(search)
	out := make([]PublicRoom, 0, len(ids))
	for _, roomID := range ids {
		pr, err := s.publicRoom(ctx, roomID)
		if err != nil {
			return nil, err
		}
		if search != "" && !strings.Contains(strings.ToLower(pr.Name+"\x00"+pr.Topic+"\x00"+pr.CanonicalAlias), search) {
			continue
		}
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b PublicRoom) int {
		return cmp.Or(cmp.Compare(b.NumJoinedMembers, a.NumJoinedMembers), cmp.Compare(a.RoomID, b.RoomID))
	})
	return out, nil
}

func (s *Service) publicRoom(ctx context.Context, roomID string) (PublicRoom, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return PublicRoom{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		return PublicRoom{}, err
	}
	pr := PublicRoom{RoomID: roomID}
	field := func(typ, key string) string {
		if ev := r.stateEvent(typ, ""); ev != nil {
			return contentString(ev, key)
		}
		return ""
	}
	pr.Name, pr.Topic = field(typeName, "name"), field(typeTopic, "topic")
	pr.CanonicalAlias, pr.AvatarURL = field(typeCanonicalAlias, "alias"), field("m.room.avatar", "url")
	pr.JoinRule, pr.RoomType = field(typeJoinRules, "join_rule"), field(typeCreate, "type")
	pr.WorldReadable = field(typeHistoryVisibility, "history_visibility") == visWorldReadable
	pr.GuestCanJoin = field(typeGuestAccess, "guest_access") == "can_join"
	for k, ev := range r.state {
		if k.Type == typeMember && contentString(ev, "membership") == membershipJoin {
			pr.NumJoinedMembers++
		}
	}
	return pr, nil
}

// Visibility reports whether a room is published in the directory.
func (s *Service) Visibility(ctx context.Context, roomID string) (bool, error) {
	published, err := s.db.RoomPublished(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("%w: unknown room", ErrNotFound)
	}
	return published, err
}

// SetVisibility publishes or unpublishes a room. As in Synapse, a member
// allowed to change the room's canonical alias may do it (server admins
// are checked by the caller).
func (s *Service) SetVisibility(ctx context.Context, user, roomID string, published bool) error {
	if _, err := s.Visibility(ctx, roomID); err != nil {
		return err
	}
	if !s.maySendState(ctx, roomID, user, typeCanonicalAlias) {
		return fmt.Errorf("%w: you may not change this room's visibility", ErrForbidden)
	}
	return s.db.SetRoomPublished(ctx, roomID, published)
}
