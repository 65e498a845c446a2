package event

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// contentHashInput appends the bytes the content hash covers: the canonical
// event without unsigned, signatures and hashes (server-server API
// "Calculating the content hash for an event").
func contentHashInput(dst, canon []byte) []byte {
	return withoutKeys(dst, canon, "hashes", "signatures", "unsigned")
}

// referenceHashInput appends the bytes the reference hash covers: the
// redacted event without signatures and unsigned (server-server API
// "Calculating the reference hash for an event"). The same bytes are what
// a server signs: signing JSON removes signatures and unsigned from the
// redacted event (appendices "Signing JSON").
func referenceHashInput(dst []byte, rr roomversion.RedactionRules, canon []byte) []byte {
	// Redaction already drops unsigned.
	return redactCanonicalOpt(dst, rr, canon, false)
}

// ContentHash returns the sha256 content hash of the event.
func (e *Event) ContentHash() [sha256.Size]byte {
	// Stream the canonical bytes minus hashes, signatures and unsigned into
	// the hash instead of building contentHashInput.
	h := sha256.New()
	h.Write([]byte{'{'})
	first := true
	it, _ := rawjson.Object(e.canon)
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		switch string(m.Key) {
		case "hashes", "signatures", "unsigned":
			continue
		}
		if !first {
			h.Write([]byte{','})
		}
		first = false
		h.Write(e.canon[m.Start:m.End])
	}
	h.Write([]byte{'}'})
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// ReferenceHash returns the sha256 reference hash of the event.
func (e *Event) ReferenceHash() [sha256.Size]byte {
	return sha256.Sum256(referenceHashInput(nil, e.version.RedactionRules(), e.canon))
}

// ContentHash computes the content hash of a PDU given as JSON, for a room
// of the given version.
func ContentHash(version string, raw []byte) ([sha256.Size]byte, error) {
	_, canon, err := canonicalFor(version, raw, true)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(contentHashInput(nil, canon)), nil
}

// ReferenceHash computes the reference hash of a PDU given as JSON, for a
// room of the given version.
func ReferenceHash(version string, raw []byte) ([sha256.Size]byte, error) {
	v, canon, err := canonicalFor(version, raw, true)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(referenceHashInput(nil, v.RedactionRules(), canon)), nil
}

// canonicalFor canonicalizes raw under the JSON rules of version. With
// strip, the transit keys Parse removes are removed too (see
// stripTransient), so that ContentHash and ReferenceHash agree with Parse.
func canonicalFor(version string, raw []byte, strip bool) (roomversion.Version, []byte, error) {
	v, ok := roomversion.Lookup(version)
	if !ok {
		return v, nil, fmt.Errorf("%w %q", ErrUnknownVersion, version)
	}
	canon, err := jsonOptions(v, maxRawBytes).Canonicalize(raw)
	if err != nil {
		return v, nil, fmt.Errorf("event: %w", err)
	}
	if len(canon) == 0 || canon[0] != '{' {
		return v, nil, ErrNotObject
	}
	if strip {
		canon = stripTransient(v, canon)
	}
	return v, canon, nil
}

// EventIDFromReferenceHash formats a reference hash as an event ID for a
// room version whose event IDs are hashes: "$" + unpadded base64 in room
// version 3, "$" + URL-safe unpadded base64 from room version 4. It returns
// "" for room versions 1 and 2, whose event IDs are not hashes.
func EventIDFromReferenceHash(v roomversion.Version, h [sha256.Size]byte) string {
	var enc *base64.Encoding
	switch v.EventIDFormat() {
	case roomversion.EventIDBase64:
		enc = base64.RawStdEncoding
	case roomversion.EventIDURLSafeBase64:
		enc = base64.RawURLEncoding
	default:
		return ""
	}
	var buf [1 + 43]byte
	buf[0] = '$'
	enc.Encode(buf[1:], h[:])
	return string(buf[:])
}

// RoomIDFromCreateEventID returns the room ID of a room version 12 room
// whose m.room.create event has the given event ID: the event ID with the
// sigil "!" instead of "$" (MSC4291; appendices "Room IDs").
func RoomIDFromCreateEventID(createEventID string) string {
	if len(createEventID) == 0 || createEventID[0] != '$' {
		return ""
	}
	return "!" + createEventID[1:]
}

// computeIDs sets the event ID (from the reference hash, v3+) and, for a
// room version 12 create event, the room ID.
func (e *Event) computeIDs() error {
	v := e.version
	if !v.EventIDInPDU() {
		e.eventID = EventIDFromReferenceHash(v, e.ReferenceHash())
	}
	if v.RoomIDFromCreateEvent() && e.roomID == "" {
		e.roomID = RoomIDFromCreateEventID(e.eventID)
	}
	return nil
}

// EncodeHash returns h as unpadded standard base64, the encoding of
// hashes.sha256 and of the v1/v2 hashes in prev_events and auth_events.
func EncodeHash(h [sha256.Size]byte) string {
	return base64.RawStdEncoding.EncodeToString(h[:])
}
