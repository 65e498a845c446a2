package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/storage"
)

// ErrBadAlias: an m.room.canonical_alias names an alias that does not
// point to the room.
var ErrBadAlias = errors.New("rooms: alias does not point to this room")

// ErrInvalidParam: a request parameter has an invalid value.
var ErrInvalidParam = errors.New("rooms: invalid parameter")

type canonicalAliasContent struct {
	Alias      *string  `json:"alias"`
	AltAliases []string `json:"alt_aliases"`
}

// checkCanonicalAlias validates a client's m.room.canonical_alias as
// Synapse does: every alias must be valid and point to the room. Aliases
// on other servers cannot be checked without federation, so they are
// refused for now.
func (s *Service) checkCanonicalAlias(ctx context.Context, roomID string, content json.RawMessage) error {
	var c canonicalAliasContent
	if err := json.Unmarshal(content, &c); err != nil {
		return fmt.Errorf("%w: invalid m.room.canonical_alias content", ErrBadRequest)
	}
	aliases := slices.Clone(c.AltAliases)
	if c.Alias != nil {
		aliases = append(aliases, *c.Alias)
	}
	for _, a := range aliases {
		alias, err := id.ParseRoomAlias(a)
		if err != nil {
			return fmt.Errorf("%w: invalid alias %q", ErrInvalidParam, a)
		}
		if alias.Server() != id.ServerName(s.signer.ServerName) {
			return fmt.Errorf("%w: %s is on another server", ErrBadAlias, a)
		}
		entry, err := s.db.AliasRoom(ctx, a)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && entry.RoomID != roomID) {
			return fmt.Errorf("%w: %s", ErrBadAlias, a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dropFromCanonicalAlias sends a new m.room.canonical_alias without alias
// after it was deleted, as Synapse does; a user who may not change the
// canonical alias leaves it as it is.
func (s *Service) dropFromCanonicalAlias(ctx context.Context, user, roomID, alias string) error {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	cur := r.stateEvent(typeCanonicalAlias, "")
	r.mu.Unlock()
	if cur == nil {
		return nil
	}
	var content map[string]json.RawMessage
	if err := json.Unmarshal(cur.Content(), &content); err != nil {
		return nil // not ours to repair
	}
	var c canonicalAliasContent
	_ = json.Unmarshal(cur.Content(), &c)
	changed := false
	if c.Alias != nil && *c.Alias == alias {
		delete(content, "alias")
		changed = true
	}
	if i := slices.Index(c.AltAliases, alias); i >= 0 {
		alts := slices.Delete(slices.Clone(c.AltAliases), i, i+1)
		if len(alts) == 0 {
			delete(content, "alt_aliases")
		} else {
			content["alt_aliases"] = mustJSON(alts)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	raw, err := jsonContent(content)
	if err != nil {
		return err
	}
	empty := ""
	_, err = s.submit(ctx, roomID, Proto{Type: typeCanonicalAlias, StateKey: &empty, Sender: user, Content: raw}, nil)
	if errors.Is(err, ErrForbidden) {
		return nil
	}
	return err
}
