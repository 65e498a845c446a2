package clientapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/streams"
)

// getMembers serves GET /rooms/{roomId}/members with the membership and
// not_membership filters.
func (a *API) getMembers(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	want, notWant := q.Get("membership"), q.Get("not_membership")
	at, err := positionParam(q.Get("at"))
	if err != nil {
		return err
	}
	evs, err := a.rooms.Members(r.Context(), who.UserID, roomID, at, func(m string) bool {
		return (want == "" || m == want) && (notWant == "" || m != notWant)
	})
	if err != nil {
		return roomsError(err)
	}
	body := append([]byte(`{"chunk":`), rooms.ClientEvents(evs, clientFormat(who))...)
	writeRawJSON(w, append(body, '}'))
	return nil
}

// joinedMember always has both keys, null when unset, as in Synapse.
type joinedMember struct {
	DisplayName json.RawMessage `json:"display_name"`
	AvatarURL   json.RawMessage `json:"avatar_url"`
}

// getJoinedMembers serves GET /rooms/{roomId}/joined_members.
func (a *API) getJoinedMembers(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	evs, err := a.rooms.JoinedMembers(r.Context(), who.UserID, roomID)
	if err != nil {
		return roomsError(err)
	}
	joined := make(map[string]joinedMember, len(evs))
	for _, ev := range evs {
		content, _ := rawjson.Lookup(ev.PDU, "content")
		m := joinedMember{DisplayName: json.RawMessage("null"), AvatarURL: json.RawMessage("null")}
		if v, ok := rawjson.Lookup(content, "displayname"); ok && !rawjson.IsNull(v) {
			m.DisplayName = v
		}
		if v, ok := rawjson.Lookup(content, "avatar_url"); ok && !rawjson.IsNull(v) {
			m.AvatarURL = v
		}
		if ev.StateKey != nil {
			joined[*ev.StateKey] = m
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"joined": joined})
	return nil
}

// Pagination limits of /messages (Synapse's default and cap).
const (
	defaultMessagesLimit = 10
	maxMessagesLimit     = 1000
)

// getMessages serves GET /rooms/{roomId}/messages.
func (a *API) getMessages(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	req := rooms.MessagesRequest{User: who.UserID, RoomID: roomID, From: -1, To: -1, Limit: defaultMessagesLimit}
	switch q.Get("dir") {
	case "b":
		req.Backwards = true
	case "f", "": // Synapse's default when dir is missing
	default:
		return httpapi.InvalidParam("dir must be b or f")
	}
	if req.From, err = positionParam(q.Get("from")); err != nil {
		return err
	}
	if req.To, err = positionParam(q.Get("to")); err != nil {
		return err
	}
	if l := q.Get("limit"); l != "" {
		n, err := limitParam(l)
		if err != nil {
			return err
		}
		req.Limit = min(max(n, 1), maxMessagesLimit)
	}
	if f := q.Get("filter"); f != "" {
		var ef filter.RoomEventFilter
		if err := json.Unmarshal([]byte(f), &ef); err != nil {
			return httpapi.InvalidParam("filter is not a valid RoomEventFilter")
		}
		req.Filter = &ef
		if ef.Limit != nil {
			req.Limit = ef.LimitOr(defaultMessagesLimit, maxMessagesLimit)
		}
	}
	page, err := a.rooms.Messages(r.Context(), req)
	if err != nil {
		return roomsError(err)
	}
	start := req.From // as given, like Synapse, even past what the user may read
	if start < 0 {
		start = page.Start
	}
	resp := map[string]any{
		"start": streams.Token{Events: start}.String(),
		"chunk": json.RawMessage(rooms.ClientEvents(page.Events, clientFormat(who))),
	}
	if page.End >= 0 {
		resp["end"] = streams.Token{Events: page.End}.String()
	}
	if page.Members != nil {
		resp["state"] = json.RawMessage(rooms.ClientEvents(page.Members, clientFormat(who)))
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// positionParam parses a pagination token into an events position; ""
// is -1 (unset).
func positionParam(s string) (int64, error) {
	if s == "" {
		return -1, nil
	}
	t, err := streams.ParseToken(s)
	if err != nil {
		return 0, httpapi.InvalidParam("Invalid pagination token")
	}
	return t.Events, nil
}

// getContext serves GET /rooms/{roomId}/context/{eventId}.
func (a *API) getContext(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	req := rooms.ContextRequest{User: who.UserID, RoomID: roomID, EventID: r.PathValue("eventId"), Limit: defaultMessagesLimit}
	if l := q.Get("limit"); l != "" {
		n, err := limitParam(l)
		if err != nil {
			return err
		}
		req.Limit = min(max(n, 0), maxMessagesLimit)
	}
	if f := q.Get("filter"); f != "" {
		var ef filter.RoomEventFilter
		if err := json.Unmarshal([]byte(f), &ef); err != nil {
			return httpapi.InvalidParam("filter is not a valid RoomEventFilter")
		}
		req.Filter = &ef
	}
	c, err := a.rooms.Context(r.Context(), req)
	if err != nil {
		return roomsError(err)
	}
	f := clientFormat(who)
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"event":         json.RawMessage(rooms.ClientEvent(c.Event, f)),
		"events_before": json.RawMessage(rooms.ClientEvents(c.Before, f)),
		"events_after":  json.RawMessage(rooms.ClientEvents(c.After, f)),
		"state":         json.RawMessage(rooms.ClientEvents(c.State, f)),
		"start":         streams.Token{Events: c.Start}.String(),
		"end":           streams.Token{Events: c.End}.String(),
	})
	return nil
}

// timestampToEvent serves GET /v1/rooms/{roomId}/timestamp_to_event.
func (a *API) timestampToEvent(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil {
		return httpapi.InvalidParam("ts must be an integer")
	}
	var backwards bool
	switch q.Get("dir") {
	case "f":
	case "b":
		backwards = true
	default:
		return httpapi.InvalidParam("dir must be f or b")
	}
	ev, err := a.rooms.EventNearTimestamp(r.Context(), who.UserID, roomID, ts, backwards)
	if err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"event_id": ev.EventID, "origin_server_ts": ev.OriginServerTS})
	return nil
}

// limitParam reads a limit query parameter. Absurd values are clamped by
// the caller rather than refused; only a non-integer is an error.
func limitParam(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, httpapi.InvalidParam("limit must be an integer")
	}
	return int(min(max(n, -1), 1<<31)), nil
}
