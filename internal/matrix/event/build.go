package event

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// ProtoEvent is an event before it is hashed, signed and given an ID.
type ProtoEvent struct {
	Type     string
	StateKey *string // nil for a message event
	Sender   string
	// RoomID is required, except for an m.room.create event in a room
	// version whose room ID is derived from the create event (v12), where
	// it must be empty.
	RoomID string
	// Content is any JSON object; it is canonicalized. Nil means {}.
	Content json.RawMessage
	// PrevEvents and AuthEvents reference earlier events. In room versions
	// 1 and 2 each needs SHA256, the referenced event's reference hash in
	// unpadded base64; later versions ignore it.
	PrevEvents []Reference
	AuthEvents []Reference
	Depth      int64
	// Redacts is the event an m.room.redaction redacts. Before room
	// version 11 it is the top-level redacts key; from room version 11 it
	// is placed in content.redacts (it may also be given there directly).
	Redacts string
	// EventID is used only in room versions 1 and 2, where the event ID is
	// chosen by its server: "$" + opaque + ":" + origin. Empty means
	// generate one.
	EventID string
}

// Errors returned by [Build].
var (
	ErrBadProto   = errors.New("event: invalid proto event")
	ErrBadKey     = errors.New("event: invalid signing key")
	errRandFailed = errors.New("event: generating event ID")
)

// Build turns a proto event into a complete PDU for a room of the given
// version: it computes the content hash into hashes.sha256, signs the
// redacted event with privateKey as origin's keyID (server-server API
// "Adding hashes and signatures to outgoing events"), and computes the
// event ID (v3 onwards: the reference hash) and, for a v12 create event,
// the room ID. now supplies origin_server_ts.
func Build(version string, proto ProtoEvent, origin string, keyID string, privateKey ed25519.PrivateKey, now time.Time) (*Event, error) {
	v, ok := roomversion.Lookup(version)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownVersion, version)
	}
	return BuildVersion(v, proto, origin, keyID, privateKey, now)
}

