package config

import (
	"strings"

	"github.com/axonhs/axon/internal/matrix/id"
)

// AutoJoin holds Synapse's auto_join_rooms settings: rooms every new user
// joins, created on first use when they do not exist.
type AutoJoin struct {
	Rooms      []string // auto_join_rooms: room aliases or IDs
	Autocreate bool     // autocreate_auto_join_rooms (default true)
	Federated  bool     // autocreate_auto_join_rooms_federated (default true)
	Preset     string   // autocreate_auto_join_room_preset (default public_chat)
	MXIDLocal  string   // auto_join_mxid_localpart
	ForGuests  bool     // auto_join_rooms_for_guests (default true)
}

func defaultAutoJoin() AutoJoin {
	return AutoJoin{Autocreate: true, Federated: true, Preset: "public_chat", ForGuests: true}
}

var autoJoinPresets = []string{"public_chat", "private_chat", "trusted_private_chat"}

func (l *loader) autoJoinRooms(e entry, path string) {
	if isNull(e.val) {
		return
	}
	rooms, ok := l.w.stringList(e.val, path)
	if !ok {
		return
	}
	for i, r := range rooms {
		// Synapse only checks the sigil and the colon; a malformed server
		// part is worth a warning (the seeds ship placeholders), not a
		// refusal to start.
		if !(strings.HasPrefix(r, "#") || strings.HasPrefix(r, "!")) || !strings.Contains(r, ":") {
			l.w.errorf(e.val, index(path, i), "expected a room alias (#room:server) or room ID, got %q", r)
			return
		}
		_, aliasErr := id.ParseRoomAlias(r)
		_, roomErr := id.ParseRoomID(r)
		if aliasErr != nil && roomErr != nil {
			l.w.warnf(e.val, index(path, i), "%q is not a valid room alias or ID; joining it will fail", r)
		}
	}
	l.c.AutoJoin.Rooms = rooms
}

func (l *loader) autoJoinPreset(e entry, path string) {
	if isNull(e.val) {
		return
	}
	s, ok := l.w.str(e.val, path)
	if !ok {
		return
	}
	for _, p := range autoJoinPresets {
		if s == p {
			l.c.AutoJoin.Preset = s
			return
		}
	}
	l.w.errorf(e.val, path, "expected one of %s, got %q", strings.Join(autoJoinPresets, ", "), s)
}

// checkAutoJoin applies Synapse's cross-key rule: invite-only presets
// need a user to invite new members.
func (l *loader) checkAutoJoin() {
	aj := l.c.AutoJoin
	if len(aj.Rooms) > 0 && aj.Autocreate && aj.Preset != "public_chat" && aj.MXIDLocal == "" {
		l.w.errorf(nil, "autocreate_auto_join_room_preset", "%s needs auto_join_mxid_localpart, the user who invites new users", aj.Preset)
	}
	if aj.MXIDLocal != "" {
		if err := id.ValidateUserLocalpart(aj.MXIDLocal); err != nil {
			l.w.errorf(nil, "auto_join_mxid_localpart", "invalid user localpart %q: %v", aj.MXIDLocal, err)
		}
	}
}
