package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/axonhs/axon/internal/storage"
)

// AccountDataType is the global account data document holding a user's
// push rules, which /sync delivers after every change.
const AccountDataType = "m.push_rules"

// Errors a caller maps to Matrix errors.
var (
	// ErrNotFound: no such rule (of that kind, for that user).
	ErrNotFound = errors.New("push: rule not found")
	// ErrServerDefault: server-default rules cannot be deleted.
	ErrServerDefault = errors.New("push: cannot delete a server-default rule")
)

// InvalidRuleError is a rule a client may not store; Msg says why.
type InvalidRuleError struct{ Msg string }

func (e *InvalidRuleError) Error() string { return "push: invalid rule: " + e.Msg }

func invalid(format string, args ...any) error {
	return &InvalidRuleError{Msg: fmt.Sprintf(format, args...)}
}

// AccountData writes the m.push_rules document.
type AccountData interface {
	PutServerManaged(ctx context.Context, userID, roomID, typ string, content []byte) error
}

// maxCachedUsers bounds the compiled rules kept in memory.
const maxCachedUsers = 10000

// Service keeps push rules and unread notification counts.
type Service struct {
	db          *storage.DB
	log         *slog.Logger
	serverName  string
	accountData AccountData

	cacheMu sync.Mutex
	cache   map[string]*userRules
	// gen counts invalidations, so a load that raced with a change is not
	// cached.
	gen atomic.Uint64

	// changeLocks serialise each user's rule changes (striped by user),
	// so the m.push_rules documents are written in the order of the
	// changes.
	changeLocks [64]sync.Mutex
	lockSeed    maphash.Seed

	threadsMu sync.Mutex
	threads   map[string]string // event ID → thread, for relations
}

// userRules is a user's rules, as shown and as evaluated.
type userRules struct {
	rules    *Ruleset
	compiled *Compiled

	// The m.push_rules event, rendered on first use: every initial sync
	// sends it.
	eventOnce sync.Once
	event     json.RawMessage
	eventErr  error
}

// accountDataEvent is ur's rules as the m.push_rules account data event.
func (ur *userRules) accountDataEvent() (json.RawMessage, error) {
	ur.eventOnce.Do(func() {
		ur.event, ur.eventErr = json.Marshal(map[string]any{
			"type": AccountDataType, "content": map[string]any{"global": ur.rules},
		})
	})
	return ur.event, ur.eventErr
}

// New returns the push service. Hand it to the rooms service
// (rooms.Service.WithPusher) to evaluate the rules of every event.
func New(db *storage.DB, log *slog.Logger, serverName string, accountData AccountData) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		db: db, log: log, serverName: serverName, accountData: accountData,
		cache: map[string]*userRules{}, lockSeed: maphash.MakeSeed(), threads: map[string]string{},
	}
}

// Rules returns user's push rules. The result is shared: do not modify it.
func (s *Service) Rules(ctx context.Context, user string) (*Ruleset, error) {
	ur, err := s.rulesOf(ctx, []string{user})
	if err != nil {
		return nil, err
	}
	return ur[user].rules, nil
}

// RulesEvent returns user's push rules as the m.push_rules account data
// event. The result is shared: do not modify it.
func (s *Service) RulesEvent(ctx context.Context, user string) (json.RawMessage, error) {
	ur, err := s.rulesOf(ctx, []string{user})
	if err != nil {
		return nil, err
	}
	return ur[user].accountDataEvent()
}

// rulesOf returns the rules of users, loading those not cached in one
// query.
func (s *Service) rulesOf(ctx context.Context, users []string) (map[string]*userRules, error) {
	out := make(map[string]*userRules, len(users))
	var missing []string
	s.cacheMu.Lock()
	for _, u := range users {
		if ur, ok := s.cache[u]; ok {
			out[u] = ur
		} else {
			missing = append(missing, u)
		}
	}
	s.cacheMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	gen := s.gen.Load()
	stored, err := s.db.PushRulesOf(ctx, missing)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for _, u := range missing {
		rs := buildRuleset(u, stored[u])
		ur := &userRules{rules: rs, compiled: Compile(rs)}
		out[u] = ur
		if s.gen.Load() != gen {
			continue // a change landed while loading: this may predate it
		}
		if len(s.cache) >= maxCachedUsers {
			for victim := range s.cache { // map order is random enough
				delete(s.cache, victim)
				break
			}
		}
		s.cache[u] = ur
	}
	return out, nil
}

