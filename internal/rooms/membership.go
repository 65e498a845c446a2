package rooms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/storage"
)

// Profiles reads the display name and avatar that member events carry.
type Profiles interface {
	Get(ctx context.Context, userID string) (map[string][]byte, error)
}

// MembershipChange is a join, leave, invite, kick, ban, unban or knock.
type MembershipChange struct {
	Sender     string
	RoomID     string
	Target     string // the user whose membership changes
	Membership string // join, leave, invite, ban or knock
	Reason     string
	IsDirect   bool // invites: content.is_direct
	// Extra are further content keys the client sent (a join's request
	// body, as Synapse passes it on); they cannot change the membership.
	Extra map[string]json.RawMessage // Guest: the sender is a guest account (joins need guest access).
	Guest bool
}

// Memberships a client may ask for.
const (
	MembershipJoin   = membershipJoin
	MembershipLeave  = membershipLeave
	MembershipInvite = membershipInvite
	MembershipBan    = membershipBan
	MembershipKnock  = membershipKnock
)

// ChangeMembership sends the member event for c and returns its ID. A
// change to the membership the target already has, with the same content,
// sends nothing and returns the existing event, as Synapse does.
func (s *Service) ChangeMembership(ctx context.Context, c MembershipChange) (string, error) {
	target, err := id.ParseUserID(c.Target)
	if err != nil {
		return "", fmt.Errorf("%w: invalid user ID %q", ErrBadRequest, c.Target)
	}
	if target.Server() != id.ServerName(s.signer.ServerName) && c.Membership != membershipBan && c.Membership != membershipLeave {
		return "", fmt.Errorf("%w: users on other servers cannot be reached until federation is supported", ErrForbidden)
	}
	content, err := jsonContent(s.changeContent(ctx, c))
	if err != nil {
		return "", err
	}
	r, err := s.room(ctx, c.RoomID)
	if err != nil {
		return "", err
	}
	if c.Membership == membershipJoin && c.Sender == c.Target {
		authoriser, err := s.joinAuthoriser(ctx, r, c.Target)
		if err != nil {
			return "", err
		}
		if authoriser != "" {
			if content, err = withAuthoriser(content, authoriser); err != nil {
				return "", err
			}
		}
	}
	r.mu.Lock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		r.mu.Unlock()
		return "", fmt.Errorf("load room: %w", err)
	}
	if err := r.checkGuestJoin(c); err != nil {
		r.mu.Unlock()
		return "", err
	}
	if c.Membership == membershipLeave {
		// Leaving, kicking or unbanning someone who is not in the room is
		// refused, as Synapse does (the auth rules would allow a kick of a
		// departed user).
		switch r.membership(c.Target) {
		case membershipJoin, membershipInvite, membershipKnock, membershipBan:
		default:
			r.mu.Unlock()
			return "", fmt.Errorf("%w: the target user is not in the room", ErrForbidden)
		}
	}
	if cur := r.stateEvent(typeMember, c.Target); cur != nil && bytes.Equal(cur.Content(), content) {
		r.mu.Unlock()
		return cur.EventID(), nil
	}
	stateKey := c.Target
	ev, w, err := s.buildLocked(ctx, r, Proto{Type: typeMember, StateKey: &stateKey, Sender: c.Sender, Content: content}, nil)
	if err == nil {
		s.queueLocked(r, w, nil)
	}
	r.mu.Unlock()
	if err != nil {
		return "", err
	}
	return ev.EventID(), s.await(r, w, nil)
}

// changeContent is the member event content for c: the user's own profile
// on a join or knock, the invitee's on an invite.
func (s *Service) changeContent(ctx context.Context, c MembershipChange) map[string]json.RawMessage {
	content := map[string]json.RawMessage{"membership": mustJSON(c.Membership)}
	switch c.Membership {
	case membershipJoin, membershipInvite, membershipKnock:
		content = s.memberContent(ctx, c.Target, c.Membership, c.IsDirect)
	}
	for k, v := range c.Extra {
		if k != "membership" {
			content[k] = v
		}
	}
	if c.Reason != "" {
		content["reason"] = mustJSON(c.Reason)
	}
	return content
}

// memberContent is a member event content carrying user's display name
// and avatar.
func (s *Service) memberContent(ctx context.Context, user, membership string, isDirect bool) map[string]json.RawMessage {
	content := map[string]json.RawMessage{"membership": mustJSON(membership)}
	if isDirect {
		content["is_direct"] = mustJSON(true)
	}
	if s.profiles == nil {
		return content
	}
	fields, err := s.profiles.Get(ctx, user)
	if err != nil {
		// A member event without a display name is still a valid event.
		s.log.Warn("read profile for member event", "user", user, "err", err)
		return content
	}
	for _, key := range []string{"displayname", "avatar_url"} {
		if v, ok := fields[key]; ok {
			if _, err := canonicaljson.Canonicalize(v); err == nil {
				content[key] = v
			}
		}
	}
	return content
}

// ResolveAlias returns the room a local alias points to.
func (s *Service) ResolveAlias(ctx context.Context, alias string) (string, error) {
	a, err := s.db.AliasRoom(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("%w: room alias %s", ErrNotFound, alias)
	}
	if err != nil {
		return "", err
	}
	return a.RoomID, nil
}

// aliasError classifies a storage error from creating an alias.
func aliasError(err error) error {
	if errors.Is(err, storage.ErrAliasExists) {
		return ErrAliasInUse
	}
	return err
}
