package roomversion

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
)

// expect is one row of the feature matrix, written out by hand from the
// room version pages of the spec so that each predicate is checked against
// every version independently of how the table in roomversion.go is built.
type expect struct {
	eventID               EventIDFormat
	stateRes              StateResAlgorithm
	keyValidity           bool
	aliasesAuth           bool
	redactionsInAuthRules bool
	strictJSON            bool
	notificationsPL       bool
	knocking              bool
	restricted            bool
	knockRestricted       bool
	integerPL             bool
	creatorInSender       bool
	redactsInContent      bool
	roomIDFromCreate      bool
	privilegedCreators    bool
	maxDepth              int64
	redaction             RedactionRules
}

const (
	d63 = 1<<63 - 1
	d53 = 1<<53 - 1
)

var (
	rV1 = RedactionRules{KeepOriginMembershipPrevState: true, AliasesKeepsAliases: true}
	rV6 = RedactionRules{KeepOriginMembershipPrevState: true}
	rV8 = RedactionRules{KeepOriginMembershipPrevState: true, JoinRulesKeepsAllow: true}
	rV9 = RedactionRules{KeepOriginMembershipPrevState: true, JoinRulesKeepsAllow: true,
		MemberKeepsJoinAuthorisedViaUsersServer: true}
	rV11 = RedactionRules{JoinRulesKeepsAllow: true, MemberKeepsJoinAuthorisedViaUsersServer: true,
		MemberKeepsThirdPartyInviteSigned: true, CreateKeepsAllContent: true,
		PowerLevelsKeepsInvite: true, RedactionKeepsRedacts: true}
)

var matrix = map[string]expect{
	"1":  {eventID: EventIDServerGenerated, stateRes: StateResV1, aliasesAuth: true, redactionsInAuthRules: true, maxDepth: d63, redaction: rV1},
	"2":  {eventID: EventIDServerGenerated, stateRes: StateResV2, aliasesAuth: true, redactionsInAuthRules: true, maxDepth: d63, redaction: rV1},
	"3":  {eventID: EventIDBase64, stateRes: StateResV2, aliasesAuth: true, maxDepth: d63, redaction: rV1},
	"4":  {eventID: EventIDURLSafeBase64, stateRes: StateResV2, aliasesAuth: true, maxDepth: d63, redaction: rV1},
	"5":  {eventID: EventIDURLSafeBase64, stateRes: StateResV2, keyValidity: true, aliasesAuth: true, maxDepth: d63, redaction: rV1},
	"6":  {eventID: EventIDURLSafeBase64, stateRes: StateResV2, keyValidity: true, strictJSON: true, notificationsPL: true, maxDepth: d53, redaction: rV6},
	"7":  {eventID: EventIDURLSafeBase64, stateRes: StateResV2, keyValidity: true, strictJSON: true, notificationsPL: true, knocking: true, maxDepth: d53, redaction: rV6},
	"8":  {eventID: EventIDURLSafeBase64, stateRes: StateResV2, keyValidity: true, strictJSON: true, notificationsPL: true, knocking: true, restricted: true, maxDepth: d53, redaction: rV8},
	"9":  {eventID: EventIDURLSafeBase64, stateRes: StateResV2, keyValidity: true, strictJSON: true, notificationsPL: true, knocking: true, restricted: true, maxDepth: d53, redaction: rV9},
	"10": {eventID: EventIDURLSafeBase64, stateRes: StateResV2, keyValidity: true, strictJSON: true, notificationsPL: true, knocking: true, restricted: true, knockRestricted: true, integerPL: true, maxDepth: d53, redaction: rV9},
	"11": {eventID: EventIDURLSafeBase64, stateRes: StateResV2, keyValidity: true, strictJSON: true, notificationsPL: true, knocking: true, restricted: true, knockRestricted: true, integerPL: true, creatorInSender: true, redactsInContent: true, maxDepth: d53, redaction: rV11},
	"12": {eventID: EventIDURLSafeBase64, stateRes: StateResV2_1, keyValidity: true, strictJSON: true, notificationsPL: true, knocking: true, restricted: true, knockRestricted: true, integerPL: true, creatorInSender: true, redactsInContent: true, roomIDFromCreate: true, privilegedCreators: true, maxDepth: d53, redaction: rV11},
}