func (s *Service) invalidate(user string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.gen.Add(1)
	delete(s.cache, user)
}

// buildRuleset merges the server-default rules with what user stored:
// the master rule first, then the user's rules of each kind before the
// defaults of that kind, as Synapse orders them.
func buildRuleset(user string, stored *storage.UserPushRules) *Ruleset {
	if stored == nil {
		stored = &storage.UserPushRules{}
	}
	changed := map[string]storage.PushRuleDefault{}
	for _, d := range stored.Defaults {
		changed[d.Kind+"/"+d.RuleID] = d
	}
	withChanges := func(d defaultRule) Rule {
		r := d.forUser(user)
		if c, ok := changed[string(d.kind)+"/"+d.id]; ok {
			if c.Enabled != nil {
				r.Enabled = *c.Enabled
			}
			if c.Actions != nil {
				r.Actions = json.RawMessage(c.Actions)
			}
		}
		return r
	}
	rs := &Ruleset{Override: []Rule{}, Content: []Rule{}, Room: []Rule{}, Sender: []Rule{}, Underride: []Rule{}}
	rs.add(withChanges(masterRule))
	for _, k := range Kinds {
		for _, r := range stored.Rules {
			if Kind(r.Kind) != k {
				continue
			}
			rule := Rule{Kind: k, RuleID: r.RuleID, Enabled: r.Enabled, Pattern: r.Pattern, Actions: json.RawMessage(r.Actions)}
			if k == KindOverride || k == KindUnderride {
				rule.Conditions = json.RawMessage(r.Conditions)
				if rule.Conditions == nil {
					rule.Conditions = json.RawMessage(`[]`)
				}
			}
			rs.add(rule)
		}
		for _, d := range defaultRules {
			if d.kind == k {
				rs.add(withChanges(d))
			}
		}
	}
	return rs
}

// compiledFor returns the compiled rules of users.
func (s *Service) compiledFor(ctx context.Context, users []string) (map[string]*Compiled, error) {
	ur, err := s.rulesOf(ctx, users)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Compiled, len(ur))
	for u, r := range ur {
		out[u] = r.compiled
	}
	return out, nil
}

// NewRule is a user-defined rule to create or replace (PUT
// /pushrules/global/{kind}/{ruleId}).
type NewRule struct {
	Kind       Kind
	RuleID     string
	Conditions json.RawMessage // override and underride
	Pattern    *string         // content
	Actions    json.RawMessage
	// Before and After place the rule next to another user-defined rule of
	// the kind; Before wins when both are set.
	Before, After string
}

