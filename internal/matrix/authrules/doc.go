// Package authrules implements the authorization rules of Matrix room
// versions 1–12: given an event and a set of room state, it decides whether
// the event is allowed, and if not, which numbered rule of the spec rejected
// it.
//
// Source of truth: the "Authorization rules" sections of the room version
// pages (spec/content/rooms/v1.md … v12.md and the fragments v1-auth-rules,
// v3-auth-rules, v8-auth-rules), the definitions of the server-server API
// ("Checks performed on receipt of a PDU", "Auth events selection") and the
// m.room.power_levels schema for defaults.
//
// Differences between room versions are asked of [roomversion.Version]
// predicates (Knocking, RestrictedJoins, IntegerOnlyPowerLevels,
// PrivilegedCreators, …), never of version numbers.
//
// Entry points: [Check] (the rules against a state), [CheckAuthEvents] (the
// rule about the auth_events list), [Checker.CheckAgainstAuthEvents] (both,
// for step 4 of the checks on receipt of a PDU), [AuthEventsNeeded] (the
// auth events selection for building an event) and [RedactionApplies]
// ("Handling redactions" from room version 3). Rejections are *[RuleError]
// values carrying the spec's rule number for the room version.
//
// The package does not fetch anything and does not depend on a concrete
// event type: callers pass values satisfying the small [Event] interface
// and a [StateProvider] that answers "which event is the current state for
// (type, state_key)" with a map lookup. Three checks are left to the
// caller, as the spec places them elsewhere or they need keys:
//
//   - whether auth events were themselves rejected (rule "auth_events" 3);
//   - whether the m.room.create event named by a v12 room ID was accepted;
//   - signature checks on the event itself, except the two the rules name:
//     the third-party invite signature ([Checker.VerifyThirdPartyInvite],
//     Ed25519 by default) and the join_authorised_via_users_server server's
//     signature ([Checker.SignedByServer]).
package authrules