func TestFeatureMatrix(t *testing.T) {
	if len(matrix) != len(All()) {
		t.Fatalf("matrix has %d rows, registry %d versions", len(matrix), len(All()))
	}
	for id, want := range matrix {
		t.Run("v"+id, func(t *testing.T) {
			v, ok := Lookup(id)
			if !ok || !v.Valid() || v.ID() != id || v.String() != id {
				t.Fatalf("Lookup(%q) = %v, %v", id, v, ok)
			}
			check := func(name string, got, want any) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			check("Stable", v.Stable(), true)
			check("EventIDFormat", v.EventIDFormat(), want.eventID)
			legacy := want.eventID == EventIDServerGenerated
			check("EventIDInPDU", v.EventIDInPDU(), legacy)
			check("PrevEventsHaveHashes", v.PrevEventsHaveHashes(), legacy)
			check("SignedByEventIDDomain", v.SignedByEventIDDomain(), legacy)
			check("StateResAlgorithm", v.StateResAlgorithm(), want.stateRes)
			check("EnforceKeyValidity", v.EnforceKeyValidity(), want.keyValidity)
			check("SpecialCaseAliasesAuth", v.SpecialCaseAliasesAuth(), want.aliasesAuth)
			check("RedactionsInAuthRules", v.RedactionsInAuthRules(), want.redactionsInAuthRules)
			check("StrictCanonicalJSON", v.StrictCanonicalJSON(), want.strictJSON)
			check("MaxDepth", v.MaxDepth(), want.maxDepth)
			check("NotificationsPowerLevels", v.NotificationsPowerLevels(), want.notificationsPL)
			check("Knocking", v.Knocking(), want.knocking)
			check("RestrictedJoins", v.RestrictedJoins(), want.restricted)
			check("KnockRestricted", v.KnockRestricted(), want.knockRestricted)
			check("IntegerOnlyPowerLevels", v.IntegerOnlyPowerLevels(), want.integerPL)
			check("CreatorInSender", v.CreatorInSender(), want.creatorInSender)
			check("NoCreatorField", v.NoCreatorField(), want.creatorInSender)
			check("RedactsInContent", v.RedactsInContent(), want.redactsInContent)
			check("RoomIDFromCreateEvent", v.RoomIDFromCreateEvent(), want.roomIDFromCreate)
			check("CreateEventInAuthEvents", v.CreateEventInAuthEvents(), !want.roomIDFromCreate)
			check("PrivilegedCreators", v.PrivilegedCreators(), want.privilegedCreators)
			check("RedactionRules", v.RedactionRules(), want.redaction)
		})
	}
}

// The feature matrix in rooms/_index.md, as a client sees it.
func TestSpecFeatureMatrix(t *testing.T) {
	rows := []struct {
		name string
		pred func(Version) bool
		from int
	}{
		{"Knocking", Version.Knocking, 7},
		{"Restricted join rules", Version.RestrictedJoins, 8},
		{"knock_restricted", Version.KnockRestricted, 10},
		{"Additional room creators", Version.PrivilegedCreators, 12},
	}
	for _, row := range rows {
		for n := 1; n <= 12; n++ {
			if got := row.pred(MustLookup(strconv.Itoa(n))); got != (n >= row.from) {
				t.Errorf("%s in v%d = %v", row.name, n, got)
			}
		}
	}
}

