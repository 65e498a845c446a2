package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

// access is who may use an authenticated endpoint besides the regular,
// unexpired users.
type access struct {
	// allowExpired also accepts expired access tokens (/logout, as Synapse).
	allowExpired bool
	// guests reports whether a guest may make the request. nil closes the
	// endpoint to guests, which is the default: guests may only use the
	// endpoints the spec's guest access module lists.
	guests func(r *http.Request) bool
}

func guestsAllowed(*http.Request) bool { return true }

// guestAuthed is authed for an endpoint that guests may use too.
func (a *API) guestAuthed(h authedHandler) httpapi.HandlerFunc {
	return a.authedWith(h, access{guests: guestsAllowed})
}

// guestDisplayNameOnly lets guests change their display name but no
// other profile field, as the spec says.
func guestDisplayNameOnly(r *http.Request) bool { return r.PathValue("keyName") == "displayname" }

func guestForbidden() error {
	return &httpapi.Error{Status: http.StatusForbidden, Code: "M_GUEST_ACCESS_FORBIDDEN", Message: "Guest access not allowed"}
}

// registerGuest serves POST /register?kind=guest: an account without
// authentication or password, named by the server. As the spec says,
// every parameter but initial_device_display_name is ignored; like
// Synapse, guest registration does not need enable_registration, only
// allow_guest_access, and counts against rc_registration.
func (a *API) registerGuest(w http.ResponseWriter, r *http.Request) error {
	if !a.settings.GuestAccess {
		return &httpapi.Error{Status: http.StatusForbidden, Code: "M_GUEST_ACCESS_FORBIDDEN", Message: "Guest access is disabled"}
	}
	if err := a.limitRegistration(r); err != nil {
		return err
	}
	var req struct {
		InitialDeviceDisplayName json.RawMessage `json:"initial_device_display_name"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	name, err := guestDeviceName(req.InitialDeviceDisplayName)
	if err != nil {
		return err
	}
	if err := a.countRegistration(r); err != nil {
		return err
	}
	session, err := a.accounts.RegisterGuest(r.Context(), name)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, sessionResponse(session, map[string]any{
		"user_id":     session.UserID,
		"device_id":   session.DeviceID,
		"home_server": a.accounts.ServerName(),
	}))
	return nil
}

// guestDeviceName reads initial_device_display_name: absent or null is no
// name; anything but a string of at most 100 characters is refused.
func guestDeviceName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", httpapi.InvalidParam("initial_device_display_name must be a string")
	}
	if utf8.RuneCountInString(name) > accounts.MaxDeviceDisplayNameLength {
		return "", &httpapi.Error{Status: http.StatusBadRequest, Code: "M_TOO_LARGE", Message: accounts.ErrDeviceNameTooLong.Error()}
	}
	return name, nil
}

// guestToUpgrade checks a registration that names a guest_access_token:
// as in Synapse, the token must be a guest's and the requested username
// that guest's localpart, and the registration then upgrades the guest,
// keeping its user ID. It returns the guest's user ID.
func (a *API) guestToUpgrade(ctx context.Context, localpart, token string) (string, error) {
	who, err := a.accounts.Authenticate(ctx, token)
	if errors.Is(err, accounts.ErrUnknownToken) || errors.Is(err, accounts.ErrExpiredToken) {
		return "", unknownToken(false, "Unrecognised guest access token")
	}
	if err != nil {
		return "", err
	}
	if !who.Guest || who.UserID != "@"+localpart+":"+a.accounts.ServerName() {
		return "", notTheGuest()
	}
	return who.UserID, nil
}

func notTheGuest() error {
	return httpapi.Forbidden("Cannot register taken user ID without valid guest credentials for that user.")
}
