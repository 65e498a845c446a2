package event

import (
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// redactCanonical appends to dst the redacted form of the canonical event
// JSON canon, following the redaction algorithm of the room version whose
// rules are rr (client-server API "Redactions"; fragments v1-redactions,
// v6-redactions, v9-redactions, v11-redactions and room version 8).
//
// The result is canonical. It always has a content object ({} when the
// event had none or its content was not an object), and never an unsigned
// object: the spec strips every key not listed, and unsigned is not listed.
func redactCanonical(dst []byte, rr roomversion.RedactionRules, canon []byte) []byte {
	return redactCanonicalOpt(dst, rr, canon, true)
}

// redactCanonicalOpt is redactCanonical that drops signatures unless
// keepSignatures: the redacted event without signatures is the reference
// hash input and the signed bytes.
func redactCanonicalOpt(dst []byte, rr roomversion.RedactionRules, canon []byte, keepSignatures bool) []byte {
	// Known type names contain nothing canonical JSON escapes, so the raw
	// text between the quotes compares equal exactly when the type does.
	var typ string
	if t, ok := rawjson.Lookup(canon, "type"); ok && len(t) >= 2 && t[0] == '"' {
		typ = string(t[1 : len(t)-1])
	}
	w := beginObj(dst)
	wroteContent := false
	it, _ := rawjson.Object(canon)
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		k := string(m.Key)
		if !wroteContent && k > "content" {
			w.raw("content", []byte("{}"))
			wroteContent = true
		}
		if k == "content" {
			w.sep()
			w.buf = append(w.buf, `"content":`...)
			w.buf = redactContent(w.buf, rr, typ, m.Value)
			wroteContent = true
			continue
		}
		if keepTopLevel(rr, k) && (keepSignatures || k != "signatures") {
			w.rawKey(m.Key, m.Value)
		}
	}
	if !wroteContent {
		w.raw("content", []byte("{}"))
	}
	return w.end()
}

// keepTopLevel reports whether the top-level key survives redaction.
func keepTopLevel(rr roomversion.RedactionRules, k string) bool {
	switch k {
	case "event_id", "type", "room_id", "sender", "state_key", "hashes",
		"signatures", "depth", "prev_events", "auth_events", "origin_server_ts":
		return true
	case "origin", "membership", "prev_state":
		return rr.KeepOriginMembershipPrevState
	}
	return false
}

// redactContent appends the redacted content object of an event of type
// typ.
func redactContent(dst []byte, rr roomversion.RedactionRules, typ string, content []byte) []byte {
	if len(content) == 0 || content[0] != '{' {
		return append(dst, "{}"...)
	}
	t := typ
	if t == "m.room.create" && rr.CreateKeepsAllContent {
		return append(dst, content...)
	}
	w := beginObj(dst)
	it, _ := rawjson.Object(content)
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		k := string(m.Key)
		switch t {
		case "m.room.member":
			switch {
			case k == "membership",
				k == "join_authorised_via_users_server" && rr.MemberKeepsJoinAuthorisedViaUsersServer:
				w.rawKey(m.Key, m.Value)
			case k == "third_party_invite" && rr.MemberKeepsThirdPartyInviteSigned:
				// Only the signed key is kept. Like Synapse, an object
				// without signed is kept as an empty object; a
				// non-object is dropped.
				if len(m.Value) > 0 && m.Value[0] == '{' {
					w.sep()
					w.buf = append(w.buf, `"third_party_invite":`...)
					tw := beginObj(w.buf)
					if signed, ok := rawjson.Lookup(m.Value, "signed"); ok {
						tw.raw("signed", signed)
					}
					w.buf = tw.end()
				}
			}
		case "m.room.create":
			if k == "creator" {
				w.rawKey(m.Key, m.Value)
			}
		case "m.room.join_rules":
			if k == "join_rule" || k == "allow" && rr.JoinRulesKeepsAllow {
				w.rawKey(m.Key, m.Value)
			}
		case "m.room.power_levels":
			switch k {
			case "ban", "events", "events_default", "kick", "redact",
				"state_default", "users", "users_default":
				w.rawKey(m.Key, m.Value)
			case "invite":
				if rr.PowerLevelsKeepsInvite {
					w.rawKey(m.Key, m.Value)
				}
			}
		case "m.room.history_visibility":
			if k == "history_visibility" {
				w.rawKey(m.Key, m.Value)
			}
		case "m.room.aliases":
			if k == "aliases" && rr.AliasesKeepsAliases {
				w.rawKey(m.Key, m.Value)
			}
		case "m.room.redaction":
			if k == "redacts" && rr.RedactionKeepsRedacts {
				w.rawKey(m.Key, m.Value)
			}
		}
	}
	return w.end()
}

// Redact returns the redacted form of the event JSON raw for a room of the
// given version, as canonical JSON. It keeps exactly the top-level keys and
// content keys the version's redaction algorithm lists (see
// [roomversion.RedactionRules]) and drops unsigned.
func Redact(version string, raw []byte) ([]byte, error) {
	v, canon, err := canonicalFor(version, raw, false)
	if err != nil {
		return nil, err
	}
	return redactCanonical(make([]byte, 0, len(canon)), v.RedactionRules(), canon), nil
}

// Redacted returns the event with the redaction algorithm of its room
// version applied. The event ID and room ID are unchanged (redaction keeps
// everything they are computed from).
func (e *Event) Redacted() *Event {
	red := redactCanonical(make([]byte, 0, len(e.canon)), e.version.RedactionRules(), e.canon)
	r := &Event{version: e.version, raw: red, canon: red}
	if err := r.decodeFields(); err != nil {
		// Redaction keeps every field that validation requires, and a
		// redacted content object is always valid.
		panic("event: redacted event does not validate: " + err.Error())
	}
	r.eventID, r.roomID = e.eventID, e.roomID
	return r
}
