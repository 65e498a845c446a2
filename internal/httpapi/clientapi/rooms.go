package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/canonicaljson"
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/rooms"
)

// Rooms is what the client API needs of the rooms service.
type Rooms interface {
	CreateRoom(ctx context.Context, req rooms.CreateRequest) (string, error)
	ChangeMembership(ctx context.Context, c rooms.MembershipChange) (string, error)
	ResolveAlias(ctx context.Context, alias string) (string, error)
	Send(ctx context.Context, roomID string, p rooms.Proto, txn *rooms.Txn) (string, error)
	Redact(ctx context.Context, roomID, sender, eventID, reason string, txn *rooms.Txn) (string, error)
	State(ctx context.Context, user, roomID string) ([]*rooms.Event, error)
	StateEvent(ctx context.Context, user, roomID, typ, stateKey string) (*rooms.Event, error)
	Members(ctx context.Context, user, roomID string, at int64, keep func(membership string) bool) ([]*rooms.Event, error)
	JoinedMembers(ctx context.Context, user, roomID string) ([]*rooms.Event, error)
	EventFor(ctx context.Context, user, roomID, eventID string) (*rooms.Event, error)
	JoinedRooms(ctx context.Context, user string) ([]string, error)
	Messages(ctx context.Context, req rooms.MessagesRequest) (rooms.MessagesPage, error)
	Forget(ctx context.Context, user, roomID string) error
	CreateAlias(ctx context.Context, user, alias, roomID string) error
	DeleteAlias(ctx context.Context, user, alias string) error
	AliasServers(alias string) []string
	RoomAliases(ctx context.Context, user, roomID string) ([]string, error)
	ShareRoom(ctx context.Context, a, b string) (bool, error)
	Context(ctx context.Context, req rooms.ContextRequest) (rooms.EventContext, error)
	PublicRooms(ctx context.Context, search string) ([]rooms.PublicRoom, error)
	Visibility(ctx context.Context, roomID string) (bool, error)
	SetVisibility(ctx context.Context, user, roomID string, published bool) error
	EventNearTimestamp(ctx context.Context, user, roomID string, ts int64, backwards bool) (*rooms.Event, error)
	SearchUsers(ctx context.Context, ds rooms.DirectorySettings, requester, term string, limit int) ([]rooms.DirectoryUser, bool, error)
}

// WithRooms enables the room endpoints, backed by r, and /sync, backed by
// s.
func (a *API) WithRooms(r Rooms, s Syncer) *API {
	a.rooms, a.syncer = r, s
	return a
}

func (a *API) registerRooms(rt *httpapi.Router) {
	if a.rooms == nil {
		return
	}
	a.handle(rt, http.MethodPost, "/createRoom", a.authed(a.createRoom))
	a.handle(rt, http.MethodPost, "/join/{roomIdOrAlias}", a.guestAuthed(a.joinRoom))
	a.handle(rt, http.MethodPost, "/rooms/{roomId}/join", a.guestAuthed(a.joinRoom))
	a.handle(rt, http.MethodPost, "/rooms/{roomId}/leave", a.guestAuthed(a.membershipOf(rooms.MembershipLeave, false)))
	a.handle(rt, http.MethodPost, "/rooms/{roomId}/invite", a.authed(a.membershipOf(rooms.MembershipInvite, true)))
	a.handle(rt, http.MethodPost, "/rooms/{roomId}/kick", a.authed(a.membershipOf(rooms.MembershipLeave, true)))
	a.handle(rt, http.MethodPost, "/rooms/{roomId}/ban", a.authed(a.membershipOf(rooms.MembershipBan, true)))
	a.handle(rt, http.MethodPost, "/rooms/{roomId}/unban", a.authed(a.membershipOf(rooms.MembershipLeave, true)))
	a.handle(rt, http.MethodPost, "/rooms/{roomId}/forget", a.authed(a.forgetRoom))
	a.handle(rt, http.MethodPut, "/rooms/{roomId}/send/{eventType}/{txnId}", a.guestAuthed(a.sendMessage))
	a.handle(rt, http.MethodPut, "/rooms/{roomId}/state/{eventType}", a.guestAuthed(a.putState))
	a.handle(rt, http.MethodPut, "/rooms/{roomId}/state/{eventType}/{stateKey...}", a.guestAuthed(a.putState))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/state", a.guestAuthed(a.getState))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/state/{eventType}", a.guestAuthed(a.getStateEvent))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/state/{eventType}/{stateKey...}", a.guestAuthed(a.getStateEvent))
	a.handle(rt, http.MethodPut, "/rooms/{roomId}/redact/{eventId}/{txnId}", a.authed(a.redact))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/event/{eventId}", a.guestAuthed(a.getEvent))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/members", a.guestAuthed(a.getMembers))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/joined_members", a.authed(a.getJoinedMembers))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/messages", a.guestAuthed(a.getMessages))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/context/{eventId}", a.guestAuthed(a.getContext))
	rt.Handle(http.MethodGet, "/_matrix/client/v1/rooms/{roomId}/timestamp_to_event", a.authed(a.timestampToEvent))
	a.handle(rt, http.MethodPost, "/knock/{roomIdOrAlias}", a.authed(a.knockRoom))
	a.handle(rt, http.MethodGet, "/rooms/{roomId}/aliases", a.authed(a.getRoomAliases))
	a.handle(rt, http.MethodGet, "/joined_rooms", a.authed(a.joinedRooms))
	a.handle(rt, http.MethodGet, "/directory/room/{roomAlias}", a.maybeAuthed(a.getAlias))
	a.handle(rt, http.MethodPut, "/directory/room/{roomAlias}", a.authed(a.putAlias))
	a.handle(rt, http.MethodDelete, "/directory/room/{roomAlias}", a.authed(a.deleteAlias))
	a.handle(rt, http.MethodPost, "/user_directory/search", a.authed(a.searchUserDirectory))
	a.handle(rt, http.MethodGet, "/publicRooms", a.authed(a.publicRooms))
	a.handle(rt, http.MethodPost, "/publicRooms", a.authed(a.publicRooms))
	a.handle(rt, http.MethodGet, "/directory/list/room/{roomId}", a.maybeAuthed(a.getVisibility))
	a.handle(rt, http.MethodPut, "/directory/list/room/{roomId}", a.authed(a.putVisibility))
	a.handle(rt, http.MethodGet, "/sync", a.guestAuthed(a.sync))
	a.registerPushRules(rt)
	a.registerEphemeral(rt) // typing, receipts, read markers, presence (ephemeral.go)
}

