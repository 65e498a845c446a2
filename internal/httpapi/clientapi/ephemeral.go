package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/presence"
	"github.com/axonhs/axon/internal/receipts"
	"github.com/axonhs/axon/internal/typing"
)

// Typing is what the client API needs of the typing service.
type Typing interface {
	Set(ctx context.Context, req typing.Request) error
}

// Receipts is what the client API needs of the receipts service.
type Receipts interface {
	Send(ctx context.Context, r receipts.Receipt) error
	SetFullyRead(ctx context.Context, user, roomID, eventID string) error
}

// Presence is what the client API needs of the presence service.
type Presence interface {
	SetState(ctx context.Context, requester, target, deviceID, state, msg string) error
	Get(ctx context.Context, requester, target string) (presence.Content, error)
	Bump(ctx context.Context, userID, deviceID string)
}

// Ephemeral are the services behind typing notifications, receipts, read
// markers and presence; a nil one leaves its endpoints out.
type Ephemeral struct {
	Typing   Typing
	Receipts Receipts
	Presence Presence
}

// WithEphemeral enables the typing, receipt, read marker and presence
// endpoints.
func (a *API) WithEphemeral(e Ephemeral) *API {
	a.ephemeral = e
	return a
}

func (a *API) registerEphemeral(rt *httpapi.Router) {
	e := a.ephemeral
	if e.Typing != nil {
		a.handle(rt, http.MethodPut, "/rooms/{roomId}/typing/{userId}", a.authed(a.putTyping))
	}
	if e.Receipts != nil {
		a.handle(rt, http.MethodPost, "/rooms/{roomId}/receipt/{receiptType}/{eventId}", a.authed(a.postReceipt))
		a.handle(rt, http.MethodPost, "/rooms/{roomId}/read_markers", a.authed(a.postReadMarkers))
	}
	if e.Presence != nil {
		a.handle(rt, http.MethodPut, "/presence/{userId}/status", a.authed(a.putPresence))
		a.handle(rt, http.MethodGet, "/presence/{userId}/status", a.authed(a.getPresence))
	}
}

// bumpPresence counts a request as activity of the user's device, as
// Synapse does for typing, receipts and read markers.
func (a *API) bumpPresence(ctx context.Context, who accounts.Requester) {
	if a.ephemeral.Presence != nil {
		a.ephemeral.Presence.Bump(ctx, who.UserID, who.DeviceID)
	}
}

// userIDParam parses the {userId} path parameter.
func userIDParam(r *http.Request) (string, error) {
	u, err := id.ParseUserID(r.PathValue("userId"))
	if err != nil {
		return "", httpapi.InvalidParam("Invalid user ID")
	}
	return string(u), nil
}

