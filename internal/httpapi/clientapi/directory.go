package clientapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/rooms"
)

func aliasParam(r *http.Request) (string, error) {
	alias, err := id.ParseRoomAlias(r.PathValue("roomAlias"))
	if err != nil {
		return "", httpapi.InvalidParam("Invalid room alias")
	}
	return string(alias), nil
}

// getAlias serves GET /directory/room/{roomAlias}.
func (a *API) getAlias(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	alias, err := aliasParam(r)
	if err != nil {
		return err
	}
	roomID, err := a.rooms.ResolveAlias(r.Context(), alias)
	if err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"room_id": roomID, "servers": a.rooms.AliasServers(alias)})
	return nil
}

// putAlias serves PUT /directory/room/{roomAlias}.
func (a *API) putAlias(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	alias, err := aliasParam(r)
	if err != nil {
		return err
	}
	var body struct {
		RoomID string `json:"room_id"`
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	roomID, err := id.ParseRoomID(body.RoomID)
	if err != nil {
		return httpapi.InvalidParam("Invalid room_id")
	}
	err = a.rooms.CreateAlias(r.Context(), who.UserID, alias, string(roomID))
	if err == nil {
		httpapi.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
	if isAliasInUse(err) {
		return &httpapi.Error{Status: http.StatusConflict, Code: "M_UNKNOWN", Message: "Room alias " + alias + " already exists"}
	}
	return roomsError(err)
}

// deleteAlias serves DELETE /directory/room/{roomAlias}.
func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	alias, err := aliasParam(r)
	if err != nil {
		return err
	}
	if err := a.rooms.DeleteAlias(r.Context(), who.UserID, alias); err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// getRoomAliases serves GET /rooms/{roomId}/aliases.
func (a *API) getRoomAliases(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	aliases, err := a.rooms.RoomAliases(r.Context(), who.UserID, roomID)
	if err != nil {
		return roomsError(err)
	}
	if aliases == nil {
		aliases = []string{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string][]string{"aliases": aliases})
	return nil
}

func isAliasInUse(err error) bool { return errors.Is(err, rooms.ErrAliasInUse) }

// Public room directory paging (Synapse's default page is unbounded; a
// cap keeps one request bounded).
const (
	maxPublicRoomsLimit = 500
)

type publicRoomsRequest struct {
	Limit  *int   `json:"limit"`
	Since  string `json:"since"`
	Server string `json:"server"`
	Filter *struct {
		GenericSearchTerm string `json:"generic_search_term"`
	} `json:"filter"`
}

// publicRooms serves GET and POST /publicRooms.
func (a *API) publicRooms(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	var req publicRoomsRequest
	if r.Method == http.MethodPost {
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return err
		}
	} else {
		q := r.URL.Query()
		req.Since, req.Server = q.Get("since"), q.Get("server")
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil {
				return httpapi.InvalidParam("limit must be an integer")
			}
			req.Limit = &n
		}
	}
	if req.Server != "" && req.Server != a.accounts.ServerName() {
		return httpapi.Forbidden("Listing the rooms of other servers needs federation, which is not available yet")
	}
	search := ""
	if req.Filter != nil {
		search = req.Filter.GenericSearchTerm
	}
	all, err := a.rooms.PublicRooms(r.Context(), search)
	if err != nil {
		return roomsError(err)
	}
	offset := 0
	if req.Since != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(req.Since, "o"))
		if err != nil || n < 0 || !strings.HasPrefix(req.Since, "o") {
			return httpapi.InvalidParam("Invalid since token")
		}
		offset = min(n, len(all))
	}
	limit := maxPublicRoomsLimit
	if req.Limit != nil && *req.Limit > 0 {
		limit = min(*req.Limit, maxPublicRoomsLimit)
	}
	end := min(offset+limit, len(all))
	resp := map[string]any{"chunk": all[offset:end], "total_room_count_estimate": len(all)}
	if end < len(all) {
		resp["next_batch"] = "o" + strconv.Itoa(end)
	}
	if offset > 0 {
		resp["prev_batch"] = "o" + strconv.Itoa(max(0, offset-limit))
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// getVisibility serves GET /directory/list/room/{roomId}.
func (a *API) getVisibility(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	published, err := a.rooms.Visibility(r.Context(), roomID)
	if err != nil {
		return roomsError(err)
	}
	vis := "private"
	if published {
		vis = "public"
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"visibility": vis})
	return nil
}

// putVisibility serves PUT /directory/list/room/{roomId}.
func (a *API) putVisibility(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	roomID, err := roomIDParam(r)
	if err != nil {
		return err
	}
	var body struct {
		Visibility string `json:"visibility"`
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Visibility != "public" && body.Visibility != "private" {
		return httpapi.InvalidParam("visibility must be public or private")
	}
	if err := a.rooms.SetVisibility(r.Context(), who.UserID, roomID, body.Visibility == "public"); err != nil {
		return roomsError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}
