package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/uia"
)

func (a *API) registerAccount(rt *httpapi.Router) {
	a.handle(rt, http.MethodPost, "/account/password", a.authed(a.changePassword))
	a.handle(rt, http.MethodPost, "/account/deactivate", a.authed(a.deactivate))
}

type changePasswordRequest struct {
	NewPassword   *string         `json:"new_password"`
	LogoutDevices *bool           `json:"logout_devices"`
	Auth          json.RawMessage `json:"auth"`
}

// changePassword serves POST /account/password for a logged-in user, behind
// User-Interactive Authentication. (Resetting a forgotten password without
// an access token needs email verification, which Axon lacks.)
func (a *API) changePassword(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req changePasswordRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	// As Synapse: changing passwords needs password login on and the local
	// password database.
	if !a.settings.PasswordLoginEnabled {
		return httpapi.Forbidden("Password change disabled")
	}
	// The new password is checked before authentication, so a client learns
	// it is too weak before the user types their current one.
	if req.NewPassword == nil {
		return httpapi.MissingParam("Missing params: new_password")
	}
	if err := a.checkNewPassword(*req.NewPassword); err != nil {
		return err
	}
	if done, err := a.reauthenticate(w, r, who, req.Auth, ""); !done {
		return err
	}
	token, _ := httpapi.AccessToken(r)
	err := a.accounts.ChangePassword(r.Context(), accounts.PasswordChange{
		UserID:        who.UserID,
		NewPassword:   *req.NewPassword,
		LogoutDevices: req.LogoutDevices == nil || *req.LogoutDevices,
		DeviceID:      who.DeviceID,
		AccessToken:   token,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

type deactivateRequest struct {
	Auth     json.RawMessage `json:"auth"`
	IDServer *string         `json:"id_server"`
	Erase    bool            `json:"erase"`
}

// deactivate serves POST /account/deactivate, behind User-Interactive
// Authentication. Axon binds no third-party identifiers, so there is
// nothing to unbind from identity servers.
func (a *API) deactivate(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req deactivateRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if done, err := a.reauthenticate(w, r, who, req.Auth, ""); !done {
		return err
	}
	if err := a.accounts.Deactivate(r.Context(), who.UserID, req.Erase); err != nil {
		if !errors.Is(err, accounts.ErrAfterDeactivation) {
			return err
		}
		// The account is deactivated; only follow-up work (profile erasure)
		// failed. The client can no longer retry, so report success.
		slog.ErrorContext(r.Context(), "deactivation follow-up failed", "user", who.UserID, "err", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"id_server_unbind_result": "no-support"})
	return nil
}

// reauthenticate runs User-Interactive Authentication for a logged-in
// user's request: the session is bound to this method and path, to
// fingerprint (a digest of parameters that must not change between
// attempts) and to the user. It reports whether the request may proceed;
// when it may not and err is nil, the 401 challenge has been written.
func (a *API) reauthenticate(w http.ResponseWriter, r *http.Request, who accounts.Requester, rawAuth json.RawMessage, fingerprint string) (bool, error) {
	auth, err := uia.ParseAuth(rawAuth)
	if err != nil {
		return false, httpapi.BadJSON("auth must be an object with string type and session")
	}
	// Offered stages are those this user can complete, as in Synapse: none
	// leaves the client with flows it cannot follow.
	flows := []uia.Flow{}
	if a.settings.PasswordReauthEnabled || a.settings.PasswordLoginEnabled {
		has, err := a.accounts.HasPassword(r.Context(), who.UserID)
		if err != nil {
			return false, err
		}
		if has {
			flows = append(flows, uia.Flow{Stages: []string{uia.StagePassword}})
		}
	}
	done, challenge, err := a.uia.Authorize(r.Context(), auth, uia.Request{
		Flows:       flows,
		Verifiers:   map[string]uia.Verifier{uia.StagePassword: uia.PasswordVerifier(a.checkPassword)},
		Method:      r.Method,
		Path:        r.URL.Path,
		Fingerprint: fingerprint,
		UserID:      who.UserID,
	})
	if err != nil {
		return false, reauthError(err)
	}
	if !done {
		httpapi.WriteJSON(w, http.StatusUnauthorized, challenge)
		return false, nil
	}
	return true, nil
}

// checkPassword verifies a password stage. Wrong passwords count against
// rc_login.failed_attempts as they do at /login, so re-authentication
// cannot be used to guess a password at bcrypt speed.
func (a *API) checkPassword(ctx context.Context, user, password string) (string, error) {
	if err := limitErr(a.limits.LoginFailedAttempts.Check(a.loginKey(user))); err != nil {
		return "", err
	}
	userID, err := a.accounts.CheckPassword(ctx, user, password)
	if errors.Is(err, accounts.ErrInvalidCredentials) {
		a.limits.LoginFailedAttempts.Allow(a.loginKey(user))
		return "", uia.ErrInvalidCredentials
	}
	return userID, err
}

func reauthError(err error) error {
	var pe *uia.ParamError
	switch {
	case errors.As(err, &pe):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: pe.Code, Message: pe.Message}
	case errors.Is(err, uia.ErrSessionMismatch):
		return httpapi.Forbidden("Requested operation has changed during the UI authentication session.")
	case errors.Is(err, uia.ErrWrongUser):
		return httpapi.Forbidden("Invalid auth")
	}
	return uiaError(err)
}