// BuildVersion is [Build] with an already looked-up room version.
func BuildVersion(v roomversion.Version, proto ProtoEvent, origin string, keyID string, privateKey ed25519.PrivateKey, now time.Time) (*Event, error) {
	if !v.Valid() {
		return nil, ErrUnknownVersion
	}
	if len(privateKey) != ed25519.PrivateKeySize {
		return nil, ErrBadKey
	}
	if origin == "" || !strings.HasPrefix(keyID, "ed25519:") || !utf8.ValidString(origin) || !utf8.ValidString(keyID) {
		return nil, fmt.Errorf("%w: origin %q key ID %q", ErrBadKey, origin, keyID)
	}
	e := &Event{
		version:  v,
		typ:      proto.Type,
		stateKey: proto.StateKey,
		sender:   proto.Sender,
		roomID:   proto.RoomID,
		depth:    proto.Depth,
		originTS: now.UnixMilli(),
	}
	if err := e.checkProto(&proto); err != nil {
		return nil, err
	}
	if v.EventIDInPDU() {
		e.eventID = proto.EventID
		if e.eventID == "" {
			var rnd [12]byte
			if _, err := rand.Read(rnd[:]); err != nil {
				return nil, fmt.Errorf("%w: %v", errRandFailed, err)
			}
			e.eventID = "$" + base64.RawURLEncoding.EncodeToString(rnd[:]) + ":" + origin
		}
		if err := checkID("event_id", e.eventID, '$'); err != nil {
			return nil, err
		}
	}

	// The content is the only part not produced here: canonicalize (and
	// so validate) it. Everything else is written canonically directly.
	opts := jsonOptions(v, maxRawBytes)
	content := []byte(proto.Content)
	if len(content) == 0 {
		content = []byte("{}")
	}
	if v.RedactsInContent() && proto.Redacts != "" {
		// Splice content.redacts in; canonicalization rejects a duplicate.
		content = appendWithRedacts(nil, content, proto.Redacts)
	}
	buf := make([]byte, 0, 384+2*len(content))
	buf = append(buf, `{"auth_events":`...)
	buf = appendRefs(buf, v, e.authEvents)
	buf = append(buf, `,"content":`...)
	contentStart := len(buf)
	buf, err := opts.AppendCanonical(buf, content)
	if err != nil {
		return nil, fmt.Errorf("%w: content: %w", ErrBadProto, err)
	}
	if buf[contentStart] != '{' {
		return nil, fieldErr(ErrFieldType, "content", "must be an object")
	}
	contentEnd := len(buf)
	buf = append(buf, `,"depth":`...)
	buf = strconv.AppendInt(buf, e.depth, 10)
	if v.EventIDInPDU() {
		buf = append(buf, `,"event_id":`...)
		buf = canonicaljson.AppendString(buf, e.eventID)
	}
	hashesAt := len(buf) // "hashes" sorts here
	buf = append(buf, `,"origin_server_ts":`...)
	buf = strconv.AppendInt(buf, e.originTS, 10)
	buf = append(buf, `,"prev_events":`...)
	buf = appendRefs(buf, v, e.prevEvents)
	redactsStart := len(buf)
	if !v.RedactsInContent() && proto.Redacts != "" {
		buf = append(buf, `,"redacts":`...)
		buf = canonicaljson.AppendString(buf, proto.Redacts)
	}
	redactsEnd := len(buf)
	if e.roomID != "" {
		buf = append(buf, `,"room_id":`...)
		buf = canonicaljson.AppendString(buf, e.roomID)
	}
	buf = append(buf, `,"sender":`...)
	buf = canonicaljson.AppendString(buf, e.sender)
	signaturesAt := len(buf) // "signatures" sorts here
	if e.stateKey != nil {
		buf = append(buf, `,"state_key":`...)
		buf = canonicaljson.AppendString(buf, *e.stateKey)
	}
	buf = append(buf, `,"type":`...)
	buf = canonicaljson.AppendString(buf, e.typ)
	buf = append(buf, '}')

	// Content hash: the event has no unsigned, hashes or signatures yet,
	// so it covers exactly buf.
	ch := sha256.Sum256(buf)
	var hbuf [len(`,"hashes":{"sha256":""}`) + 43]byte
	hashes := append(hbuf[:0], `,"hashes":{"sha256":"`...)
	hashes = base64.RawStdEncoding.AppendEncode(hashes, ch[:])
	hashes = append(hashes, `"}`...)

	// The signed bytes (= reference hash input): the redacted event with
	// hashes, without signatures. Of the keys written above, redaction
	// removes only the content keys it does not keep and (v1–v10) the
	// top-level redacts.
	rr := v.RedactionRules()
	final := make([]byte, 0, 2*len(buf)+len(hashes)+128)
	toSign := append(final, buf[:contentStart]...)
	toSign = redactContent(toSign, rr, e.typ, buf[contentStart:contentEnd])
	toSign = append(toSign, buf[contentEnd:hashesAt]...)
	toSign = append(toSign, hashes...)
	toSign = append(toSign, buf[hashesAt:redactsStart]...)
	toSign = append(toSign, buf[redactsEnd:]...)
	sig := ed25519.Sign(privateKey, toSign)
	if !v.EventIDInPDU() {
		e.eventID = EventIDFromReferenceHash(v, sha256.Sum256(toSign))
	}

	// The final event: buf with hashes and signatures inserted in place,
	// written after toSign in the same allocation.
	n := len(toSign)
	final = append(toSign, buf[:hashesAt]...)
	final = append(final, hashes...)
	final = append(final, buf[hashesAt:signaturesAt]...)
	final = append(final, `,"signatures":{`...)
	final = canonicaljson.AppendString(final, origin)
	final = append(final, ":{"...)
	final = canonicaljson.AppendString(final, keyID)
	final = append(final, ':', '"')
	final = base64.RawStdEncoding.AppendEncode(final, sig)
	final = append(final, `"}}`...)
	final = append(final, buf[signaturesAt:]...)
	final = final[n:len(final):len(final)]
	if len(final) > MaxPDUBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(final))
	}

	e.raw, e.canon = final, final
	e.hashSHA256 = string(hashes[len(`,"hashes":{"sha256":"`) : len(hashes)-2])
	e.content = final[contentStart:contentEnd:contentEnd]
	if v.RedactsInContent() && e.typ == "m.room.redaction" && e.redacts == "" {
		if r, ok := rawjson.Lookup(e.content, "redacts"); ok {
			if e.redacts, err = decodeID("content.redacts", r, '$'); err != nil {
				return nil, err
			}
		}
	}
	if v.RoomIDFromCreateEvent() && e.roomID == "" {
		e.roomID = RoomIDFromCreateEventID(e.eventID)
	}
	return e, nil
}

