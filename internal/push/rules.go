// Package push decides which events notify which users: push rules (the
// server-default set and each user's changes, stored in the database), an
// evaluator for them, and the unread notification counts /sync reports.
//
// Rules are compiled once per user and cached until the user changes
// them; an event is read with rawjson straight from its PDU, and the
// values the rules look at are read once per event however many
// recipients it has.
package push

import (
	"encoding/json"
	"strings"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// Kind is a push rule kind, which is also its priority class.
type Kind string

// The kinds, in the order their rules are evaluated.
const (
	KindOverride  Kind = "override"
	KindContent   Kind = "content"
	KindRoom      Kind = "room"
	KindSender    Kind = "sender"
	KindUnderride Kind = "underride"
)

// Kinds lists every kind in evaluation order.
var Kinds = []Kind{KindOverride, KindContent, KindRoom, KindSender, KindUnderride}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, bool) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

// Rule is one push rule as the client-server API shows it.
type Rule struct {
	Kind       Kind            `json:"-"`
	RuleID     string          `json:"rule_id"`
	Default    bool            `json:"default"`
	Enabled    bool            `json:"enabled"`
	Conditions json.RawMessage `json:"conditions,omitempty"` // override and underride rules
	Pattern    *string         `json:"pattern,omitempty"`    // content rules
	Actions    json.RawMessage `json:"actions"`
}

// Ruleset is a user's rules by kind, each list in evaluation order; it
// marshals as the spec's PushRuleset.
type Ruleset struct {
	Override  []Rule `json:"override"`
	Content   []Rule `json:"content"`
	Room      []Rule `json:"room"`
	Sender    []Rule `json:"sender"`
	Underride []Rule `json:"underride"`
}

// Of returns the rules of kind k.
func (rs *Ruleset) Of(k Kind) []Rule {
	switch k {
	case KindOverride:
		return rs.Override
	case KindContent:
		return rs.Content
	case KindRoom:
		return rs.Room
	case KindSender:
		return rs.Sender
	}
	return rs.Underride
}

func (rs *Ruleset) add(r Rule) {
	switch r.Kind {
	case KindOverride:
		rs.Override = append(rs.Override, r)
	case KindContent:
		rs.Content = append(rs.Content, r)
	case KindRoom:
		rs.Room = append(rs.Room, r)
	case KindSender:
		rs.Sender = append(rs.Sender, r)
	default:
		rs.Underride = append(rs.Underride, r)
	}
}

// Find returns the rule ruleID of kind k.
func (rs *Ruleset) Find(k Kind, ruleID string) (Rule, bool) {
	for _, r := range rs.Of(k) {
		if r.RuleID == ruleID {
			return r, true
		}
	}
	return Rule{}, false
}

// All lists every rule in evaluation order.
func (rs *Ruleset) All() []Rule {
	var out []Rule
	for _, k := range Kinds {
		out = append(out, rs.Of(k)...)
	}
	return out
}

// Placeholders in the default rules for the user they are shown to.
const (
	userIDPlaceholder    = `"@@user_id@@"`
	localpartPlaceholder = `"@@localpart@@"`
)

// defaultRule is a server-default rule. Conditions and pattern may hold
// the placeholders above; the rules are Synapse's, with the same actions
// (including the explicit highlight false Synapse adds), so clients that
// compare rules with Synapse's see the same set.
type defaultRule struct {
	kind       Kind
	id         string
	enabled    bool
	conditions string // JSON array
	pattern    string // JSON string, content rules
	actions    string // JSON array
	// legacyMention rules look for mentions in the body; an event with
	// m.mentions skips them (spec 1.7, as Synapse).
	legacyMention bool
}

const (
	actNotifyHighlightSound = `["notify",{"set_tweak":"highlight"},{"set_tweak":"sound","value":"default"}]`
	actNotifyHighlight      = `["notify",{"set_tweak":"highlight"}]`
	actNotifySoundNoHL      = `["notify",{"set_tweak":"sound","value":"default"},{"set_tweak":"highlight","value":false}]`
	actNotifyNoHL           = `["notify",{"set_tweak":"highlight","value":false}]`
	actNone                 = `[]`
)

// masterRule comes before every user override rule; the other defaults
// come after the user's rules of their kind.
var masterRule = defaultRule{kind: KindOverride, id: ".m.rule.master", conditions: `[]`, actions: actNone}

