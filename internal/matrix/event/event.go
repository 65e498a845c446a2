// Package event implements the Matrix PDU (room event) format of every room
// version: strict parsing and validation, content and reference hashes,
// event and room IDs, the redaction algorithm, building and signing new
// events, and checking the hashes and signatures of received ones.
//
// An [Event] keeps the bytes it was parsed from and their canonical JSON
// form; all hashing, redaction and signing works on the canonical bytes by
// splicing, without decoding into maps and re-encoding.
//
// Sources: server-server API "PDUs", "Signing Events" (content hash,
// reference hash, validating hashes and signatures), the room version pages
// (event format, event IDs, redactions) and the appendices (identifier
// grammar, canonical JSON).
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// Limits from the spec.
const (
	// MaxPDUBytes is the largest an event may be, as canonical JSON in the
	// federation format including signatures (client-server API "Size
	// limits").
	MaxPDUBytes = 65536
	// MaxIDBytes bounds sender, room_id and event_id (appendices: user,
	// room and event IDs MUST NOT exceed 255 bytes), and state_key and type
	// (client-server API "Size limits"). The spec measures bytes in every
	// room version; Synapse historically measured codepoints and still
	// tolerates some byte-oversized events in old rooms.
	MaxIDBytes = 255
	// MaxPrevEvents and MaxAuthEvents bound the prev_events and
	// auth_events lists (PDU schemas).
	MaxPrevEvents = 20
	MaxAuthEvents = 10
	// maxRawBytes bounds the input before canonicalization: non-canonical
	// whitespace may make a valid PDU's raw form larger than 64 KiB.
	maxRawBytes = 1 << 20
)

// Errors returned by [Parse]. Each error wraps one of these (or a
// canonicaljson sentinel when the bytes are not acceptable JSON).
var (
	ErrUnknownVersion = errors.New("event: unknown room version")
	ErrTooLarge       = errors.New("event: PDU exceeds 65536 bytes")
	ErrNotObject      = errors.New("event: PDU is not a JSON object")
	ErrMissingField   = errors.New("event: required field missing")
	ErrFieldType      = errors.New("event: field has the wrong type")
	ErrFieldTooLong   = errors.New("event: field exceeds 255 bytes")
	ErrBadField       = errors.New("event: field has an invalid value")
	ErrUnexpected     = errors.New("event: field not allowed in this room version")
)

// Reference is an entry of prev_events or auth_events: an event ID and, in
// room versions 1 and 2 only, that event's reference hash as given in the
// PDU (unpadded base64 of sha256).
type Reference struct {
	EventID string
	SHA256  string
}

// Event is a parsed, validated PDU. It is immutable.
type Event struct {
	version roomversion.Version
	raw     []byte // as received or built
	canon   []byte // canonical JSON of the PDU (event_id removed in v3+)

	eventID    string
	roomID     string
	typ        string
	stateKey   *string
	sender     string
	content    []byte // sub-slice of canon
	prevEvents []Reference
	authEvents []Reference
	depth      int64
	originTS   int64
	redacts    string
	hashSHA256 string
}

// Version returns the room version the event was parsed for.
func (e *Event) Version() roomversion.Version { return e.version }

// Raw returns the bytes the event was parsed from. Do not modify them.
func (e *Event) Raw() []byte { return e.raw }

// Canonical returns the canonical JSON of the PDU, which is what the hashes
// and signatures cover. Keys that servers add in transit (age_ts, outlier,
// destinations, and event_id from room version 3) have been removed; see
// stripTransient. Do not modify it.
func (e *Event) Canonical() []byte { return e.canon }

// EventID returns the event's ID: the event_id field in room versions 1
// and 2, the reference hash in base64 ("$…") from room version 3.
func (e *Event) EventID() string { return e.eventID }

// RoomID returns the room ID. For a room version 12 m.room.create event,
// which has no room_id, it is derived from the event ID (MSC4291).
func (e *Event) RoomID() string { return e.roomID }

// Type returns the event type.
func (e *Event) Type() string { return e.typ }

// StateKey returns the state key, or nil for a message (non-state) event.
func (e *Event) StateKey() *string { return e.stateKey }

// IsState reports whether the event has a state_key.
func (e *Event) IsState() bool { return e.stateKey != nil }

// StateKeyEquals reports whether the event is a state event with state key k.
func (e *Event) StateKeyEquals(k string) bool { return e.stateKey != nil && *e.stateKey == k }