// PutRule creates or replaces a user-defined rule.
func (s *Service) PutRule(ctx context.Context, user string, nr NewRule) error {
	if strings.HasPrefix(nr.RuleID, ".") {
		return invalid("cannot add new rule_ids that start with '.'")
	}
	if nr.RuleID == "" || strings.ContainsAny(nr.RuleID, `/\`) {
		return invalid("rule_id may not contain slashes")
	}
	row := storage.PushRule{Kind: string(nr.Kind), RuleID: nr.RuleID, Enabled: true}
	switch nr.Kind {
	case KindOverride, KindUnderride:
		if nr.Conditions == nil {
			return invalid("Missing 'conditions'")
		}
		if err := checkConditions(nr.Conditions); err != nil {
			return err
		}
		row.Conditions = compact(nr.Conditions)
	case KindContent:
		if nr.Pattern == nil {
			return invalid("Content rule missing 'pattern'")
		}
		row.Pattern = nr.Pattern
	}
	if err := CheckActions(nr.Actions); err != nil {
		return err
	}
	row.Actions = compact(nr.Actions)
	return s.change(ctx, user, func() error {
		err := s.db.PutPushRule(ctx, user, row, nr.Before, nr.After)
		if errors.Is(err, storage.ErrPushRuleAnchor) {
			anchor := nr.Before
			if anchor == "" {
				anchor = nr.After
			}
			return invalid("before/after rule not found: %s", anchor)
		}
		return err
	})
}

// DeleteRule deletes a user-defined rule.
func (s *Service) DeleteRule(ctx context.Context, user string, kind Kind, ruleID string) error {
	if IsDefaultRule(kind, ruleID) {
		return ErrServerDefault
	}
	return s.change(ctx, user, func() error {
		return notFound(s.db.DeletePushRule(ctx, user, string(kind), ruleID))
	})
}

// SetEnabled enables or disables a rule, user-defined or server-default.
func (s *Service) SetEnabled(ctx context.Context, user string, kind Kind, ruleID string, enabled bool) error {
	return s.change(ctx, user, func() error {
		if strings.HasPrefix(ruleID, ".") {
			if !IsDefaultRule(kind, ruleID) {
				return ErrNotFound
			}
			return s.db.SetPushRuleDefault(ctx, user, string(kind), ruleID, &enabled, nil)
		}
		return notFound(s.db.SetPushRuleEnabled(ctx, user, string(kind), ruleID, enabled))
	})
}

// SetActions replaces the actions of a rule, user-defined or
// server-default.
func (s *Service) SetActions(ctx context.Context, user string, kind Kind, ruleID string, actions json.RawMessage) error {
	if err := CheckActions(actions); err != nil {
		return err
	}
	return s.change(ctx, user, func() error {
		if strings.HasPrefix(ruleID, ".") {
			if !IsDefaultRule(kind, ruleID) {
				return ErrNotFound
			}
			return s.db.SetPushRuleDefault(ctx, user, string(kind), ruleID, nil, compact(actions))
		}
		return notFound(s.db.SetPushRuleActions(ctx, user, string(kind), ruleID, compact(actions)))
	})
}

func notFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// change applies one change to user's rules, then publishes the new rules
// as the m.push_rules account data, as Synapse sends them to /sync.
func (s *Service) change(ctx context.Context, user string, apply func() error) error {
	mu := &s.changeLocks[maphash.String(s.lockSeed, user)%uint64(len(s.changeLocks))]
	mu.Lock()
	defer mu.Unlock()
	err := apply()
	s.invalidate(user) // even after a failure: the database may have changed
	if err != nil {
		return err
	}
	rs, err := s.Rules(ctx, user)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(struct {
		Global *Ruleset `json:"global"`
	}{rs})
	if err != nil {
		return err
	}
	if err := s.accountData.PutServerManaged(ctx, user, "", AccountDataType, doc); err != nil {
		return fmt.Errorf("publish push rules of %s: %w", user, err)
	}
	return nil
}

// checkConditions checks what Synapse checks of a rule's conditions: a
// list of objects with a kind. Conditions the server does not understand
// are stored and never match, as the spec requires.
func checkConditions(raw json.RawMessage) error {
	var conds []map[string]json.RawMessage
	if !isArray(raw) || json.Unmarshal(raw, &conds) != nil {
		return invalid("'conditions' must be a list of objects")
	}
	for _, c := range conds {
		var kind string
		if err := json.Unmarshal(c["kind"], &kind); err != nil {
			return invalid("Condition without 'kind'")
		}
	}
	return nil
}

// CheckActions checks actions as Synapse does: each is "notify", one of
// the legacy "dont_notify" and "coalesce" (accepted, then ignored), or an
// object with "set_tweak".
func CheckActions(raw json.RawMessage) error {
	var actions []json.RawMessage
	if !isArray(raw) || json.Unmarshal(raw, &actions) != nil {
		return invalid("No actions found")
	}
	for _, a := range actions {
		var s string
		if json.Unmarshal(a, &s) == nil {
			if s == "notify" || s == "dont_notify" || s == "coalesce" {
				continue
			}
			return invalid("Unrecognised action %s", s)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(a, &obj) == nil {
			if _, ok := obj["set_tweak"]; ok {
				continue
			}
		}
		return invalid("Unrecognised action %s", a)
	}
	return nil
}

func isArray(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '['
}

// compact drops insignificant whitespace from JSON already checked valid.
func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
