// Package roomversion is the registry of Matrix room versions and of the
// behaviour each one prescribes.
//
// Every difference between room versions is a method on [Version] named for
// the behaviour, documented with the spec change or MSC that introduced it.
// Callers ask rv.RestrictedJoins(), never "version >= 8", so that auth rules,
// redaction and event-format code read like the spec, and adding a room
// version is one edit to the table in this file.
//
// Source of truth: the room version pages of the Matrix specification
// (spec/content/rooms/v1.md … v12.md and their fragments).
package roomversion

import (
	"slices"
	"strconv"
)

// Default is the room version this server uses for new rooms unless the
// operator configures another. The spec (rooms/_index.md) recommends
// version 12 as the default; Axon starts conservatively on 11 and callers
// may pass any other known version to [Capabilities].
const Default = "11"

// EventIDFormat says how a room version names its events.
type EventIDFormat int

const (
	// EventIDServerGenerated is "$opaque_id:domain", chosen by the server
	// that created the event and carried in the PDU's event_id field
	// (room versions 1 and 2).
	EventIDServerGenerated EventIDFormat = iota + 1
	// EventIDBase64 is "$" + the reference hash in standard unpadded
	// base64; the PDU carries no event_id (room version 3).
	EventIDBase64
	// EventIDURLSafeBase64 is "$" + the reference hash in URL-safe unpadded
	// base64 (room version 4 onwards).
	EventIDURLSafeBase64
)

func (f EventIDFormat) String() string {
	switch f {
	case EventIDServerGenerated:
		return "server-generated"
	case EventIDBase64:
		return "base64-reference-hash"
	case EventIDURLSafeBase64:
		return "urlsafe-base64-reference-hash"
	}
	return "unknown"
}

// StateResAlgorithm names a state resolution algorithm.
type StateResAlgorithm int

const (
	// StateResV1 is the original algorithm of room version 1.
	StateResV1 StateResAlgorithm = iota + 1
	// StateResV2 is the algorithm introduced by room version 2 (MSC1442).
	StateResV2
	// StateResV2_1 is state resolution v2 as amended by room version 12
	// (MSC4297): iterative auth checks start from an empty state map and
	// the full conflicted set includes the conflicted state subgraph.
	StateResV2_1
)

func (a StateResAlgorithm) String() string {
	switch a {
	case StateResV1:
		return "v1"
	case StateResV2:
		return "v2"
	case StateResV2_1:
		return "v2.1"
	}
	return "unknown"
}

// RedactionRules is what the redaction algorithm of a room version keeps.
// Every field is one change to the algorithm; the zero value is the
// algorithm of room version 1, except that aliases must be set explicitly
// (see [Version.RedactionRules]).
type RedactionRules struct {
	// KeepOriginMembershipPrevState: the top-level keys origin, membership
	// and prev_state survive redaction (room versions 1–10; removed by
	// room version 11: membership and prev_state by MSC2176, origin by
	// MSC3989).
	KeepOriginMembershipPrevState bool
	// AliasesKeepsAliases: m.room.aliases keeps content.aliases (room
	// versions 1–5; removed by room version 6, MSC2432).
	AliasesKeepsAliases bool
	// JoinRulesKeepsAllow: m.room.join_rules keeps content.allow (room
	// version 8 onwards, MSC3083).
	JoinRulesKeepsAllow bool
	// MemberKeepsJoinAuthorisedViaUsersServer: m.room.member keeps
	// content.join_authorised_via_users_server (room version 9 onwards,
	// MSC3375).
	MemberKeepsJoinAuthorisedViaUsersServer bool
	// MemberKeepsThirdPartyInviteSigned: m.room.member keeps
	// content.third_party_invite.signed (room version 11 onwards, MSC3821).
	MemberKeepsThirdPartyInviteSigned bool
	// CreateKeepsAllContent: m.room.create keeps its whole content; before
	// that only content.creator (room version 11 onwards, MSC2176).
	CreateKeepsAllContent bool
	// PowerLevelsKeepsInvite: m.room.power_levels keeps content.invite
	// (room version 11 onwards, MSC2176).
	PowerLevelsKeepsInvite bool
	// RedactionKeepsRedacts: m.room.redaction keeps content.redacts (room
	// version 11 onwards, MSC2174/MSC2176).
	RedactionKeepsRedacts bool
}