// Sender returns the sender's user ID.
func (e *Event) Sender() string { return e.sender }

// Content returns the canonical JSON of the content object. Do not modify it.
func (e *Event) Content() json.RawMessage { return e.content }

// PrevEvents returns the IDs of the event's prev_events.
func (e *Event) PrevEvents() []string { return refIDs(e.prevEvents) }

// AuthEvents returns the IDs of the event's auth_events.
func (e *Event) AuthEvents() []string { return refIDs(e.authEvents) }

// PrevEventRefs returns prev_events with their hashes (room versions 1, 2;
// from room version 3 SHA256 is empty).
func (e *Event) PrevEventRefs() []Reference { return append([]Reference(nil), e.prevEvents...) }

// AuthEventRefs returns auth_events with their hashes (room versions 1, 2;
// from room version 3 SHA256 is empty).
func (e *Event) AuthEventRefs() []Reference { return append([]Reference(nil), e.authEvents...) }

// Depth returns the event's depth.
func (e *Event) Depth() int64 { return e.depth }

// OriginServerTS returns origin_server_ts, in milliseconds since the epoch.
func (e *Event) OriginServerTS() int64 { return e.originTS }

// Redacts returns the ID of the event an m.room.redaction redacts: the
// top-level redacts key before room version 11, content.redacts from room
// version 11 (MSC2174). It is empty for other events or when absent.
func (e *Event) Redacts() string { return e.redacts }

// ContentHashClaim returns hashes.sha256 as the event states it (unpadded
// base64), which [CheckHashAndSignatures] compares with the computed hash.
func (e *Event) ContentHashClaim() string { return e.hashSHA256 }

func refIDs(refs []Reference) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.EventID
	}
	return out
}

// jsonOptions returns the canonical JSON rules for a room version: from v6
// strict canonical JSON (MSC2540); before, large integers are tolerated
// (fragment v1-canonical-json).
func jsonOptions(v roomversion.Version, maxBytes int) canonicaljson.Options {
	if v.StrictCanonicalJSON() {
		return canonicaljson.Options{MaxBytes: maxBytes, StrictNumbers: true}
	}
	return canonicaljson.Options{MaxBytes: maxBytes, AllowLargeIntegers: true}
}

// Parse parses and validates a PDU received in a room of the given version,
// per the event format of that version. It rejects input that is not
// acceptable JSON for the room version (strict canonical JSON from v6),
// larger than 65536 bytes as canonical JSON, missing required fields,
// carrying fields of the wrong type or length, or with depth out of range.
// In room versions 1 and 2 the event ID is the PDU's event_id; from room
// version 3 it is computed (and any event_id in the PDU is discarded, as
// are the transit keys age_ts, outlier and destinations).
func Parse(version string, raw []byte) (*Event, error) {
	v, ok := roomversion.Lookup(version)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownVersion, version)
	}
	return ParseVersion(v, raw)
}

// ParseVersion is [Parse] with an already looked-up room version.
func ParseVersion(v roomversion.Version, raw []byte) (*Event, error) {
	if !v.Valid() {
		return nil, ErrUnknownVersion
	}
	canon, err := jsonOptions(v, maxRawBytes).Canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if len(canon) == 0 || canon[0] != '{' {
		return nil, ErrNotObject
	}
	if len(canon) > MaxPDUBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(canon))
	}
	canon = stripTransient(v, canon)
	e := &Event{version: v, raw: raw, canon: canon}
	if err := e.decodeFields(); err != nil {
		return nil, err
	}
	if err := e.computeIDs(); err != nil {
		return nil, err
	}
	return e, nil
}

// stripTransient removes top-level keys that servers add to events in
// transit and that must not count towards the content hash: age_ts, outlier
// and destinations (all room versions), and event_id from room version 3,
// where the event ID is not part of the event. The spec's content hash only
// excludes unsigned, signatures and hashes; Synapse
// (synapse/crypto/event_signing.py, compute_content_hash) and
// gomatrixserverlib also drop these, and so must we to agree with them on
// which events need redacting. Redaction removes all of them anyway, so
// event IDs and signatures are unaffected.
func stripTransient(v roomversion.Version, canon []byte) []byte {
	found := false
	it, _ := rawjson.Object(canon)
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		switch string(m.Key) {
		case "age_ts", "outlier", "destinations":
			found = true
		case "event_id":
			found = found || !v.EventIDInPDU()
		}
	}
	if !found {
		return canon
	}
	if v.EventIDInPDU() {
		return withoutKeys(make([]byte, 0, len(canon)), canon, "age_ts", "outlier", "destinations")
	}
	return withoutKeys(make([]byte, 0, len(canon)), canon, "age_ts", "outlier", "destinations", "event_id")
}

