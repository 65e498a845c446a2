package rooms

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/axonhs/axon/internal/matrix/rawjson"
)

// Send sends a message or state event as a local user and returns its ID.
// With a transaction ID, a retry returns the first send's event. The auth
// rules decide what is allowed, including a second m.room.create (never).
func (s *Service) Send(ctx context.Context, roomID string, p Proto, txn *Txn) (string, error) {
	switch {
	case p.Type == typeCreate:
		// Synapse refuses this as a bad request rather than leaving it to
		// the auth rules.
		return "", fmt.Errorf("%w: a room has exactly one m.room.create event", ErrBadRequest)
	case p.Type == typeMember && p.StateKey != nil:
		// Membership through the state endpoint takes the membership path,
		// as in Synapse (profile, restricted joins, guest checks).
		return s.memberViaState(ctx, roomID, p)
	case p.Type == typeCanonicalAlias && p.StateKey != nil && *p.StateKey == "":
		if err := s.checkCanonicalAlias(ctx, roomID, p.Content); err != nil {
			return "", err
		}
	}
	id, err := s.submit(ctx, roomID, p, txn)
	if err == nil && p.Type == typeGuestAccess && p.StateKey != nil && *p.StateKey == "" {
		if access, _ := rawjson.LookupString(p.Content, "guest_access"); access != "can_join" {
			s.kickGuests(ctx, roomID)
		}
	}
	return id, err
}

// Redact redacts eventID on behalf of sender. event.Build places the
// target where the room version wants it (top level, or content.redacts
// from version 11).
func (s *Service) Redact(ctx context.Context, roomID, sender, eventID, reason string, txn *Txn) (string, error) {
	content := map[string]json.RawMessage{}
	if reason != "" {
		content["reason"] = mustJSON(reason)
	}
	raw, err := jsonContent(content)
	if err != nil {
		return "", err
	}
	return s.submit(ctx, roomID, Proto{Type: typeRedaction, Sender: sender, Content: raw, Redacts: eventID}, txn)
}

// memberViaState turns PUT /state/m.room.member/{userId} into a
// membership change; the content's other keys (a per-room display name,
// say) are kept.
func (s *Service) memberViaState(ctx context.Context, roomID string, p Proto) (string, error) {
	var content map[string]json.RawMessage
	if err := json.Unmarshal(p.Content, &content); err != nil {
		return "", fmt.Errorf("%w: member content must be an object", ErrBadRequest)
	}
	var membership string
	if err := json.Unmarshal(content["membership"], &membership); err != nil || membership == "" {
		return "", fmt.Errorf("%w: m.room.member content needs a membership string", ErrBadRequest)
	}
	delete(content, "membership")
	return s.ChangeMembership(ctx, MembershipChange{
		Sender: p.Sender, RoomID: roomID, Target: *p.StateKey, Membership: membership, Extra: content, Guest: p.Guest,
	})
}
