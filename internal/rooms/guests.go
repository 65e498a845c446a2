package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/axonhs/axon/internal/storage"
)

// guestCanJoin reports whether the room's m.room.guest_access lets guests
// join. r.mu must be held.
func (r *room) guestCanJoin() bool {
	ev := r.stateEvent(typeGuestAccess, "")
	return ev != nil && contentString(ev, "guest_access") == "can_join"
}

// checkGuestJoin applies the guest access module: guests join only rooms
// whose m.room.guest_access is can_join. r.mu must be held.
func (r *room) checkGuestJoin(c MembershipChange) error {
	if c.Guest && c.Membership == membershipJoin && !r.guestCanJoin() {
		return errGuestAccess
	}
	return nil
}

// errGuestAccess is refused with M_GUEST_ACCESS_FORBIDDEN.
var errGuestAccess = fmt.Errorf("%w: guests cannot join this room", ErrGuestAccess)

// ErrGuestAccess: a guest tried what the room's guest access forbids.
var ErrGuestAccess = errors.New("rooms: guest access forbidden")

// kickGuests makes the local guests in roomID leave after its guest
// access stopped being can_join, as the spec requires. It runs after the
// change is durable; failures are logged, the next change retries.
func (s *Service) kickGuests(ctx context.Context, roomID string) {
	members, err := s.db.RoomMemberships(ctx, roomID)
	if err != nil {
		s.log.Warn("list members to remove guests", "room", roomID, "err", err)
		return
	}
	for _, m := range members {
		if m.Membership != membershipJoin {
			continue
		}
		u, err := s.db.GetUser(ctx, m.UserID)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && !u.Guest) {
			continue // a remote or regular user
		}
		if err == nil {
			_, err = s.ChangeMembership(ctx, MembershipChange{Sender: m.UserID, RoomID: roomID, Target: m.UserID, Membership: membershipLeave})
		}
		if err != nil {
			s.log.Warn("remove guest from room", "room", roomID, "user", m.UserID, "err", err)
		}
	}
}
