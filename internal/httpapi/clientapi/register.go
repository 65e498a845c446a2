package clientapi

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/uia"
)

// registrationFlows are offered when registration is open without
// verification. Token, email and captcha stages come with their features.
var registrationFlows = []uia.Flow{{Stages: []string{uia.StageDummy}}}

// maxPasswordLength bounds passwords as Synapse does.
const maxPasswordLength = 512

type registerRequest struct {
	Username                 *string         `json:"username"`
	Password                 *string         `json:"password"`
	DeviceID                 string          `json:"device_id"`
	InitialDeviceDisplayName string          `json:"initial_device_display_name"`
	InhibitLogin             bool            `json:"inhibit_login"`
	RefreshToken             bool            `json:"refresh_token"`
	Auth                     json.RawMessage `json:"auth"`
	// GuestAccessToken upgrades the guest it belongs to (guest.go).
	GuestAccessToken *string `json:"guest_access_token"`
}

// register serves POST /register: account creation behind
// User-Interactive Authentication, guest accounts (kind=guest) and the
// upgrade of a guest to a regular user (guest_access_token).
func (a *API) register(w http.ResponseWriter, r *http.Request) error {
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "user":
	case "guest":
		return a.registerGuest(w, r)
	default:
		return httpapi.InvalidParam("Invalid kind: " + kind)
	}
	if !a.settings.RegistrationOpen {
		return httpapi.Forbidden("Registration has been disabled")
	}
	if err := a.limitRegistration(r); err != nil {
		return err
	}
	var req registerRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}

	// Parameters are checked before authentication, so a client learns that
	// a name is taken or a password too weak before it completes any stage.
	if req.Password != nil {
		if err := a.checkNewPassword(*req.Password); err != nil {
			return err
		}
	}
	localpart := ""
	guest := "" // the guest being upgraded
	if req.Username != nil {
		// Synapse folds the requested name to lower case.
		localpart = strings.ToLower(*req.Username)
		var err error
		if req.GuestAccessToken != nil {
			// Synapse ignores the token when no username names the guest.
			guest, err = a.guestToUpgrade(r.Context(), localpart, *req.GuestAccessToken)
		} else {
			err = a.checkNameAvailable(r, localpart)
		}
		if err != nil {
			return err
		}
	}

	auth, err := parseAuth(req.Auth)
	if err != nil {
		return err
	}
	done, challenge, err := a.authorizeRegistration(r.Context(), auth)
	if err != nil {
		return err
	}
	if !done {
		httpapi.WriteJSON(w, http.StatusUnauthorized, challenge)
		return nil
	}

	if req.Password == nil {
		return httpapi.MissingParam("Missing params: password")
	}
	if localpart == "" {
		if localpart, err = randomLocalpart(); err != nil {
			return err
		}
	}
	if err := a.countRegistration(r); err != nil {
		return err
	}
	releaseToken, err := a.useRegistrationToken(r.Context(), auth)
	if err != nil {
		return err
	}
	var session accounts.Session
	if guest != "" {
		session, err = a.accounts.UpgradeGuest(r.Context(), accounts.GuestUpgrade{
			UserID:            guest,
			Password:          *req.Password,
			DeviceID:          req.DeviceID,
			DeviceDisplayName: req.InitialDeviceDisplayName,
			NoSession:         req.InhibitLogin,
			RefreshToken:      req.RefreshToken,
			ConsentVersion:    a.consentVersion(),
		})
	} else {
		session, err = a.accounts.Register(r.Context(), accounts.NewAccount{
			Localpart:         localpart,
			Password:          *req.Password,
			DeviceID:          req.DeviceID,
			DeviceDisplayName: req.InitialDeviceDisplayName,
			NoSession:         req.InhibitLogin,
			RefreshToken:      req.RefreshToken,
			ConsentVersion:    a.consentVersion(),
		})
	}
	if err != nil {
		releaseToken()
		return registrationError(err)
	}
	resp := map[string]any{"user_id": session.UserID, "home_server": a.accounts.ServerName()}
	if !req.InhibitLogin {
		sessionResponse(session, resp)
		resp["device_id"] = session.DeviceID
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// registerAvailable serves GET /register/available?username=...
func (a *API) registerAvailable(w http.ResponseWriter, r *http.Request) error {
	if !a.settings.RegistrationOpen {
		return httpapi.Forbidden("Registration has been disabled")
	}
	if err := a.limitRegisterAvailable(r); err != nil {
		return err
	}
	username := r.URL.Query().Get("username")
	if username == "" {
		return httpapi.MissingParam("Missing param: username")
	}
	if err := a.checkNameAvailable(r, strings.ToLower(username)); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]bool{"available": true})
	return nil
}

func (a *API) checkNameAvailable(r *http.Request, localpart string) error {
	userID, err := a.accounts.UserID(localpart)
	if err != nil {
		return registrationError(err)
	}
	available, err := a.accounts.UserIDAvailable(r.Context(), userID)
	if err != nil {
		return err
	}
	if !available {
		return registrationError(accounts.ErrUserInUse)
	}
	return nil
}

func (a *API) checkNewPassword(pw string) error {
	if len(pw) > maxPasswordLength || strings.ContainsRune(pw, 0) {
		return httpapi.InvalidParam("Invalid password")
	}
	var pe *password.PolicyError
	if err := a.settings.PasswordPolicy.Check(pw); errors.As(err, &pe) {
		return &httpapi.Error{Status: http.StatusBadRequest, Code: pe.Code, Message: pe.Message}
	}
	return nil
}

func registrationError(err error) error {
	switch {
	case errors.Is(err, accounts.ErrUserInUse):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_USER_IN_USE", Message: "User ID already taken."}
	case errors.Is(err, accounts.ErrInvalidUsername):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_INVALID_USERNAME", Message: err.Error()}
	case errors.Is(err, accounts.ErrNotGuest):
		// Upgraded or deactivated since the token was checked.
		return notTheGuest()
	}
	return err
}

// parseAuth decodes the optional `auth` object of a UIA request.
func parseAuth(raw json.RawMessage) (*uia.Auth, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var auth uia.Auth
	if err := json.Unmarshal(raw, &auth); err != nil {
		return nil, httpapi.BadJSON("auth must be an object with string type and session")
	}
	return &auth, nil
}

func uiaError(err error) error {
	switch {
	case errors.Is(err, uia.ErrUnknownSession):
		return httpapi.Unknown(http.StatusBadRequest, "Unknown session ID")
	case errors.Is(err, uia.ErrUnknownStage):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_UNRECOGNIZED", Message: "Unrecognised login type"}
	}
	return err
}

// randomLocalpart names a user who registered without choosing a name.
func randomLocalpart() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := []byte("u")
	for range 11 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out = append(out, alphabet[n.Int64()])
	}
	return string(out), nil
}
