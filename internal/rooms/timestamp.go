package rooms

import (
	"context"
	"fmt"
)

// timestampScan bounds how many events near the timestamp are examined
// for one the user may see.
const timestampScan = 100

// EventNearTimestamp finds the closest event to ts in the given direction
// that user may see (GET /rooms/{roomId}/timestamp_to_event).
func (s *Service) EventNearTimestamp(ctx context.Context, user, roomID string, ts int64, backwards bool) (*Event, error) {
	_, a, err := s.accessFor(ctx, user, roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.EventsNearTimestamp(ctx, roomID, ts, backwards, timestampScan)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if row.Pos > a.upTo {
			continue
		}
		ok, _, err := s.eventVisible(ctx, user, a.membership, row)
		if err != nil {
			return nil, err
		}
		if ok {
			return &Event{EventRow: row}, nil
		}
	}
	return nil, fmt.Errorf("%w: no event found", ErrNotFound)
}
