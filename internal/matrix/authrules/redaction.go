package authrules

import "github.com/axonhs/axon/internal/matrix/roomversion"

// RedactionApplies reports whether redaction, an m.room.redaction event that
// passed the auth rules, may be applied to original, the event it redacts.
// state is the room state the redaction was authorised against (for the
// redact level).
//
// From room version 3 (MSC1659, fragment v3-handling-redactions) the auth
// rules no longer look at the redact level; a redaction is applied only if
// its sender's power level is at least the redact level, or its sender is
// on the same server as the original event's sender. In room versions 1
// and 2 the auth rules already decided (by the servers of the event IDs),
// so any authorised redaction applies. In every version the two events
// must be in the same room.
func RedactionApplies(v roomversion.Version, redaction, original Event, state StateProvider) bool {
	if !v.Valid() || redaction.RoomID() != original.RoomID() || redaction.Redacts() != original.EventID() {
		return false
	}
	if v.RedactionsInAuthRules() {
		return true
	}
	if serverOf(redaction.Sender()) != "" && serverOf(redaction.Sender()) == serverOf(original.Sender()) {
		return true
	}
	create := state(StateKey{TypeCreate, ""})
	if create == nil {
		return false
	}
	s := newRoomState(v, state, create)
	return s.userLevel(redaction.Sender()) >= s.namedLevel("redact", defaultRedact)
}