// checkProto validates the proto event's fields as [Parse] would validate
// the PDU, and fills the references and redacts.
func (e *Event) checkProto(p *ProtoEvent) error {
	v := e.version
	if err := checkBounded("type", p.Type); err != nil {
		return err
	}
	if p.Type == "" {
		return fieldErr(ErrMissingField, "type", "")
	}
	if p.StateKey != nil {
		if err := checkBounded("state_key", *p.StateKey); err != nil {
			return err
		}
	}
	if err := checkID("sender", p.Sender, '@'); err != nil {
		return err
	}
	if !strings.Contains(p.Sender, ":") {
		return fieldErr(ErrBadField, "sender", "not a user ID")
	}
	isCreate := p.Type == "m.room.create" && p.StateKey != nil && *p.StateKey == ""
	if v.RoomIDFromCreateEvent() && isCreate {
		if p.RoomID != "" {
			return fieldErr(ErrUnexpected, "room_id", "m.room.create has no room_id in this room version")
		}
	} else if err := checkID("room_id", p.RoomID, '!'); err != nil {
		return err
	}
	if p.Depth < 0 || p.Depth > v.MaxDepth() {
		return fieldErr(ErrBadField, "depth", "out of range")
	}
	var err error
	if e.prevEvents, err = checkRefs(v, "prev_events", p.PrevEvents, MaxPrevEvents); err != nil {
		return err
	}
	if e.authEvents, err = checkRefs(v, "auth_events", p.AuthEvents, MaxAuthEvents); err != nil {
		return err
	}
	if p.Redacts != "" {
		if p.Type != "m.room.redaction" {
			return fieldErr(ErrUnexpected, "redacts", "only m.room.redaction redacts")
		}
		if err := checkID("redacts", p.Redacts, '$'); err != nil {
			return err
		}
		e.redacts = p.Redacts
	}
	return nil
}

func checkBounded(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s: %w", ErrBadField, field, canonicaljson.ErrInvalidUTF8)
	}
	if len(s) > MaxIDBytes {
		return fieldErr(ErrFieldTooLong, field, strconv.Itoa(len(s))+" bytes")
	}
	return nil
}

func checkID(field, s string, sigil byte) error {
	if err := checkBounded(field, s); err != nil {
		return err
	}
	if len(s) < 2 || s[0] != sigil {
		return fieldErr(ErrBadField, field, "must start with "+string(sigil))
	}
	return nil
}

func checkRefs(v roomversion.Version, field string, refs []Reference, limit int) ([]Reference, error) {
	if len(refs) > limit {
		return nil, fieldErr(ErrBadField, field, "more than "+strconv.Itoa(limit)+" entries")
	}
	for _, r := range refs {
		if err := checkID(field, r.EventID, '$'); err != nil {
			return nil, err
		}
		if v.PrevEventsHaveHashes() && r.SHA256 == "" {
			return nil, fieldErr(ErrMissingField, field+" hash", "room versions 1 and 2 reference events with their hashes")
		}
	}
	out := make([]Reference, len(refs))
	copy(out, refs)
	if !v.PrevEventsHaveHashes() {
		for i := range out {
			out[i].SHA256 = ""
		}
	}
	return out, nil
}

// appendWithRedacts appends content (a JSON object, possibly not canonical)
// with a "redacts" member added at its start.
func appendWithRedacts(buf, content []byte, redacts string) []byte {
	i := 0
	for i < len(content) && content[i] != '{' {
		i++
	}
	if i == len(content) {
		return append(buf, content...) // not an object: canonicalization or validation reports it
	}
	buf = append(buf, `{"redacts":`...)
	buf = canonicaljson.AppendString(buf, redacts)
	rest := content[i+1:]
	j := 0
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
		j++
	}
	if j < len(rest) && rest[j] != '}' {
		buf = append(buf, ',')
	}
	return append(buf, rest...)
}

func appendRefs(buf []byte, v roomversion.Version, refs []Reference) []byte {
	buf = append(buf, '[')
	for i, r := range refs {
		if i > 0 {
			buf = append(buf, ',')
		}
		if v.PrevEventsHaveHashes() {
			buf = append(buf, '[')
			buf = canonicaljson.AppendString(buf, r.EventID)
			buf = append(buf, `,{"sha256":`...)
			buf = canonicaljson.AppendString(buf, r.SHA256)
			buf = append(buf, `}]`...)
		} else {
			buf = canonicaljson.AppendString(buf, r.EventID)
		}
	}
	return append(buf, ']')
}