var defaultRules = []defaultRule{
	{kind: KindOverride, id: ".m.rule.suppress_notices", enabled: true,
		conditions: `[{"kind":"event_match","key":"content.msgtype","pattern":"m.notice"}]`, actions: actNone},
	{kind: KindOverride, id: ".m.rule.invite_for_me", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.member"},` +
			`{"kind":"event_match","key":"content.membership","pattern":"invite"},` +
			`{"kind":"event_match","key":"state_key","pattern":` + userIDPlaceholder + `}]`,
		actions: `["notify",{"set_tweak":"highlight","value":false},{"set_tweak":"sound","value":"default"}]`},
	{kind: KindOverride, id: ".m.rule.member_event", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.member"}]`, actions: actNone},
	{kind: KindOverride, id: ".m.rule.is_user_mention", enabled: true,
		conditions: `[{"kind":"event_property_contains","key":"content.m\\.mentions.user_ids","value":` + userIDPlaceholder + `}]`,
		actions:    actNotifyHighlightSound},
	{kind: KindOverride, id: ".m.rule.contains_display_name", enabled: true, legacyMention: true,
		conditions: `[{"kind":"contains_display_name"}]`, actions: actNotifyHighlightSound},
	{kind: KindOverride, id: ".m.rule.is_room_mention", enabled: true,
		conditions: `[{"kind":"event_property_is","key":"content.m\\.mentions.room","value":true},` +
			`{"kind":"sender_notification_permission","key":"room"}]`,
		actions: actNotifyHighlight},
	{kind: KindOverride, id: ".m.rule.roomnotif", enabled: true, legacyMention: true,
		conditions: `[{"kind":"event_match","key":"content.body","pattern":"@room"},` +
			`{"kind":"sender_notification_permission","key":"room"}]`,
		actions: actNotifyHighlight},
	{kind: KindOverride, id: ".m.rule.tombstone", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.tombstone"},` +
			`{"kind":"event_match","key":"state_key","pattern":""}]`,
		actions: actNotifyHighlight},
	{kind: KindOverride, id: ".m.rule.reaction", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.reaction"}]`, actions: actNone},
	{kind: KindOverride, id: ".m.rule.room.server_acl", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.server_acl"},` +
			`{"kind":"event_match","key":"state_key","pattern":""}]`,
		actions: actNone},
	{kind: KindOverride, id: ".m.rule.suppress_edits", enabled: true,
		conditions: `[{"kind":"event_property_is","key":"content.m\\.relates_to.rel_type","value":"m.replace"}]`,
		actions:    actNone},

	{kind: KindContent, id: ".m.rule.contains_user_name", enabled: true, legacyMention: true,
		pattern: localpartPlaceholder, actions: actNotifyHighlightSound},

	{kind: KindUnderride, id: ".m.rule.call", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.call.invite"}]`,
		actions:    `["notify",{"set_tweak":"sound","value":"ring"},{"set_tweak":"highlight","value":false}]`},
	{kind: KindUnderride, id: ".m.rule.encrypted_room_one_to_one", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.encrypted"},{"kind":"room_member_count","is":"2"}]`,
		actions:    actNotifySoundNoHL},
	{kind: KindUnderride, id: ".m.rule.room_one_to_one", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.message"},{"kind":"room_member_count","is":"2"}]`,
		actions:    actNotifySoundNoHL},
	{kind: KindUnderride, id: ".m.rule.message", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.message"}]`, actions: actNotifyNoHL},
	{kind: KindUnderride, id: ".m.rule.encrypted", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"m.room.encrypted"}]`, actions: actNotifyNoHL},
	{kind: KindUnderride, id: ".im.vector.jitsi", enabled: true,
		conditions: `[{"kind":"event_match","key":"type","pattern":"im.vector.modular.widgets"},` +
			`{"kind":"event_match","key":"content.type","pattern":"jitsi"},` +
			`{"kind":"event_match","key":"state_key","pattern":"*"}]`,
		actions: actNotifyNoHL},
}

// defaultRuleByID finds a server-default rule of kind k.
func defaultRuleByID(k Kind, ruleID string) (defaultRule, bool) {
	if masterRule.kind == k && masterRule.id == ruleID {
		return masterRule, true
	}
	for _, d := range defaultRules {
		if d.kind == k && d.id == ruleID {
			return d, true
		}
	}
	return defaultRule{}, false
}

// IsDefaultRule reports whether ruleID of kind k is a server-default rule.
func IsDefaultRule(k Kind, ruleID string) bool {
	_, ok := defaultRuleByID(k, ruleID)
	return ok
}

// forUser returns d as user sees it, with the placeholders filled in.
func (d defaultRule) forUser(userID string) Rule {
	fill := strings.NewReplacer(
		userIDPlaceholder, string(canonicaljson.AppendString(nil, userID)),
		localpartPlaceholder, string(canonicaljson.AppendString(nil, localpart(userID))),
	)
	r := Rule{Kind: d.kind, RuleID: d.id, Default: true, Enabled: d.enabled, Actions: json.RawMessage(d.actions)}
	if d.conditions != "" {
		r.Conditions = json.RawMessage(fill.Replace(d.conditions))
	}
	if d.pattern != "" {
		var p string
		_ = json.Unmarshal([]byte(fill.Replace(d.pattern)), &p) // built from a valid JSON string just above
		r.Pattern = &p
	}
	return r
}

// localpart is the part of a user ID between "@" and the first ":".
func localpart(userID string) string {
	s := strings.TrimPrefix(userID, "@")
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return s
}
