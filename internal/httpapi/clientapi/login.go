package clientapi

import (
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

const loginTypePassword = "m.login.password"

func (a *API) loginFlows(w http.ResponseWriter, r *http.Request) error {
	flows := []map[string]any{}
	if a.settings.PasswordLoginEnabled {
		flows = append(flows, map[string]any{"type": loginTypePassword})
	}
	// As Synapse: m.login.token is offered when something can issue login
	// tokens, which for Axon is POST /login/get_token.
	if a.settings.GetLoginToken.Enabled {
		flows = append(flows, map[string]any{"type": loginTypeToken, "get_login_token": true})
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"flows": flows})
	return nil
}

type loginRequest struct {
	Type       string `json:"type"`
	Identifier *struct {
		Type string `json:"type"`
		User string `json:"user"`
	} `json:"identifier"`
	// User is the deprecated top-level form of an m.id.user identifier.
	User                     string `json:"user"`
	Password                 string `json:"password"`
	DeviceID                 string `json:"device_id"`
	InitialDeviceDisplayName string `json:"initial_device_display_name"`
	// Token is the login token of m.login.token (tokens.go).
	Token string `json:"token"`
	// RefreshToken: the client supports refresh tokens.
	RefreshToken bool `json:"refresh_token"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.limitLoginAddress(r); err != nil {
		return err
	}
	if req.Type == loginTypeToken {
		return a.tokenLogin(w, r, req)
	}
	if req.Type != loginTypePassword || !a.settings.PasswordLoginEnabled {
		return httpapi.Unknown(http.StatusBadRequest, "Unknown login type "+req.Type)
	}
	user := req.User
	if req.Identifier != nil {
		if req.Identifier.Type != "m.id.user" {
			return httpapi.Unknown(http.StatusBadRequest, "Unknown login identifier type")
		}
		user = req.Identifier.User
	}
	if user == "" {
		return httpapi.MissingParam("Missing identifier")
	}
	if err := a.limitLoginAccount(user); err != nil {
		return err
	}
	session, err := a.accounts.Login(r.Context(), accounts.LoginRequest{
		User:              user,
		Password:          req.Password,
		DeviceID:          req.DeviceID,
		DeviceDisplayName: req.InitialDeviceDisplayName,
		RefreshToken:      req.RefreshToken,
	})
	a.loginDone(user, err)
	return a.loginResult(w, session, err)
}

// loginResult answers a login: its error, or the new session.
func (a *API) loginResult(w http.ResponseWriter, session accounts.Session, err error) error {
	switch {
	case errors.Is(err, accounts.ErrInvalidLoginToken):
		return httpapi.Forbidden("Invalid login token")
	case errors.Is(err, accounts.ErrInvalidCredentials):
		return httpapi.Forbidden("Invalid username or password")
	case errors.Is(err, accounts.ErrDeviceIDInUse):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_FORBIDDEN", Message: "The device ID is in use"}
	case errors.Is(err, accounts.ErrUserDeactivated):
		return &httpapi.Error{Status: http.StatusForbidden, Code: "M_USER_DEACTIVATED", Message: "This account has been deactivated"}
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, sessionResponse(session, map[string]any{
		"user_id":     session.UserID,
		"device_id":   session.DeviceID,
		"home_server": a.accounts.ServerName(),
	}))
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	if err := a.accounts.Logout(r.Context(), who.UserID, who.DeviceID); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *API) logoutAll(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	if err := a.accounts.LogoutAll(r.Context(), who.UserID); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *API) whoami(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	resp := map[string]any{"user_id": who.UserID, "is_guest": who.Guest}
	if who.DeviceID != "" {
		resp["device_id"] = who.DeviceID
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}