// TopLevelKeys returns the top-level event keys the redaction algorithm
// keeps, in canonical (sorted) order.
func (r RedactionRules) TopLevelKeys() []string {
	keys := []string{
		"auth_events", "content", "depth", "event_id", "hashes",
		"origin_server_ts", "prev_events", "room_id", "sender",
		"signatures", "state_key", "type",
	}
	if r.KeepOriginMembershipPrevState {
		keys = append(keys, "membership", "origin", "prev_state")
	}
	slices.Sort(keys)
	return keys
}

// ContentKeys returns the content keys the redaction algorithm keeps for an
// event of type eventType, in sorted order; all is true when the whole
// content is kept. Nested keeps (m.room.member's
// third_party_invite.signed) are reported as "third_party_invite.signed".
func (r RedactionRules) ContentKeys(eventType string) (keys []string, all bool) {
	switch eventType {
	case "m.room.member":
		keys = []string{"membership"}
		if r.MemberKeepsJoinAuthorisedViaUsersServer {
			keys = append(keys, "join_authorised_via_users_server")
		}
		if r.MemberKeepsThirdPartyInviteSigned {
			keys = append(keys, "third_party_invite.signed")
		}
	case "m.room.create":
		if r.CreateKeepsAllContent {
			return nil, true
		}
		keys = []string{"creator"}
	case "m.room.join_rules":
		keys = []string{"join_rule"}
		if r.JoinRulesKeepsAllow {
			keys = append(keys, "allow")
		}
	case "m.room.power_levels":
		keys = []string{"ban", "events", "events_default", "kick", "redact",
			"state_default", "users", "users_default"}
		if r.PowerLevelsKeepsInvite {
			keys = append(keys, "invite")
		}
	case "m.room.history_visibility":
		keys = []string{"history_visibility"}
	case "m.room.aliases":
		if r.AliasesKeepsAliases {
			keys = []string{"aliases"}
		}
	case "m.room.redaction":
		if r.RedactionKeepsRedacts {
			keys = []string{"redacts"}
		}
	}
	slices.Sort(keys)
	return keys, false
}

// Version is one room version. The zero Version is not a valid room version;
// obtain one from [Lookup] or [MustLookup].
type Version struct {
	id string
	r  *rules
}

type rules struct {
	stable                 bool
	eventIDFormat          EventIDFormat
	stateRes               StateResAlgorithm
	enforceKeyValidity     bool
	specialCaseAliasesAuth bool
	redactionsInAuthRules  bool
	strictCanonicalJSON    bool
	notificationsPL        bool
	knocking               bool
	restrictedJoins        bool
	knockRestricted        bool
	integerOnlyPL          bool
	creatorInSender        bool
	redactsInContent       bool
	roomIDFromCreate       bool
	privilegedCreators     bool
	redaction              RedactionRules
}

// ID returns the room version identifier, e.g. "11".
func (v Version) ID() string { return v.id }

// String returns the room version identifier.
func (v Version) String() string { return v.id }

// Valid reports whether v is a known room version (not the zero Version).
func (v Version) Valid() bool { return v.r != nil }

// Stable reports whether the spec lists this room version as stable
// (rooms/_index.md: versions 1–12 are all stable).
func (v Version) Stable() bool { return v.r.stable }

// EventIDFormat is how events in this room version are identified:
// server-generated "$id:domain" carried in the PDU (v1, v2); the reference
// hash in unpadded base64 (v3, MSC1659); the reference hash in URL-safe
// unpadded base64 (v4 onwards, MSC1884).
func (v Version) EventIDFormat() EventIDFormat { return v.r.eventIDFormat }

// EventIDInPDU reports whether PDUs carry their own event_id field (v1, v2).
// From room version 3 (MSC1659) the receiver computes the event ID.
func (v Version) EventIDInPDU() bool { return v.r.eventIDFormat == EventIDServerGenerated }

// PrevEventsHaveHashes reports whether prev_events and auth_events are lists
// of [event_id, {"sha256": …}] pairs (v1, v2) rather than plain event IDs
// (v3 onwards, MSC1659).
func (v Version) PrevEventsHaveHashes() bool {
	return v.r.eventIDFormat == EventIDServerGenerated
}

// SignedByEventIDDomain reports whether an event must also carry a
// signature from the server named in its event ID when that differs from
// the sender's server (v1, v2; server-server "Validating hashes and
// signatures on received events").
func (v Version) SignedByEventIDDomain() bool {
	return v.r.eventIDFormat == EventIDServerGenerated
}