// roomsError maps the rooms service's errors to Matrix errors.
func roomsError(err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	var rule *authrules.RuleError
	switch {
	case errors.As(err, &rule):
		return httpapi.Forbidden(rule.Reason)
	case errors.Is(err, rooms.ErrNotFound):
		return httpapi.NotFound(msg)
	case errors.Is(err, rooms.ErrForbidden):
		return httpapi.Forbidden(msg)
	case errors.Is(err, rooms.ErrUnsupportedVersion):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_UNSUPPORTED_ROOM_VERSION", Message: "Unsupported room version"}
	case errors.Is(err, rooms.ErrTooLarge):
		return httpapi.TooLarge("Event is too large")
	case errors.Is(err, rooms.ErrAliasInUse):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_ROOM_IN_USE", Message: "Room alias already taken"}
	case errors.Is(err, rooms.ErrUnableToAuthoriseJoin):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_UNABLE_TO_AUTHORISE_JOIN", Message: msg}
	case errors.Is(err, rooms.ErrGuestAccess):
		return guestForbidden()
	case errors.Is(err, rooms.ErrInvalidParam):
		return httpapi.InvalidParam(msg)
	case errors.Is(err, rooms.ErrBadAlias):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_BAD_ALIAS", Message: msg}
	case errors.Is(err, rooms.ErrStillInRoom):
		return httpapi.Unknown(http.StatusBadRequest, "The user is still in the room")
	case errors.Is(err, rooms.ErrBadRequest):
		return httpapi.BadJSON(msg)
	}
	return err
}

// roomIDParam parses the {roomId} path parameter.
func roomIDParam(r *http.Request) (string, error) {
	roomID, err := id.ParseRoomID(r.PathValue("roomId"))
	if err != nil {
		return "", httpapi.InvalidParam("Invalid room ID")
	}
	return string(roomID), nil
}

// eventContent decodes a request body that is an event's content: any
// JSON object, checked as canonical JSON because it will be signed.
func eventContent(r *http.Request) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := httpapi.DecodeJSON(r, &raw); err != nil {
		return nil, err
	}
	canonical, err := canonicaljson.Canonicalize(raw)
	if err != nil {
		return nil, httpapi.BadJSON("Content is not valid canonical JSON: " + err.Error())
	}
	if len(canonical) == 0 || canonical[0] != '{' {
		return nil, httpapi.BadJSON("Content must be a JSON object")
	}
	return canonical, nil
}

