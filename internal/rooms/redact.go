package rooms

import (
	"context"
	"fmt"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/storage"
)

// defaultRedactLevel is the redact power level when power levels do not
// set one.
const defaultRedactLevel = 50

// redactionOf decides what a local redaction does to its target, as
// Synapse does for its own users: a user with the redact power level may
// redact anything in the room; anyone else only their own events (the
// auth rules alone would accept any redaction from this server, because
// the sender's domain matches). The redacted form of the target is
// returned for storage; nil when there is nothing to change.
func (s *Service) redactionOf(ctx context.Context, r *room, red *event.Event) (*storage.Redaction, error) {
	target := red.Redacts()
	rows, err := s.storedEvents(ctx, []string{target})
	if err != nil {
		return nil, fmt.Errorf("load redaction target: %w", err)
	}
	var orig *storage.EventRow
	if len(rows) == 1 {
		orig = &rows[0]
		if orig.RoomID != r.id {
			return nil, fmt.Errorf("%w: cannot redact an event of another room", ErrBadRequest)
		}
	}
	if !r.mayRedactAny(red.Sender()) {
		if orig == nil {
			return nil, fmt.Errorf("%w: could not find event %s", ErrNotFound, target)
		}
		if orig.Sender != red.Sender() {
			return nil, fmt.Errorf("%w: you don't have permission to redact events", ErrForbidden)
		}
	}
	if orig == nil || orig.RedactedBy != "" {
		return nil, nil // unknown here, or already redacted
	}
	redacted, err := event.Redact(r.version.ID(), orig.PDU)
	if err != nil {
		return nil, fmt.Errorf("redact %s: %w", target, err)
	}
	return &storage.Redaction{EventID: target, RedactedPDU: redacted}, nil
}

// mayRedactAny reports whether user's power level reaches the room's
// redact level. r.mu must be held.
func (r *room) mayRedactAny(user string) bool {
	var pl []byte
	if ev := r.stateEvent(typePowerLevels, ""); ev != nil {
		pl = ev.Content()
	}
	level := int64(defaultRedactLevel)
	if v, ok := rawjson.Lookup(pl, "redact"); ok {
		if n, ok := authrules.ParseLevel(r.version, v); ok {
			level = n
		}
	}
	return authrules.UserLevel(r.version, pl, user) >= level
}