// decodeFields fills the typed fields from e.canon and validates them.
func (e *Event) decodeFields() error {
	v := e.version
	var have struct {
		authEvents, content, depth, eventID, hashes, originTS, prevEvents,
		roomID, sender, signatures, typ bool
	}
	var redactsTop []byte
	it, _ := rawjson.Object(e.canon)
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		var err error
		switch string(m.Key) {
		case "auth_events":
			have.authEvents = true
			e.authEvents, err = decodeRefs(v, "auth_events", m.Value, MaxAuthEvents)
		case "content":
			have.content = true
			if m.Value[0] != '{' {
				err = fieldErr(ErrFieldType, "content", "must be an object")
			}
			e.content = m.Value
		case "depth":
			have.depth = true
			e.depth, err = decodeInt("depth", m.Value)
			if err == nil && (e.depth < 0 || e.depth > v.MaxDepth()) {
				err = fieldErr(ErrBadField, "depth", "out of range")
			}
		case "event_id":
			// Only present here in room versions 1 and 2.
			have.eventID = true
			e.eventID, err = decodeID("event_id", m.Value, '$')
		case "hashes":
			have.hashes = true
			e.hashSHA256, err = decodeHashes(m.Value)
		case "origin_server_ts":
			have.originTS = true
			e.originTS, err = decodeInt("origin_server_ts", m.Value)
		case "prev_events":
			have.prevEvents = true
			e.prevEvents, err = decodeRefs(v, "prev_events", m.Value, MaxPrevEvents)
		case "redacts":
			redactsTop = m.Value
		case "room_id":
			have.roomID = true
			e.roomID, err = decodeID("room_id", m.Value, '!')
		case "sender":
			have.sender = true
			e.sender, err = decodeID("sender", m.Value, '@')
			if err == nil && !strings.Contains(e.sender, ":") {
				err = fieldErr(ErrBadField, "sender", "not a user ID")
			}
		case "signatures":
			have.signatures = true
			err = checkSignaturesShape(m.Value)
		case "state_key":
			var s string
			s, err = decodeBoundedString("state_key", m.Value)
			e.stateKey = &s
		case "type":
			have.typ = true
			e.typ, err = decodeBoundedString("type", m.Value)
		case "unsigned":
			if m.Value[0] != '{' {
				err = fieldErr(ErrFieldType, "unsigned", "must be an object")
			}
		}
		if err != nil {
			return err
		}
	}
	required := []struct {
		ok   bool
		name string
	}{
		{have.authEvents, "auth_events"}, {have.content, "content"},
		{have.depth, "depth"}, {have.hashes, "hashes"},
		{have.originTS, "origin_server_ts"}, {have.prevEvents, "prev_events"},
		{have.sender, "sender"}, {have.signatures, "signatures"},
		{have.typ, "type"},
	}
	for _, r := range required {
		if !r.ok {
			return fieldErr(ErrMissingField, r.name, "")
		}
	}
	if v.EventIDInPDU() && !have.eventID {
		return fieldErr(ErrMissingField, "event_id", "")
	}
	isCreate := e.typ == "m.room.create" && e.stateKey != nil && *e.stateKey == ""
	switch {
	case v.RoomIDFromCreateEvent() && isCreate:
		if have.roomID {
			return fieldErr(ErrUnexpected, "room_id", "m.room.create has no room_id in this room version")
		}
	case !have.roomID:
		return fieldErr(ErrMissingField, "room_id", "")
	}
	if e.typ == "m.room.redaction" {
		// Before v11 the top-level redacts key; from v11 content.redacts
		// (MSC2174). Elsewhere the key is an ordinary unknown field.
		r, field := redactsTop, "redacts"
		if v.RedactsInContent() {
			r, _ = rawjson.Lookup(e.content, "redacts")
			field = "content.redacts"
		}
		if r != nil {
			id, err := decodeID(field, r, '$')
			if err != nil {
				return err
			}
			e.redacts = id
		}
	}
	return nil
}