// Each redaction key list is checked against the text of the spec fragment
// that defines it.
func TestRedactionKeyLists(t *testing.T) {
	top := []string{"auth_events", "content", "depth", "event_id", "hashes",
		"origin_server_ts", "prev_events", "room_id", "sender", "signatures",
		"state_key", "type"}
	topOld := append(slices.Clone(top), "membership", "origin", "prev_state")
	slices.Sort(topOld)

	pl := []string{"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
	plInvite := append(slices.Clone(pl), "invite")
	slices.Sort(plInvite)

	type content struct {
		keys []string
		all  bool
	}
	byVersion := map[string]struct {
		top     []string
		content map[string]content
	}{}
	v1 := map[string]content{
		"m.room.member":             {keys: []string{"membership"}},
		"m.room.create":             {keys: []string{"creator"}},
		"m.room.join_rules":         {keys: []string{"join_rule"}},
		"m.room.power_levels":       {keys: pl},
		"m.room.aliases":            {keys: []string{"aliases"}},
		"m.room.history_visibility": {keys: []string{"history_visibility"}},
		"m.room.redaction":          {},
		"m.room.message":            {},
		"m.room.name":               {},
	}
	v6 := cloneMap(v1)
	v6["m.room.aliases"] = content{}
	v8 := cloneMap(v6)
	v8["m.room.join_rules"] = content{keys: []string{"allow", "join_rule"}}
	v9 := cloneMap(v8)
	v9["m.room.member"] = content{keys: []string{"join_authorised_via_users_server", "membership"}}
	v11 := cloneMap(v9)
	v11["m.room.member"] = content{keys: []string{"join_authorised_via_users_server", "membership", "third_party_invite.signed"}}
	v11["m.room.create"] = content{all: true}
	v11["m.room.power_levels"] = content{keys: plInvite}
	v11["m.room.redaction"] = content{keys: []string{"redacts"}}
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		byVersion[id] = struct {
			top     []string
			content map[string]content
		}{topOld, v1}
	}
	for _, id := range []string{"6", "7"} {
		byVersion[id] = struct {
			top     []string
			content map[string]content
		}{topOld, v6}
	}
	byVersion["8"] = struct {
		top     []string
		content map[string]content
	}{topOld, v8}
	for _, id := range []string{"9", "10"} {
		byVersion[id] = struct {
			top     []string
			content map[string]content
		}{topOld, v9}
	}
	for _, id := range []string{"11", "12"} {
		byVersion[id] = struct {
			top     []string
			content map[string]content
		}{top, v11}
	}
	for _, v := range All() {
		want := byVersion[v.ID()]
		rr := v.RedactionRules()
		if got := rr.TopLevelKeys(); !slices.Equal(got, want.top) {
			t.Errorf("v%s top-level keys = %v, want %v", v, got, want.top)
		}
		for typ, wc := range want.content {
			keys, all := rr.ContentKeys(typ)
			if all != wc.all || !slices.Equal(keys, wc.keys) {
				t.Errorf("v%s %s content keys = %v (all=%v), want %v (all=%v)", v, typ, keys, all, wc.keys, wc.all)
			}
		}
	}
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestLookupUnknown(t *testing.T) {
	for _, id := range []string{"", "0", "13", "1.0", "org.matrix.msc1234", " 1", "01"} {
		if v, ok := Lookup(id); ok || v.Valid() {
			t.Errorf("Lookup(%q) succeeded", id)
		}
		if Known(id) {
			t.Errorf("Known(%q)", id)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustLookup(\"13\") did not panic")
		}
	}()
	MustLookup("13")
}

func TestAllOrdered(t *testing.T) {
	all := All()
	for i, v := range all {
		if v.ID() != strconv.Itoa(i+1) {
			t.Fatalf("All()[%d] = %s", i, v)
		}
	}
}

func TestDefault(t *testing.T) {
	if !Known(Default) {
		t.Fatalf("Default %q is not a known version", Default)
	}
}

func TestCapabilities(t *testing.T) {
	c := Capabilities("")
	if c.Default != Default {
		t.Errorf("default = %q", c.Default)
	}
	c = Capabilities("12")
	if c.Default != "12" {
		t.Errorf("default = %q", c.Default)
	}
	if len(c.Available) != 12 {
		t.Errorf("available has %d versions", len(c.Available))
	}
	for n := 1; n <= 12; n++ {
		if s := c.Available[strconv.Itoa(n)]; s != StabilityStable {
			t.Errorf("v%d stability = %q", n, s)
		}
	}
	if Capabilities("nope").Default != Default {
		t.Error("unknown default was accepted")
	}
	b, err := json.Marshal(Capabilities("10"))
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["default"] != "10" || len(back["available"].(map[string]any)) != 12 {
		t.Errorf("JSON = %s", b)
	}
}

func TestValidIdentifier(t *testing.T) {
	for s, want := range map[string]bool{
		"1": true, "1.2": true, "1.2-beta": true, "com.example.version": true,
		"": false, "A": false, "v_1": false, "12345678901234567890123456789012": true,
		"123456789012345678901234567890123": false, "é": false,
	} {
		if got := ValidIdentifier(s); got != want {
			t.Errorf("ValidIdentifier(%q) = %v", s, got)
		}
	}
}

func TestStringers(t *testing.T) {
	for f, s := range map[EventIDFormat]string{EventIDServerGenerated: "server-generated", EventIDBase64: "base64-reference-hash", EventIDURLSafeBase64: "urlsafe-base64-reference-hash", 0: "unknown"} {
		if f.String() != s {
			t.Errorf("%d.String() = %q", int(f), f.String())
		}
	}
	for a, s := range map[StateResAlgorithm]string{StateResV1: "v1", StateResV2: "v2", StateResV2_1: "v2.1", 0: "unknown"} {
		if a.String() != s {
			t.Errorf("%d.String() = %q", int(a), a.String())
		}
	}
}
