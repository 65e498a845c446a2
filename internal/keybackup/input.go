package keybackup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/axonhs/axon/internal/matrix/id"
)

// Kinds of invalid input; every *InputError wraps one of them.
var (
	ErrMissing   = errors.New("keybackup: missing field")
	ErrMalformed = errors.New("keybackup: malformed field")
	ErrInvalid   = errors.New("keybackup: invalid value")
)

// InputError is a request the service refuses before touching storage.
// Its message is meant for the client.
type InputError struct {
	kind error
	msg  string
}

func (e *InputError) Error() string { return e.msg }
func (e *InputError) Unwrap() error { return e.kind }

func inputError(kind error, format string, args ...any) error {
	return &InputError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// maxSafeInt is the largest integer canonical JSON allows (2^53 - 1).
const maxSafeInt = 1<<53 - 1

// maxIDBytes bounds session IDs as the spec bounds room IDs. A megolm
// session ID is 43 bytes.
const maxIDBytes = 255

// VersionInfo is a version's algorithm and auth_data as a client sends
// them.
type VersionInfo struct {
	// Algorithm is any string: Synapse does not check it against the
	// spec's list, and Complement creates versions of other algorithms.
	Algorithm string
	AuthData  json.RawMessage // a JSON object, compacted
	// Version is, in an update, the version the body names, if it names
	// one: it must be the version updated.
	Version *string
}

// ParseNewVersion reads the body of POST /room_keys/version.
func ParseNewVersion(body []byte) (VersionInfo, error) {
	obj, err := object(body, "the body")
	if err != nil {
		return VersionInfo{}, err
	}
	var info VersionInfo
	raw, ok := obj["algorithm"]
	if !ok {
		return VersionInfo{}, inputError(ErrMissing, "algorithm is required")
	}
	if json.Unmarshal(raw, &info.Algorithm) != nil || isNull(raw) {
		return VersionInfo{}, inputError(ErrMalformed, "algorithm must be a string")
	}
	raw, ok = obj["auth_data"]
	if !ok {
		return VersionInfo{}, inputError(ErrMissing, "auth_data is required")
	}
	if info.AuthData, err = compactObject(raw, "auth_data"); err != nil {
		return VersionInfo{}, err
	}
	return info, nil
}

// ParseVersionUpdate reads the body of PUT /room_keys/version/{version}:
// that of a new version, and optionally the version's own number.
func ParseVersionUpdate(body []byte) (VersionInfo, error) {
	info, err := ParseNewVersion(body)
	if err != nil {
		return VersionInfo{}, err
	}
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(body, &obj) // an object: ParseNewVersion checked
	if raw, ok := obj["version"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil || isNull(raw) {
			return VersionInfo{}, inputError(ErrInvalid, "Version in body does not match")
		}
		info.Version = &v
	}
	return info, nil
}

// ParseRooms reads the body of PUT /room_keys/keys:
// {"rooms": {roomID: {"sessions": {sessionID: key}}}}.
func ParseRooms(body []byte) ([]SessionKey, error) {
	obj, err := object(body, "the body")
	if err != nil {
		return nil, err
	}
	raw, ok := obj["rooms"]
	if !ok {
		return nil, inputError(ErrMissing, "rooms is required")
	}
	rooms, err := object(raw, "rooms")
	if err != nil {
		return nil, err
	}
	var out []SessionKey
	for roomID, room := range rooms {
		if out, err = appendRoom(out, roomID, room); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ParseRoom reads the body of PUT /room_keys/keys/{roomId}:
// {"sessions": {sessionID: key}}.
func ParseRoom(roomID string, body []byte) ([]SessionKey, error) {
	return appendRoom(nil, roomID, body)
}

// ParseSession reads the body of PUT /room_keys/keys/{roomId}/{sessionId}:
// one key.
func ParseSession(roomID, sessionID string, body []byte) ([]SessionKey, error) {
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	k, err := parseKey(roomID, sessionID, body)
	if err != nil {
		return nil, err
	}
	return []SessionKey{k}, nil
}

func appendRoom(out []SessionKey, roomID string, raw []byte) ([]SessionKey, error) {
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	obj, err := object(raw, "the keys of room "+roomID)
	if err != nil {
		return nil, err
	}
	rawSessions, ok := obj["sessions"]
	if !ok {
		return nil, inputError(ErrMissing, "sessions is required for room %s", roomID)
	}
	sessions, err := object(rawSessions, "the sessions of room "+roomID)
	if err != nil {
		return nil, err
	}
	for sessionID, rawKey := range sessions {
		k, err := parseKey(roomID, sessionID, rawKey)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// parseKey reads a KeyBackupData object. All four fields are required.
func parseKey(roomID, sessionID string, raw []byte) (SessionKey, error) {
	if err := checkSessionID(sessionID); err != nil {
		return SessionKey{}, err
	}
	where := "session " + sessionID + " of room " + roomID
	obj, err := object(raw, "the key of "+where)
	if err != nil {
		return SessionKey{}, err
	}
	k := SessionKey{RoomID: roomID, SessionID: sessionID}
	if k.FirstMessageIndex, err = counter(obj, "first_message_index", where); err != nil {
		return SessionKey{}, err
	}
	if k.ForwardedCount, err = counter(obj, "forwarded_count", where); err != nil {
		return SessionKey{}, err
	}
	verified, ok := obj["is_verified"]
	if !ok {
		return SessionKey{}, inputError(ErrMissing, "is_verified is required for %s", where)
	}
	// Synapse's error for a non-boolean (M_INVALID_PARAM).
	switch string(verified) {
	case "true":
		k.IsVerified = true
	case "false":
	default:
		return SessionKey{}, inputError(ErrInvalid, "is_verified must be a boolean in the key of %s", where)
	}
	data, ok := obj["session_data"]
	if !ok {
		return SessionKey{}, inputError(ErrMissing, "session_data is required for %s", where)
	}
	if k.SessionData, err = compactObject(data, "session_data of "+where); err != nil {
		return SessionKey{}, err
	}
	return k, nil
}

// counter reads a required non-negative integer field.
func counter(obj map[string]json.RawMessage, name, where string) (int64, error) {
	raw, ok := obj[name]
	if !ok {
		return 0, inputError(ErrMissing, "%s is required for %s", name, where)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 0 || n > maxSafeInt {
		return 0, inputError(ErrMalformed, "%s of %s must be a non-negative integer", name, where)
	}
	return n, nil
}

// object decodes a JSON object's members; what names it in the error.
func object(raw []byte, what string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, inputError(ErrMalformed, "%s must be an object", what)
	}
	return obj, nil
}

// compactObject checks that raw is a JSON object and removes
// insignificant whitespace. The object is opaque to the server and never
// signed by it, so canonical JSON's rules do not apply.
func compactObject(raw []byte, what string) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, inputError(ErrMalformed, "%s must be an object", what)
	}
	return buf.Bytes(), nil
}

func isNull(raw []byte) bool { return string(raw) == "null" }

func checkRoomID(roomID string) error {
	if _, err := id.ParseRoomID(roomID); err != nil {
		return inputError(ErrInvalid, "invalid room ID %q", roomID)
	}
	return nil
}

// checkSessionID accepts what both databases can store as text.
func checkSessionID(sessionID string) error {
	if sessionID == "" || len(sessionID) > maxIDBytes || !utf8.ValidString(sessionID) || strings.IndexByte(sessionID, 0) >= 0 {
		return inputError(ErrInvalid, "invalid session ID %q", sessionID)
	}
	return nil
}

func checkSession(roomID, sessionID string) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	return checkSessionID(sessionID)
}

// checkFilter checks the room and session a deletion names, if any.
func checkFilter(roomID, sessionID string) error {
	switch {
	case sessionID != "":
		return checkSession(roomID, sessionID)
	case roomID != "":
		return checkRoomID(roomID)
	}
	return nil
}