func fieldErr(sentinel error, field, detail string) error {
	if detail == "" {
		return fmt.Errorf("%w: %s", sentinel, field)
	}
	return fmt.Errorf("%w: %s: %s", sentinel, field, detail)
}

// decodeString decodes a canonical JSON string value.
func decodeString(field string, val []byte) (string, error) {
	if len(val) < 2 || val[0] != '"' {
		return "", fieldErr(ErrFieldType, field, "must be a string")
	}
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		return "", fieldErr(ErrFieldType, field, err.Error())
	}
	return s, nil
}

func decodeBoundedString(field string, val []byte) (string, error) {
	s, err := decodeString(field, val)
	if err != nil {
		return "", err
	}
	if len(s) > MaxIDBytes {
		return "", fieldErr(ErrFieldTooLong, field, strconv.Itoa(len(s))+" bytes")
	}
	return s, nil
}

// decodeID decodes an identifier with the given sigil, at most 255 bytes.
func decodeID(field string, val []byte, sigil byte) (string, error) {
	s, err := decodeBoundedString(field, val)
	if err != nil {
		return "", err
	}
	if len(s) < 2 || s[0] != sigil {
		return "", fieldErr(ErrBadField, field, "must start with "+string(sigil))
	}
	return s, nil
}

func decodeInt(field string, val []byte) (int64, error) {
	if len(val) == 0 || !(val[0] == '-' || val[0] >= '0' && val[0] <= '9') {
		return 0, fieldErr(ErrFieldType, field, "must be an integer")
	}
	n, err := strconv.ParseInt(string(val), 10, 64)
	if err != nil {
		return 0, fieldErr(ErrBadField, field, "integer out of range")
	}
	return n, nil
}

func decodeHashes(val []byte) (string, error) {
	if val[0] != '{' {
		return "", fieldErr(ErrFieldType, "hashes", "must be an object")
	}
	h, ok := rawjson.Lookup(val, "sha256")
	if !ok {
		return "", fieldErr(ErrMissingField, "hashes.sha256", "")
	}
	return decodeString("hashes.sha256", h)
}

// checkSignaturesShape checks signatures is {server: {key_id: string}}.
func checkSignaturesShape(val []byte) error {
	if val[0] != '{' {
		return fieldErr(ErrFieldType, "signatures", "must be an object")
	}
	it, _ := rawjson.Object(val)
	for {
		m, ok := it.Next()
		if !ok {
			return nil
		}
		if m.Value[0] != '{' {
			return fieldErr(ErrFieldType, "signatures", "per-server value must be an object")
		}
		kit, _ := rawjson.Object(m.Value)
		for {
			km, ok := kit.Next()
			if !ok {
				break
			}
			if km.Value[0] != '"' {
				return fieldErr(ErrFieldType, "signatures", "signature must be a string")
			}
		}
	}
}

// decodeRefs decodes prev_events or auth_events: [[id, {"sha256": h}], …]
// in room versions 1 and 2, [id, …] from room version 3 (MSC1659).
func decodeRefs(v roomversion.Version, field string, val []byte, limit int) ([]Reference, error) {
	if val[0] != '[' {
		return nil, fieldErr(ErrFieldType, field, "must be an array")
	}
	var refs []Reference
	it, _ := rawjson.Array(val)
	for {
		el, ok := it.Next()
		if !ok {
			break
		}
		if len(refs) == limit {
			return nil, fieldErr(ErrBadField, field, "more than "+strconv.Itoa(limit)+" entries")
		}
		if refs == nil {
			refs = make([]Reference, 0, 4)
		}
		if !v.PrevEventsHaveHashes() {
			id, err := decodeID(field, el, '$')
			if err != nil {
				return nil, err
			}
			refs = append(refs, Reference{EventID: id})
			continue
		}
		if el[0] != '[' {
			return nil, fieldErr(ErrFieldType, field, "entries must be [event_id, hashes] pairs")
		}
		pit, _ := rawjson.Array(el)
		idv, ok1 := pit.Next()
		hv, ok2 := pit.Next()
		_, ok3 := pit.Next()
		if !ok1 || !ok2 || ok3 {
			return nil, fieldErr(ErrFieldType, field, "entries must be [event_id, hashes] pairs")
		}
		id, err := decodeID(field, idv, '$')
		if err != nil {
			return nil, err
		}
		h, err := decodeHashes(hv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		refs = append(refs, Reference{EventID: id, SHA256: h})
	}
	return refs, nil
}
