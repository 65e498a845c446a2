package rooms

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// DirectoryUser is one result of a user directory search.
type DirectoryUser struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// DirectorySettings are Synapse's user_directory options.
type DirectorySettings struct {
	Enabled        bool
	SearchAllUsers bool
}

// SearchUsers is POST /user_directory/search: the users requester may
// find whose ID or display name contains every word of term, as Synapse
// matches. Without search_all_users the scope is the spec's minimum:
// users sharing a room with the requester and users in public rooms
// (joinable by anyone, or world readable). Deactivated users are left
// out. limited reports that more than limit matched.
func (s *Service) SearchUsers(ctx context.Context, ds DirectorySettings, requester, term string, limit int) (results []DirectoryUser, limited bool, err error) {
	if !ds.Enabled {
		return nil, false, nil
	}
	public, err := s.publicRoomIDs(ctx)
	if err != nil {
		return nil, false, err
	}
	candidates, err := s.db.DirectoryCandidates(ctx, requester, public, ds.SearchAllUsers, ":"+s.signer.ServerName)
	if err != nil {
		return nil, false, err
	}
	names, avatars, deactivated, err := s.db.DirectoryProfiles(ctx, candidates)
	if err != nil {
		return nil, false, err
	}
	words := strings.Fields(strings.ToLower(term))
	for _, u := range candidates {
		if deactivated[u] {
			continue
		}
		du := DirectoryUser{UserID: u, DisplayName: jsonString(names[u]), AvatarURL: jsonString(avatars[u])}
		hay := strings.ToLower(u + " " + du.DisplayName)
		if !allContained(hay, words) {
			continue
		}
		results = append(results, du)
	}
	// Names that start with the term first, then by name, then ID.
	slices.SortFunc(results, func(a, b DirectoryUser) int {
		ap, bp := startsWithAny(a, words), startsWithAny(b, words)
		if ap != bp {
			if ap {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName)), cmp.Compare(a.UserID, b.UserID))
	})
	if len(results) > limit {
		return results[:limit], true, nil
	}
	return results, false, nil
}

// publicRoomIDs lists the rooms whose members anyone may see: join rule
// public or history world readable.
func (s *Service) publicRoomIDs(ctx context.Context) ([]string, error) {
	public := map[string]bool{}
	for _, c := range []struct{ typ, field, value string }{
		{typeJoinRules, "join_rule", "public"},
		{typeHistoryVisibility, "history_visibility", visWorldReadable},
	} {
		state, err := s.db.CurrentStateOfType(ctx, c.typ)
		if err != nil {
			return nil, err
		}
		for room, pdu := range state {
			if pduContentString(pdu, c.field) == c.value {
				public[room] = true
			}
		}
	}
	return slices.Collect(maps.Keys(public)), nil
}

func allContained(hay string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

func startsWithAny(u DirectoryUser, words []string) bool {
	if len(words) == 0 {
		return false
	}
	local := strings.ToLower(strings.TrimPrefix(u.UserID, "@"))
	name := strings.ToLower(u.DisplayName)
	return strings.HasPrefix(local, words[0]) || strings.HasPrefix(name, words[0])
}

// jsonString decodes a stored profile value ("" if it is not a string).
func jsonString(v string) string {
	var s string
	if json.Unmarshal([]byte(v), &s) != nil {
		return ""
	}
	return s
}