type createRoomRequest struct {
	Visibility                string                     `json:"visibility"`
	RoomAliasName             string                     `json:"room_alias_name"`
	Name                      *string                    `json:"name"`
	Topic                     *string                    `json:"topic"`
	Invite                    []string                   `json:"invite"`
	RoomVersion               string                     `json:"room_version"`
	CreationContent           map[string]json.RawMessage `json:"creation_content"`
	InitialState              []initialStateEvent        `json:"initial_state"`
	Preset                    string                     `json:"preset"`
	IsDirect                  bool                       `json:"is_direct"`
	PowerLevelContentOverride map[string]json.RawMessage `json:"power_level_content_override"`
}

type initialStateEvent struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// maxInvites bounds createRoom's invite list.
const maxInvites = 100

func (a *API) createRoom(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var body createRoomRequest
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	req := rooms.CreateRequest{
		Creator: who.UserID, AliasLocalpart: body.RoomAliasName, Topic: body.Topic, RoomVersion: body.RoomVersion,
		CreationContent: body.CreationContent, Preset: body.Preset, IsDirect: body.IsDirect,
		PowerLevelOverride: body.PowerLevelContentOverride,
	}
	switch body.Visibility {
	case "", "private":
	case "public":
		req.Public = true
	default:
		return httpapi.InvalidParam("visibility must be public or private")
	}
	if body.Name != nil {
		req.Name = *body.Name
	}
	if len(body.Invite) > maxInvites {
		return httpapi.InvalidParam("Too many invites")
	}
	for _, u := range body.Invite {
		if _, err := id.ParseUserID(u); err != nil {
			return httpapi.InvalidParam("Invalid user ID in invite: " + u)
		}
	}
	req.Invite = body.Invite
	for _, st := range body.InitialState {
		if st.Type == "" || len(st.Content) == 0 {
			return httpapi.BadJSON("initial_state entries need a type and content")
		}
		req.InitialState = append(req.InitialState, rooms.StateEvent{Type: st.Type, StateKey: st.StateKey, Content: st.Content})
	}
	roomID, err := a.rooms.CreateRoom(r.Context(), req)
	if err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"room_id": roomID})
	return nil
}

type membershipBody struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
}

// joinRoom serves POST /join/{roomIdOrAlias} and /rooms/{roomId}/join.
func (a *API) joinRoom(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	target := r.PathValue("roomIdOrAlias")
	if target == "" {
		target = r.PathValue("roomId")
	}
	// The body's keys go into the member event, as in Synapse; reason is
	// checked like everywhere else.
	var body map[string]json.RawMessage
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	reason := ""
	if raw, ok := body["reason"]; ok {
		if err := json.Unmarshal(raw, &reason); err != nil {
			return httpapi.BadJSON("reason must be a string")
		}
		delete(body, "reason")
	}
	delete(body, "third_party_signed") // third-party invites come later
	roomID, err := a.resolveRoom(r.Context(), target)
	if err != nil {
		return err
	}
	if err := a.limitJoin(r, who); err != nil {
		return err
	}
	_, err = a.rooms.ChangeMembership(r.Context(), rooms.MembershipChange{
		Sender: who.UserID, RoomID: roomID, Target: who.UserID, Membership: rooms.MembershipJoin, Reason: reason, Extra: body,
		Guest: who.Guest,
	})
	if err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"room_id": roomID})
	return nil
}

// knockRoom serves POST /knock/{roomIdOrAlias}.
func (a *API) knockRoom(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var body membershipBody
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	roomID, err := a.resolveRoom(r.Context(), r.PathValue("roomIdOrAlias"))
	if err != nil {
		return err
	}
	if err := a.limitJoin(r, who); err != nil {
		return err
	}
	_, err = a.rooms.ChangeMembership(r.Context(), rooms.MembershipChange{
		Sender: who.UserID, RoomID: roomID, Target: who.UserID, Membership: rooms.MembershipKnock, Reason: body.Reason,
	})
	if err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"room_id": roomID})
	return nil
}

// resolveRoom accepts a room ID or a local alias.
func (a *API) resolveRoom(ctx context.Context, target string) (string, error) {
	if strings.HasPrefix(target, "#") {
		alias, err := id.ParseRoomAlias(target)
		if err != nil {
			return "", httpapi.InvalidParam("Invalid room alias")
		}
		roomID, err := a.rooms.ResolveAlias(ctx, string(alias))
		if err != nil {
			return "", roomsError(err)
		}
		return roomID, nil
	}
	roomID, err := id.ParseRoomID(target)
	if err != nil {
		return "", httpapi.InvalidParam("Invalid room ID or alias")
	}
	return string(roomID), nil
}

