package push

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/rawjson"
)

// Compiled is a user's enabled rules, ready to evaluate. It is immutable,
// so any number of goroutines may evaluate it at once.
type Compiled struct {
	rules []compiledRule
}

type compiledRule struct {
	id            string
	conds         []condition
	legacyMention bool
	outcome       Outcome
}

// Outcome is what the first matching rule decided for one recipient.
type Outcome struct {
	RuleID    string // "" when no rule matched
	Notify    bool   // the actions include "notify"
	Highlight bool   // the highlight tweak is set (true or without value)
}

type condKind uint8

const (
	// condNever is an unknown or malformed condition, which the spec says
	// must never match (so its rule never does).
	condNever condKind = iota
	condEventMatch
	condPropertyIs
	condPropertyContains
	condDisplayName
	condMemberCount
	condSenderPermission
)

type condition struct {
	kind condKind
	key  string   // the dotted path as written: the per-event cache key
	path []string // the path's property names, unescaped
	body bool     // event_match on content.body: word matching
	glob matcher
	// value is the canonical JSON of the value event_property_is and
	// event_property_contains compare with.
	value []byte
	cmp   string // room_member_count: "==", "<", ">", "<=", ">="
	count int64
	perm  string // sender_notification_permission's key
}

// legacyMentionRules look for mentions in the body and are skipped for
// events with m.mentions.
var legacyMentionRules = map[string]bool{
	".m.rule.contains_display_name": true,
	".m.rule.contains_user_name":    true,
	".m.rule.roomnotif":             true,
}

// Compile compiles the enabled rules of rs, in evaluation order.
func Compile(rs *Ruleset) *Compiled {
	c := &Compiled{}
	for _, r := range rs.All() {
		if !r.Enabled {
			continue
		}
		c.rules = append(c.rules, compiledRule{
			id:            r.RuleID,
			conds:         compileConditions(r),
			legacyMention: legacyMentionRules[r.RuleID],
			outcome:       compileActions(r.RuleID, r.Actions),
		})
	}
	return c
}

// compileConditions returns the conditions of r; room, sender and content
// rules have theirs implied by their kind.
func compileConditions(r Rule) []condition {
	switch r.Kind {
	case KindContent:
		if r.Pattern == nil {
			return []condition{{kind: condNever}}
		}
		return []condition{eventMatch("content.body", *r.Pattern)}
	case KindRoom:
		return []condition{eventMatch("room_id", r.RuleID)}
	case KindSender:
		// Synapse matches a "user_id" key, which events do not have, so
		// its sender rules never fire; the spec means the sender.
		return []condition{eventMatch("sender", r.RuleID)}
	}
	var raws []json.RawMessage
	if len(r.Conditions) > 0 {
		if err := json.Unmarshal(r.Conditions, &raws); err != nil {
			return []condition{{kind: condNever}}
		}
	}
	conds := make([]condition, len(raws))
	for i, raw := range raws {
		conds[i] = compileCondition(raw)
	}
	return conds
}

// rawCondition is a condition as clients write it.
type rawCondition struct {
	Kind    string          `json:"kind"`
	Key     *string         `json:"key"`
	Pattern *string         `json:"pattern"`
	Is      *string         `json:"is"`
	Value   json.RawMessage `json:"value"`
}

func compileCondition(raw json.RawMessage) condition {
	var rc rawCondition
	if err := json.Unmarshal(raw, &rc); err != nil {
		return condition{kind: condNever}
	}
	switch rc.Kind {
	case "event_match":
		if rc.Key != nil && rc.Pattern != nil {
			return eventMatch(*rc.Key, *rc.Pattern)
		}
	case "event_property_is", "event_property_contains":
		value, ok := simpleValue(rc.Value)
		if rc.Key == nil || !ok {
			break
		}
		kind := condPropertyIs
		if rc.Kind == "event_property_contains" {
			kind = condPropertyContains
		}
		return condition{kind: kind, key: *rc.Key, path: splitPath(*rc.Key), value: value}
	case "contains_display_name":
		return condition{kind: condDisplayName}
	case "room_member_count":
		if rc.Is != nil {
			if cmp, n, ok := parseMemberCount(*rc.Is); ok {
				return condition{kind: condMemberCount, cmp: cmp, count: n}
			}
		}
	case "sender_notification_permission":
		if rc.Key != nil {
			return condition{kind: condSenderPermission, perm: *rc.Key}
		}
	}
	return condition{kind: condNever}
}

func eventMatch(key, pattern string) condition {
	body := key == "content.body"
	glob, err := compileGlob(pattern, body)
	if err != nil {
		return condition{kind: condNever}
	}
	return condition{kind: condEventMatch, key: key, path: splitPath(key), body: body, glob: glob}
}

// splitPath splits a dot-separated property path (spec appendix): "\."
// is a literal dot and "\\" a literal backslash; any other backslash is
// itself.
func splitPath(key string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '\\' && i+1 < len(key) && (key[i+1] == '.' || key[i+1] == '\\'):
			i++
			cur.WriteByte(key[i])
		case c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}

// simpleValue returns the canonical JSON of a condition's value: a
// string, an integer within ±(2^53-1), a boolean or null.
func simpleValue(raw json.RawMessage) ([]byte, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '"':
		s, ok := rawjson.StringValue(raw)
		if !ok {
			return nil, false
		}
		return canonicaljson.AppendString(nil, s), true
	case 't', 'f', 'n':
		switch string(raw) {
		case "true", "false", "null":
			return raw, true
		}
		return nil, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	const maxSafe = 1<<53 - 1
	if err != nil || n > maxSafe || n < -maxSafe {
		return nil, false
	}
	return strconv.AppendInt(nil, n, 10), true
}

var memberCountRE = regexp.MustCompile(`^(==|<|>|<=|>=)?([0-9]+)$`)

// parseMemberCount reads room_member_count's "is": a decimal integer,
// optionally after ==, <, >, <= or >=.
func parseMemberCount(is string) (string, int64, bool) {
	m := memberCountRE.FindStringSubmatch(is)
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return "", 0, false
	}
	cmp := m[1]
	if cmp == "" {
		cmp = "=="
	}
	return cmp, n, true
}

// compileActions reads what the actions decide. The legacy dont_notify
// and coalesce actions do nothing (spec: "Historical Actions").
func compileActions(ruleID string, actions json.RawMessage) Outcome {
	out := Outcome{RuleID: ruleID}
	var list []json.RawMessage
	if json.Unmarshal(actions, &list) != nil {
		return out
	}
	highlightSeen := false
	for _, a := range list {
		if rawjson.StringEquals(a, "notify") {
			out.Notify = true
			continue
		}
		tweak, ok := rawjson.LookupString(a, "set_tweak")
		if !ok || tweak != "highlight" || highlightSeen {
			continue
		}
		// The first highlight tweak decides, as in Synapse; without a
		// value it means true (spec).
		highlightSeen = true
		v, has := rawjson.Lookup(a, "value")
		out.Highlight = !has || string(bytes.TrimSpace(v)) == "true"
	}
	return out
}