// StateResAlgorithm is the state resolution algorithm of the room version:
// v1 (room v1), v2 (room v2–v11, MSC1442), v2.1 (room v12, MSC4297).
func (v Version) StateResAlgorithm() StateResAlgorithm { return v.r.stateRes }

// EnforceKeyValidity reports whether a signing key's valid_until_ts must be
// at least the event's origin_server_ts for its signature to count (v5
// onwards, MSC2076; fragment v5-signing-requirements).
func (v Version) EnforceKeyValidity() bool { return v.r.enforceKeyValidity }

// SpecialCaseAliasesAuth reports whether the auth rules carry the special
// rule for m.room.aliases events (the state_key must be the sender's
// domain) (v1–v5; removed by v6, MSC2432).
func (v Version) SpecialCaseAliasesAuth() bool { return v.r.specialCaseAliasesAuth }

// RedactionsInAuthRules reports whether m.room.redaction events are checked
// by the auth rules against the redact level and the redacted event's
// domain (v1, v2). From v3 (MSC1659) this moved to "handling redactions".
func (v Version) RedactionsInAuthRules() bool { return v.r.redactionsInAuthRules }

// StrictCanonicalJSON reports whether events must be strictly canonical JSON
// — integers only, within ±(2^53−1) — and are dropped otherwise (v6
// onwards, MSC2540; fragment v6-canonical-json). Versions 1–5 must accept
// non-compliant JSON where possible.
func (v Version) StrictCanonicalJSON() bool { return v.r.strictCanonicalJSON }

// MaxDepth is the largest value the depth field may take: 2^63−1 for v1–v5,
// 2^53−1 from v6 (canonical JSON range, MSC2540; depth_v6).
func (v Version) MaxDepth() int64 {
	if v.r.strictCanonicalJSON {
		return 1<<53 - 1
	}
	return 1<<63 - 1
}

// NotificationsPowerLevels reports whether the power level auth rules also
// check the notifications property (v6 onwards, MSC2209).
func (v Version) NotificationsPowerLevels() bool { return v.r.notificationsPL }

// Knocking reports whether the knock membership and join rule exist (v7
// onwards, MSC2403).
func (v Version) Knocking() bool { return v.r.knocking }

// RestrictedJoins reports whether the restricted join rule and
// join_authorised_via_users_server exist (v8 onwards, MSC3083).
func (v Version) RestrictedJoins() bool { return v.r.restrictedJoins }

// KnockRestricted reports whether the knock_restricted join rule exists (v10
// onwards, MSC3787).
func (v Version) KnockRestricted() bool { return v.r.knockRestricted }

// IntegerOnlyPowerLevels reports whether power level values must be JSON
// integers, not strings containing integers (v10 onwards, MSC3667).
func (v Version) IntegerOnlyPowerLevels() bool { return v.r.integerOnlyPL }

// CreatorInSender reports whether the room creator is the create event's
// sender and m.room.create has no content.creator field (v11 onwards,
// MSC2175). Before v11 content.creator is required and names the creator.
func (v Version) CreatorInSender() bool { return v.r.creatorInSender }

// NoCreatorField is the same as [Version.CreatorInSender], phrased for code
// that builds or validates m.room.create content (v11 onwards, MSC2175).
func (v Version) NoCreatorField() bool { return v.r.creatorInSender }

// RedactsInContent reports whether m.room.redaction carries the redacted
// event's ID in content.redacts instead of a top-level redacts key (v11
// onwards, MSC2174).
func (v Version) RedactsInContent() bool { return v.r.redactsInContent }

// RoomIDFromCreateEvent reports whether the room ID is "!" plus the
// URL-safe unpadded base64 reference hash of the m.room.create event, which
// itself has no room_id and is never listed in auth_events (v12, MSC4291).
func (v Version) RoomIDFromCreateEvent() bool { return v.r.roomIDFromCreate }

// CreateEventInAuthEvents reports whether events must list the
// m.room.create event in their auth_events (v1–v11). In v12 (MSC4291) the
// room ID implies it and it must not be listed.
func (v Version) CreateEventInAuthEvents() bool { return !v.r.roomIDFromCreate }

// PrivilegedCreators reports whether the room creators (the create event's
// sender plus content.additional_creators) have infinite power level and
// may not appear in m.room.power_levels users (v12, MSC4289).
func (v Version) PrivilegedCreators() bool { return v.r.privilegedCreators }

