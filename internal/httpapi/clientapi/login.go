package clientapi

import (
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

const loginTypePassword = "m.login.password"

func (a *API) loginFlows(w http.ResponseWriter, r *http.Request) error {
	flows := []map[string]string{}
	if a.settings.PasswordLoginEnabled {
		flows = append(flows, map[string]string{"type": loginTypePassword})
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
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.limitLoginAddress(r); err != nil {
		return err
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
	})
	a.loginDone(user, err)
	switch {
	case errors.Is(err, accounts.ErrInvalidCredentials):
		return httpapi.Forbidden("Invalid username or password")
	case errors.Is(err, accounts.ErrUserDeactivated):
		return &httpapi.Error{Status: http.StatusForbidden, Code: "M_USER_DEACTIVATED", Message: "This account has been deactivated"}
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{
		"user_id":      session.UserID,
		"access_token": session.AccessToken,
		"device_id":    session.DeviceID,
		"home_server":  a.accounts.ServerName(),
	})
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
