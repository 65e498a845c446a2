package clientapi

import (
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/rooms"
)

// User directory search limits (Synapse's default; a cap keeps one
// request bounded).
const (
	defaultDirectoryLimit = 10
	maxDirectoryLimit     = 100
)

// searchUserDirectory serves POST /user_directory/search.
func (a *API) searchUserDirectory(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var body struct {
		SearchTerm *string `json:"search_term"`
		Limit      *int    `json:"limit"`
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.SearchTerm == nil {
		return httpapi.MissingParam("Missing search_term")
	}
	limit := defaultDirectoryLimit
	if body.Limit != nil {
		limit = min(max(*body.Limit, 1), maxDirectoryLimit)
	}
	results, limited, err := a.rooms.SearchUsers(r.Context(), a.settings.UserDirectory, who.UserID, *body.SearchTerm, limit)
	if err != nil {
		return roomsError(err)
	}
	if results == nil {
		results = []rooms.DirectoryUser{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"limited": limited, "results": results})
	return nil
}