// membershipOf serves leave, invite, kick, ban and unban: the same member
// event with a different membership and target.
func (a *API) membershipOf(membership string, needsTarget bool) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
		roomID, err := roomIDParam(r)
		if err != nil {
			return err
		}
		var body membershipBody
		if err := decodeOptionalJSON(r, &body); err != nil {
			return err
		}
		target := who.UserID
		if needsTarget {
			if body.UserID == "" {
				return httpapi.MissingParam("Missing user_id")
			}
			if _, err := id.ParseUserID(body.UserID); err != nil {
				return httpapi.InvalidParam("Invalid user_id")
			}
			target = body.UserID
		}
		if membership == rooms.MembershipInvite {
			if err := a.limitInvite(r, who, roomID, target); err != nil {
				return err
			}
		}
		_, err = a.rooms.ChangeMembership(r.Context(), rooms.MembershipChange{
			Sender: who.UserID, RoomID: roomID, Target: target, Membership: membership, Reason: body.Reason,
		})
		if err != nil {
			return roomsError(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
}

func (a *API) forgetRoom(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	if err := a.rooms.Forget(r.Context(), who.UserID, roomID); err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// eventRequest reads what sending an event needs, room and content, and
// counts the send against rc_message.
func (a *API) eventRequest(r *http.Request, who accounts.Requester) (roomID string, content json.RawMessage, err error) {
	if roomID, err = roomIDParam(r); err != nil {
		return "", nil, err
	}
	if content, err = eventContent(r); err != nil {
		return "", nil, err
	}
	return roomID, content, a.limitMessage(r, who)
}

func (a *API) sendMessage(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, content, err := a.eventRequest(r, who)
	if err != nil {
		return err
	}
	typ := r.PathValue("eventType")
	txn := &rooms.Txn{DeviceID: who.DeviceID, Scope: "send/" + roomID + "/" + typ, TxnID: r.PathValue("txnId")}
	eventID, err := a.rooms.Send(r.Context(), roomID, rooms.Proto{Type: typ, Sender: who.UserID, Content: content}, txn)
	if err != nil {
		return roomsError(err)
	}
	if typ == "m.room.message" {
		a.bumpPresence(r.Context(), who) // Synapse counts messages as activity
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"event_id": eventID})
	return nil
}

func (a *API) putState(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, content, err := a.eventRequest(r, who)
	if err != nil {
		return err
	}
	stateKey := r.PathValue("stateKey")
	eventID, err := a.rooms.Send(r.Context(), roomID, rooms.Proto{
		Type: r.PathValue("eventType"), StateKey: &stateKey, Sender: who.UserID, Content: content, Guest: who.Guest,
	}, nil)
	if err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"event_id": eventID})
	return nil
}

func (a *API) redact(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	target, err := id.ParseEventID(r.PathValue("eventId"))
	if err != nil {
		return httpapi.InvalidParam("Invalid event ID")
	}
	if err := a.limitMessage(r, who); err != nil {
		return err
	}
	txn := &rooms.Txn{DeviceID: who.DeviceID, Scope: "redact/" + roomID + "/" + string(target), TxnID: r.PathValue("txnId")}
	eventID, err := a.rooms.Redact(r.Context(), roomID, who.UserID, string(target), body.Reason, txn)
	if err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"event_id": eventID})
	return nil
}

func clientFormat(who accounts.Requester) rooms.Format {
	return rooms.Format{NowMS: time.Now().UnixMilli(), UserID: who.UserID, DeviceID: who.DeviceID}
}

func (a *API) getState(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	evs, err := a.rooms.State(r.Context(), who.UserID, roomID)
	if err != nil {
		return roomsError(err)
	}
	writeRawJSON(w, rooms.ClientEvents(evs, clientFormat(who)))
	return nil
}

func (a *API) getStateEvent(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	ev, err := a.rooms.StateEvent(r.Context(), who.UserID, roomID, r.PathValue("eventType"), r.PathValue("stateKey"))
	if err != nil {
		return roomsError(err)
	}
	if r.URL.Query().Get("format") == "event" {
		writeRawJSON(w, rooms.ClientEvent(ev, clientFormat(who)))
		return nil
	}
	content, ok := rawjson.Lookup(ev.PDU, "content")
	if !ok {
		content = []byte("{}")
	}
	writeRawJSON(w, content)
	return nil
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	ev, err := a.rooms.EventFor(r.Context(), who.UserID, roomID, r.PathValue("eventId"))
	if err != nil {
		return roomsError(err)
	}
	writeRawJSON(w, rooms.ClientEvent(ev, clientFormat(who)))
	return nil
}

func (a *API) joinedRooms(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	ids, err := a.rooms.JoinedRooms(r.Context(), who.UserID)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []string{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string][]string{"joined_rooms": ids})
	return nil
}

// writeRawJSON writes an already-encoded JSON body.
func writeRawJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
