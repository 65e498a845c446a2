package rooms

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/event"
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/matrix/roomversion"
	"github.com/axonhs/axon/internal/storage"
)

// Presets of POST /createRoom.
const (
	PresetPrivateChat        = "private_chat"
	PresetTrustedPrivateChat = "trusted_private_chat"
	PresetPublicChat         = "public_chat"
)

// StateEvent is one entry of createRoom's initial_state.
type StateEvent struct {
	Type     string
	StateKey string
	Content  json.RawMessage
}

// CreateRequest is POST /createRoom, validated by the caller for shape.
type CreateRequest struct {
	Creator         string
	Public          bool   // visibility "public": published in the directory
	AliasLocalpart  string // room_alias_name
	Name            string
	Topic           *string
	Invite          []string
	RoomVersion     string // "" for the default
	CreationContent map[string]json.RawMessage
	InitialState    []StateEvent
	Preset          string // "" picks by visibility
	IsDirect        bool
	// PowerLevelOverride is merged key by key over the default power levels.
	PowerLevelOverride map[string]json.RawMessage
}

// presetState are the join rules, history visibility and guest access a
// preset sets.
type presetState struct {
	joinRule, historyVisibility, guestAccess string
	invitesAreOps, inviteLevelZero           bool
}

var presets = map[string]presetState{
	PresetPrivateChat:        {"invite", "shared", "can_join", false, true},
	PresetTrustedPrivateChat: {"invite", "shared", "can_join", true, true},
	PresetPublicChat:         {"public", "shared", "forbidden", false, false},
}

// CreateRoom creates a room as the spec's createRoom describes, sending its
// initial events in order; it returns the room ID once all are durable.
func (s *Service) CreateRoom(ctx context.Context, req CreateRequest) (string, error) {
	plan, err := s.planRoom(ctx, req)
	if err != nil {
		return "", err
	}
	r := &room{version: plan.version, state: map[authrules.StateKey]*event.Event{}, loaded: true}
	r.mu.Lock()
	last, roomID, err := s.sendPlan(ctx, r, plan)
	r.mu.Unlock()
	if err != nil {
		return "", err
	}
	// The room's writes commit in order, so the last one being durable
	// means all are.
	if err := s.await(r, last, nil); err != nil {
		return "", err
	}
	if plan.alias != "" {
		if err := s.db.CreateAlias(ctx, plan.alias, roomID, req.Creator); err != nil {
			return "", aliasError(err)
		}
	}
	if req.Public {
		if err := s.db.SetRoomPublished(ctx, roomID, true); err != nil {
			return "", err
		}
	}
	return roomID, nil
}

// roomPlan is the list of events a new room starts with.
type roomPlan struct {
	version roomversion.Version
	alias   string
	events  []Proto
}

