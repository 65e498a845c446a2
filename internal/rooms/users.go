package rooms

import (
	"context"
	"errors"
	"fmt"
)

// LeaveAll takes user out of every room they are in, rejecting invites
// and withdrawing knocks too: a deactivated account keeps no membership
// (as in Synapse).
func (s *Service) LeaveAll(ctx context.Context, user string) error {
	ms, err := s.db.UserMemberships(ctx, user)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		switch m.Membership {
		case membershipJoin, membershipInvite, membershipKnock:
			_, err := s.ChangeMembership(ctx, MembershipChange{Sender: user, RoomID: m.RoomID, Target: user, Membership: membershipLeave})
			if err != nil {
				errs = append(errs, fmt.Errorf("leave %s: %w", m.RoomID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// RefreshProfile sends a new join event in each of user's rooms whose
// member event carries an outdated display name or avatar, after the
// user changed their profile (as Synapse does). Rooms where the user may
// not change their membership content are skipped.
func (s *Service) RefreshProfile(ctx context.Context, user string) error {
	ms, err := s.db.UserMemberships(ctx, user)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		if m.Membership != membershipJoin {
			continue
		}
		// ChangeMembership sends nothing when the content is unchanged.
		_, err := s.ChangeMembership(ctx, MembershipChange{Sender: user, RoomID: m.RoomID, Target: user, Membership: membershipJoin})
		if err != nil && !errors.Is(err, ErrForbidden) {
			errs = append(errs, fmt.Errorf("update profile in %s: %w", m.RoomID, err))
		}
	}
	return errors.Join(errs...)
}

// ShareRoom reports whether two users are both joined to some room.
func (s *Service) ShareRoom(ctx context.Context, a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	return s.db.ShareRoom(ctx, a, b)
}
