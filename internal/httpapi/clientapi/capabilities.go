package clientapi

import (
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// capabilities serves GET /capabilities: what this server lets the user do.
// Everything advertised is backed by a working endpoint.
func (a *API) capabilities(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	enabled := func(b bool) map[string]bool { return map[string]bool{"enabled": b} }
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"capabilities": map[string]any{
		"m.room_versions":   roomversion.Capabilities(a.settings.DefaultRoomVersion),
		"m.change_password": enabled(a.settings.PasswordLoginEnabled),
		"m.set_displayname": enabled(a.settings.SetDisplayNameAllowed),
		"m.set_avatar_url":  enabled(a.settings.SetAvatarURLAllowed),
		"m.3pid_changes":    enabled(false), // no third-party identifiers yet
		"m.get_login_token": enabled(a.settings.GetLoginToken.Enabled),
		"m.profile_fields":  map[string]any{"enabled": true},
	}})
	return nil
}