func (s *Service) planRoom(ctx context.Context, req CreateRequest) (roomPlan, error) {
	var plan roomPlan
	versionID := req.RoomVersion
	if versionID == "" {
		versionID = s.settings.DefaultRoomVersion
	}
	v, ok := roomversion.Lookup(versionID)
	if !ok {
		return plan, fmt.Errorf("%w: %q", ErrUnsupportedVersion, versionID)
	}
	plan.version = v
	preset := req.Preset
	if preset == "" {
		preset = PresetPrivateChat
		if req.Public {
			preset = PresetPublicChat
		}
	}
	ps, ok := presets[preset]
	if !ok {
		return plan, fmt.Errorf("%w: unknown preset %q", ErrBadRequest, preset)
	}
	if req.AliasLocalpart != "" {
		alias, err := id.NewRoomAlias(req.AliasLocalpart, id.ServerName(s.signer.ServerName))
		if err != nil {
			return plan, fmt.Errorf("%w: invalid room_alias_name: %w", ErrBadRequest, err)
		}
		if _, err := s.db.AliasRoom(ctx, string(alias)); err == nil {
			return plan, ErrAliasInUse
		}
		plan.alias = string(alias)
	}
	initial := map[authrules.StateKey]json.RawMessage{}
	for _, st := range req.InitialState {
		if st.Type == typeCreate || st.Type == typeMember {
			return plan, fmt.Errorf("%w: initial_state may not contain %s", ErrBadRequest, st.Type)
		}
		initial[authrules.StateKey{Type: st.Type, StateKey: st.StateKey}] = st.Content
	}

	add := func(typ, stateKey string, content any) error {
		raw, err := jsonContent(content)
		if err != nil {
			return err
		}
		plan.events = append(plan.events, Proto{Type: typ, StateKey: &stateKey, Sender: req.Creator, Content: raw})
		return nil
	}
	createContent := maps.Clone(req.CreationContent)
	if createContent == nil {
		createContent = map[string]json.RawMessage{}
	}
	createContent["room_version"] = mustJSON(v.ID())
	if !v.NoCreatorField() {
		createContent["creator"] = mustJSON(req.Creator)
	}
	steps := []func() error{
		func() error { return add(typeCreate, "", createContent) },
		func() error {
			return add(typeMember, req.Creator, s.memberContent(ctx, req.Creator, membershipJoin, false))
		},
		func() error {
			if pl, ok := initial[authrules.StateKey{Type: typePowerLevels}]; ok {
				delete(initial, authrules.StateKey{Type: typePowerLevels})
				return add(typePowerLevels, "", pl)
			}
			return add(typePowerLevels, "", s.powerLevels(v, req, ps))
		},
		func() error {
			if plan.alias == "" {
				return nil
			}
			return add(typeCanonicalAlias, "", map[string]string{"alias": plan.alias})
		},
	}
	for _, st := range []struct{ typ, key, value string }{
		{typeJoinRules, "join_rule", ps.joinRule},
		{typeHistoryVisibility, "history_visibility", ps.historyVisibility},
		{typeGuestAccess, "guest_access", ps.guestAccess},
	} {
		steps = append(steps, func() error {
			if _, ok := initial[authrules.StateKey{Type: st.typ}]; ok {
				return nil // initial_state wins over the preset
			}
			return add(st.typ, "", map[string]string{st.key: st.value})
		})
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return plan, err
		}
	}
	for _, st := range req.InitialState {
		k := authrules.StateKey{Type: st.Type, StateKey: st.StateKey}
		if content, ok := initial[k]; ok {
			if err := add(st.Type, st.StateKey, content); err != nil {
				return plan, err
			}
			delete(initial, k) // a duplicate entry is sent once, with its last content
		}
	}
	if req.Name != "" {
		if err := add(typeName, "", map[string]string{"name": req.Name}); err != nil {
			return plan, err
		}
	}
	if req.Topic != nil {
		if err := add(typeTopic, "", topicContent(*req.Topic)); err != nil {
			return plan, err
		}
	}
	for _, invitee := range req.Invite {
		if err := add(typeMember, invitee, s.memberContent(ctx, invitee, membershipInvite, req.IsDirect)); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// sendPlan builds all of the plan's events on the new room r (locked by
// the caller) and, only if every one is accepted, queues them and returns
// the last write: a refused initial_state event leaves no half-made room.
// The first event creates the room and fixes its ID.
func (s *Service) sendPlan(ctx context.Context, r *room, plan roomPlan) (*write, string, error) {
	if !plan.version.RoomIDFromCreateEvent() {
		r.id = newRoomID(s.signer.ServerName)
	}
	writes := make([]*write, 0, len(plan.events))
	for i, p := range plan.events {
		ev, w, err := s.buildLocked(ctx, r, p, nil)
		if err != nil {
			return nil, "", err
		}
		if i == 0 {
			r.id = ev.RoomID()
			w.row.NewRoom = &storage.NewRoom{RoomID: r.id, Version: plan.version.ID(), Creator: ev.Sender(), CreatedTS: ev.OriginServerTS()}
		}
		writes = append(writes, w)
	}
	s.adopt(r)
	for _, w := range writes {
		s.queueLocked(r, w, nil)
	}
	return writes[len(writes)-1], r.id, nil
}

// adopt registers a newly created room's head.
func (s *Service) adopt(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rooms[r.id] = r
}

// newRoomID makes a room ID for room versions whose ID is chosen by the
// creating server.
func newRoomID(server string) string {
	return "!" + rand.Text()[:18] + ":" + server
}

// powerLevels is the initial m.room.power_levels content, as Synapse
// builds it.
func (s *Service) powerLevels(v roomversion.Version, req CreateRequest, ps presetState) map[string]json.RawMessage {
	users := map[string]int64{}
	if !v.PrivilegedCreators() {
		users[req.Creator] = 100
	}
	if ps.invitesAreOps {
		for _, invitee := range req.Invite {
			users[invitee] = 100
		}
	}
	invite := int64(50)
	if ps.inviteLevelZero {
		invite = 0
	}
	pl := map[string]json.RawMessage{
		"users":         mustJSON(users),
		"users_default": mustJSON(0),
		"events": mustJSON(map[string]int64{
			typeName: 50, typePowerLevels: 100, typeHistoryVisibility: 100, typeCanonicalAlias: 50,
			"m.room.avatar": 50, "m.room.tombstone": tombstoneLevel(v), "m.room.server_acl": 100, typeEncryption: 100,
		}),
		"events_default": mustJSON(0),
		"state_default":  mustJSON(50),
		"ban":            mustJSON(50),
		"kick":           mustJSON(50),
		"redact":         mustJSON(50),
		"invite":         mustJSON(invite),
		"historical":     mustJSON(100),
	}
	maps.Copy(pl, req.PowerLevelOverride)
	return pl
}

// topicContent includes the m.topic text/plain form (spec v1.15) beside the
// legacy topic key.
func topicContent(topic string) map[string]any {
	return map[string]any{
		"topic":   topic,
		"m.topic": map[string]any{"m.text": []map[string]string{{"body": topic, "mimetype": "text/plain"}}},
	}
}

// jsonContent canonicalises an event content given as a Go value or raw
// JSON.
func jsonContent(content any) (json.RawMessage, error) {
	if raw, ok := content.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := canonicaljson.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return b, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// tombstoneLevel is the power level needed to upgrade a room: above every
// admin's in versions where creators outrank power levels (v12), so only
// creators can, as Synapse sets it.
func tombstoneLevel(v roomversion.Version) int64 {
	if v.PrivilegedCreators() {
		return 150
	}
	return 100
}
