package rooms

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/rawjson"
)

// Join rules of restricted rooms (room versions 8 and 10 onwards).
const (
	joinRuleRestricted      = "restricted"
	joinRuleKnockRestricted = "knock_restricted"
)

// restrictedJoin is what a join to a restricted room needs decided
// before its event is built.
type restrictedJoin struct {
	allowRooms  []string // rooms whose members may join
	authorisers []string // local members who may invite, best first
}

// joinAuthoriser returns the local user to name in
// join_authorised_via_users_server for user's join to r, or "" when the
// join needs none (the room is not restricted, or user is already joined
// or invited). Membership of the allowed rooms is read from the database,
// not from their heads, so no two room locks are ever held at once.
func (s *Service) joinAuthoriser(ctx context.Context, r *room, user string) (string, error) {
	rj, needed := s.restrictedJoinOf(r, user)
	if !needed {
		return "", nil
	}
	memberships, err := s.db.UserMemberships(ctx, user)
	if err != nil {
		return "", err
	}
	allowed := false
	for _, m := range memberships {
		if m.Membership == membershipJoin && slices.Contains(rj.allowRooms, m.RoomID) {
			allowed = true
			break
		}
	}
	if !allowed {
		return "", fmt.Errorf("%w: you do not belong to any of the rooms or spaces this room allows", ErrForbidden)
	}
	if len(rj.authorisers) == 0 {
		return "", fmt.Errorf("%w: no user on this server can authorise your join", ErrUnableToAuthoriseJoin)
	}
	return rj.authorisers[0], nil
}

// ErrUnableToAuthoriseJoin: no local user may invite into the restricted
// room (M_UNABLE_TO_AUTHORISE_JOIN).
var ErrUnableToAuthoriseJoin = fmt.Errorf("rooms: unable to authorise join")

// restrictedJoinOf reads r's join rules under its lock.
func (s *Service) restrictedJoinOf(r *room, user string) (restrictedJoin, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	jr := r.stateEvent(typeJoinRules, "")
	if jr == nil || !r.version.RestrictedJoins() {
		return restrictedJoin{}, false
	}
	rule := contentString(jr, "join_rule")
	if rule != joinRuleRestricted && !(rule == joinRuleKnockRestricted && r.version.KnockRestricted()) {
		return restrictedJoin{}, false
	}
	switch r.membership(user) {
	case membershipJoin, membershipInvite:
		return restrictedJoin{}, false // the auth rules let these join as they are
	}
	var rj restrictedJoin
	if allow, ok := rawjson.Lookup(jr.Content(), "allow"); ok {
		rawjson.ArrayEach(allow, func(elem []byte) bool {
			if t, _ := rawjson.LookupString(elem, "type"); t == "m.room_membership" {
				if id, ok := rawjson.LookupString(elem, "room_id"); ok {
					rj.allowRooms = append(rj.allowRooms, id)
				}
			}
			return true
		})
	}
	rj.authorisers = r.localInviters(s.signer.ServerName)
	return rj, true
}

// localInviters lists the joined local members whose power level lets
// them invite, highest first. r.mu must be held.
func (r *room) localInviters(server string) []string {
	var pl []byte
	if ev := r.stateEvent(typePowerLevels, ""); ev != nil {
		pl = ev.Content()
	}
	need := int64(0)
	if v, ok := rawjson.Lookup(pl, "invite"); ok {
		if n, ok := authrules.ParseLevel(r.version, v); ok {
			need = n
		}
	}
	type candidate struct {
		user  string
		level int64
	}
	var cands []candidate
	creators := r.creators()
	for k, ev := range r.state {
		if k.Type != typeMember || contentString(ev, "membership") != membershipJoin || !isLocal(k.StateKey, server) {
			continue
		}
		level := authrules.UserLevel(r.version, pl, k.StateKey)
		if r.version.PrivilegedCreators() && slices.Contains(creators, k.StateKey) {
			level = 1 << 53 // creators outrank every power level
		}
		if level >= need {
			cands = append(cands, candidate{k.StateKey, level})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.level != b.level {
			if a.level > b.level {
				return -1
			}
			return 1
		}
		if a.user < b.user {
			return -1
		}
		return 1
	})
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.user
	}
	return out
}

func isLocal(user, server string) bool {
	return len(user) > len(server) && user[len(user)-len(server)-1:] == ":"+server
}

// withAuthoriser adds join_authorised_via_users_server to a member
// event's content.
func withAuthoriser(content json.RawMessage, authoriser string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(content, &m); err != nil {
		return nil, err
	}
	m["join_authorised_via_users_server"] = mustJSON(authoriser)
	return jsonContent(m)
}