// RedactionRules returns what the redaction algorithm of this version keeps.
// Fragments: v1-redactions (v1–v5), v6-redactions (v6, v7; MSC2432 drops
// m.room.aliases), v8 (join_rules allow, MSC3083), v9-redactions (member
// join_authorised_via_users_server, MSC3375), v11-redactions (MSC2176,
// MSC3821, MSC2174; v11, v12).
func (v Version) RedactionRules() RedactionRules { return v.r.redaction }

var table = func() map[string]*rules {
	m := make(map[string]*rules, 12)
	base := rules{
		stable:                 true,
		eventIDFormat:          EventIDServerGenerated,
		stateRes:               StateResV1,
		specialCaseAliasesAuth: true,
		redactionsInAuthRules:  true,
		redaction: RedactionRules{
			KeepOriginMembershipPrevState: true,
			AliasesKeepsAliases:           true,
		},
	}
	add := func(id string, change func(r *rules)) {
		r := base // each version builds on the previous one
		change(&r)
		m[id] = &r
		base = r
	}
	add("1", func(r *rules) {})
	add("2", func(r *rules) { r.stateRes = StateResV2 })
	add("3", func(r *rules) {
		r.eventIDFormat = EventIDBase64
		r.redactionsInAuthRules = false
	})
	add("4", func(r *rules) { r.eventIDFormat = EventIDURLSafeBase64 })
	add("5", func(r *rules) { r.enforceKeyValidity = true })
	add("6", func(r *rules) {
		r.specialCaseAliasesAuth = false
		r.strictCanonicalJSON = true
		r.notificationsPL = true
		r.redaction.AliasesKeepsAliases = false
	})
	add("7", func(r *rules) { r.knocking = true })
	add("8", func(r *rules) {
		r.restrictedJoins = true
		r.redaction.JoinRulesKeepsAllow = true
	})
	add("9", func(r *rules) { r.redaction.MemberKeepsJoinAuthorisedViaUsersServer = true })
	add("10", func(r *rules) {
		r.knockRestricted = true
		r.integerOnlyPL = true
	})
	add("11", func(r *rules) {
		r.creatorInSender = true
		r.redactsInContent = true
		r.redaction.KeepOriginMembershipPrevState = false
		r.redaction.MemberKeepsThirdPartyInviteSigned = true
		r.redaction.CreateKeepsAllContent = true
		r.redaction.PowerLevelsKeepsInvite = true
		r.redaction.RedactionKeepsRedacts = true
	})
	add("12", func(r *rules) {
		r.stateRes = StateResV2_1
		r.roomIDFromCreate = true
		r.privilegedCreators = true
	})
	return m
}()

// Lookup returns the room version with the given identifier.
func Lookup(id string) (Version, bool) {
	r, ok := table[id]
	if !ok {
		return Version{}, false
	}
	return Version{id: id, r: r}, true
}

// MustLookup is like [Lookup] but panics on an unknown version. Use it for
// constants in code and tests, never for input.
func MustLookup(id string) Version {
	v, ok := Lookup(id)
	if !ok {
		panic("roomversion: unknown room version " + id)
	}
	return v
}

// Known reports whether id names a room version this server implements.
func Known(id string) bool {
	_, ok := table[id]
	return ok
}

// All returns every known room version, in ascending numeric order.
func All() []Version {
	out := make([]Version, 0, len(table))
	for i := 1; i <= len(table); i++ {
		out = append(out, MustLookup(strconv.Itoa(i)))
	}
	return out
}

// Stability values of the m.room_versions capability.
const (
	StabilityStable   = "stable"
	StabilityUnstable = "unstable"
)

// RoomVersionsCapability is the value of the m.room_versions capability of
// GET /_matrix/client/v3/capabilities.
type RoomVersionsCapability struct {
	Default   string            `json:"default"`
	Available map[string]string `json:"available"`
}

// Capabilities returns the m.room_versions capability advertising every
// known room version with its stability, and defaultVersion as the default.
// An empty or unknown defaultVersion falls back to [Default].
func Capabilities(defaultVersion string) RoomVersionsCapability {
	if !Known(defaultVersion) {
		defaultVersion = Default
	}
	c := RoomVersionsCapability{Default: defaultVersion, Available: make(map[string]string, len(table))}
	for id, r := range table {
		if r.stable {
			c.Available[id] = StabilityStable
		} else {
			c.Available[id] = StabilityUnstable
		}
	}
	return c
}

// ValidIdentifier reports whether s follows the room version grammar: 1–32
// codepoints of a-z, 0-9, "." and "-" (rooms/_index.md, "Room version
// grammar"). It says nothing about whether the version is known.
func ValidIdentifier(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