// putTyping serves PUT /rooms/{roomId}/typing/{userId}.
func (a *API) putTyping(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	target, err := userIDParam(r)
	if err != nil {
		return err
	}
	var body struct {
		Typing  *bool  `json:"typing"`
		Timeout *int64 `json:"timeout"` // ms
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Typing == nil {
		return httpapi.MissingParam("Missing typing")
	}
	timeout := typing.DefaultTimeout
	if body.Timeout != nil {
		// Bounded before converting, so a huge value cannot overflow.
		ms := min(max(*body.Timeout, 0), typing.MaxTimeout.Milliseconds())
		timeout = time.Duration(ms) * time.Millisecond
	}
	a.bumpPresence(r.Context(), who)
	err = a.ephemeral.Typing.Set(r.Context(), typing.Request{
		Requester: who.UserID, Target: target, RoomID: roomID, Typing: *body.Typing, Timeout: timeout,
	})
	switch {
	case errors.Is(err, typing.ErrNotSelf):
		return httpapi.Forbidden("Cannot set another user's typing state")
	case errors.Is(err, typing.ErrNotJoined):
		return httpapi.Forbidden("User " + who.UserID + " not in room " + roomID)
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// receiptsError maps the receipts service's errors to Matrix errors.
func receiptsError(err error) error {
	switch {
	case errors.Is(err, receipts.ErrNotJoined):
		return httpapi.Forbidden("You are not in this room")
	case errors.Is(err, receipts.ErrUnknownEvent):
		return httpapi.NotFound("Event not found")
	case errors.Is(err, receipts.ErrNotInThread):
		return httpapi.InvalidParam(err.Error())
	}
	return err
}

// postReceipt serves POST /rooms/{roomId}/receipt/{receiptType}/{eventId}.
func (a *API) postReceipt(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	eventID, err := id.ParseEventID(r.PathValue("eventId"))
	if err != nil {
		return httpapi.InvalidParam("Invalid event ID")
	}
	typ := r.PathValue("receiptType")
	switch typ {
	case receipts.TypeRead, receipts.TypeReadPrivate, receipts.TypeFullyRead:
	default:
		return httpapi.InvalidParam("Receipt type must be m.read, m.read.private or m.fully_read")
	}
	var body struct {
		ThreadID json.RawMessage `json:"thread_id"`
	}
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	thread, err := threadID(body.ThreadID, typ)
	if err != nil {
		return err
	}
	a.bumpPresence(r.Context(), who)
	if typ == receipts.TypeFullyRead {
		err = a.ephemeral.Receipts.SetFullyRead(r.Context(), who.UserID, roomID, string(eventID))
	} else {
		err = a.ephemeral.Receipts.Send(r.Context(), receipts.Receipt{
			User: who.UserID, RoomID: roomID, Type: typ, EventID: string(eventID), ThreadID: thread,
		})
	}
	if err != nil {
		return receiptsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// threadID validates a receipt's thread_id as the spec's 400 cases say:
// absent, or a non-empty string on a receipt type that has threads.
func threadID(raw json.RawMessage, typ string) (string, error) {
	if raw == nil {
		return "", nil
	}
	var thread string
	if err := json.Unmarshal(raw, &thread); err != nil || thread == "" {
		return "", httpapi.InvalidParam("thread_id field must be a non-empty string")
	}
	if typ == receipts.TypeFullyRead {
		return "", httpapi.InvalidParam("thread_id is not compatible with m.fully_read receipts")
	}
	if thread != receipts.MainThread {
		if _, err := id.ParseEventID(thread); err != nil {
			return "", httpapi.InvalidParam("thread_id must be main or a thread root's event ID")
		}
	}
	return thread, nil
}

// postReadMarkers serves POST /rooms/{roomId}/read_markers: the fully read
// marker and, as if sent to /receipt, the public and private receipts.
func (a *API) postReadMarkers(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	// Unknown keys are ignored, as Synapse does: receipt types are
	// extensible.
	markers := map[string]string{}
	for _, typ := range []string{receipts.TypeRead, receipts.TypeReadPrivate, receipts.TypeFullyRead} {
		raw, ok := body[typ]
		if !ok || string(raw) == "null" {
			continue
		}
		var eventID string
		if err := json.Unmarshal(raw, &eventID); err != nil {
			return httpapi.BadJSON(typ + " must be an event ID")
		}
		if eventID == "" {
			continue
		}
		if _, err := id.ParseEventID(eventID); err != nil {
			return httpapi.InvalidParam("Invalid event ID in " + typ)
		}
		markers[typ] = eventID
	}
	a.bumpPresence(r.Context(), who)
	for _, typ := range []string{receipts.TypeRead, receipts.TypeReadPrivate, receipts.TypeFullyRead} {
		eventID, ok := markers[typ]
		if !ok {
			continue
		}
		if typ == receipts.TypeFullyRead {
			err = a.ephemeral.Receipts.SetFullyRead(r.Context(), who.UserID, roomID, eventID)
		} else {
			err = a.ephemeral.Receipts.Send(r.Context(), receipts.Receipt{User: who.UserID, RoomID: roomID, Type: typ, EventID: eventID})
		}
		if err != nil {
			return receiptsError(err)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// putPresence serves PUT /presence/{userId}/status.
func (a *API) putPresence(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	target, err := userIDParam(r)
	if err != nil {
		return err
	}
	if target != who.UserID {
		return httpapi.Forbidden("Can only set your own presence state")
	}
	var body struct {
		Presence  *string `json:"presence"`
		StatusMsg *string `json:"status_msg"`
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Presence == nil {
		return httpapi.MissingParam("Missing presence")
	}
	if !presence.ValidState(*body.Presence) {
		return httpapi.InvalidParam("Invalid presence state")
	}
	msg := ""
	if body.StatusMsg != nil {
		msg = *body.StatusMsg
	}
	if err := a.ephemeral.Presence.SetState(r.Context(), who.UserID, target, who.DeviceID, *body.Presence, msg); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// getPresence serves GET /presence/{userId}/status.
func (a *API) getPresence(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	target, err := userIDParam(r)
	if err != nil {
		return err
	}
	content, err := a.ephemeral.Presence.Get(r.Context(), who.UserID, target)
	if errors.Is(err, presence.ErrNotVisible) {
		return httpapi.Forbidden("You are not allowed to see their presence")
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, content)
	return nil
}
