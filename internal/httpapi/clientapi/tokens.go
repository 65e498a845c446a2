package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

const loginTypeToken = "m.login.token"

// registerTokens mounts POST /refresh and, when login_via_existing_session
// is enabled, POST /login/get_token. Like Synapse, a server with it
// disabled does not serve get_token at all (404 M_UNRECOGNIZED).
func (a *API) registerTokens(rt *httpapi.Router) {
	a.handle(rt, http.MethodPost, "/refresh", a.refresh)
	if a.settings.GetLoginToken.Enabled {
		rt.Handle(http.MethodPost, "/_matrix/client/v1/login/get_token", a.authed(a.getLoginToken))
	}
}

// GetLoginTokenSettings are login_via_existing_session's.
type GetLoginTokenSettings struct {
	Enabled       bool
	RequireUIAuth bool
	TokenTimeout  time.Duration
}

// sessionResponse is the body of a successful /login, /register or
// /refresh: the tokens, and when the access token expires.
func sessionResponse(s accounts.Session, resp map[string]any) map[string]any {
	resp["access_token"] = s.AccessToken
	if s.RefreshToken != "" {
		resp["refresh_token"] = s.RefreshToken
	}
	if s.Expires {
		resp["expires_in_ms"] = s.ExpiresIn.Milliseconds()
	}
	return resp
}

func unknownToken(soft bool, msg string) error {
	return &httpapi.Error{Status: http.StatusUnauthorized, Code: "M_UNKNOWN_TOKEN", Message: msg,
		Extra: map[string]any{"soft_logout": soft}}
}

// refresh serves POST /refresh: a refresh token (no access token) buys a
// new access token and refresh token. Like Synapse it has no rate limit:
// only the holder of a valid refresh token gets anything from it, and
// rc_login.address (0.003/s by default) would refuse a single client
// refreshing every five minutes within hours.
func (a *API) refresh(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RefreshToken *string `json:"refresh_token"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.RefreshToken == nil || *req.RefreshToken == "" {
		return httpapi.MissingParam("Missing params: refresh_token")
	}
	session, err := a.accounts.Refresh(r.Context(), *req.RefreshToken)
	switch {
	case errors.Is(err, accounts.ErrUnknownToken):
		return unknownToken(false, "Unknown refresh token")
	case errors.Is(err, accounts.ErrRefreshTokenExpired):
		// The device still exists: the client may log in again on it.
		return unknownToken(true, "The refresh token has expired")
	case errors.Is(err, accounts.ErrSessionEnded):
		// session_lifetime has passed; the device still exists. Synapse
		// answers 403 M_FORBIDDEN here, but the spec's /refresh knows only
		// 401 M_UNKNOWN_TOKEN, and soft_logout tells the client to log in
		// again on the same device.
		return unknownToken(true, "The session has expired and can no longer be refreshed")
	case errors.Is(err, accounts.ErrRefreshDisabled):
		return unknownToken(true, "Refresh tokens are disabled on this server; log in again")
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, sessionResponse(session, map[string]any{}))
	return nil
}

// tokenLogin completes POST /login with type m.login.token. The
// per-account limits apply as to password logins: the token's user is
// looked up (without spending the token) so a limited account is refused
// before its token is used up.
func (a *API) tokenLogin(w http.ResponseWriter, r *http.Request, req loginRequest) error {
	if req.Token == "" {
		return httpapi.MissingParam("Missing params: token")
	}
	user, err := a.accounts.LoginTokenUser(r.Context(), req.Token)
	if errors.Is(err, accounts.ErrInvalidLoginToken) {
		return httpapi.Forbidden("Invalid login token")
	}
	if err != nil {
		return err
	}
	if err := a.limitLoginAccount(user); err != nil {
		return err
	}
	session, err := a.accounts.TokenLogin(r.Context(), accounts.TokenLoginRequest{
		Token:             req.Token,
		DeviceID:          req.DeviceID,
		DeviceDisplayName: req.InitialDeviceDisplayName,
		RefreshToken:      req.RefreshToken,
	})
	a.loginDone(user, err)
	return a.loginResult(w, session, err)
}

// getLoginToken serves POST /login/get_token (MSC3882): a logged-in user
// mints a single-use, short-lived m.login.token token for another client.
// With require_ui_auth the user confirms every time (the spec forbids
// reusing an earlier authentication here).
func (a *API) getLoginToken(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		Auth json.RawMessage `json:"auth"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if a.settings.GetLoginToken.RequireUIAuth {
		if done, err := a.reauthenticate(w, r, who, req.Auth, ""); !done {
			return err
		}
	}
	// As Synapse: at most one token a minute per user, counted after
	// authentication.
	if err := limitErr(a.limits.GetLoginToken.Allow(who.UserID)); err != nil {
		return err
	}
	ttl := a.settings.GetLoginToken.TokenTimeout
	token, err := a.accounts.CreateLoginToken(r.Context(), who.UserID, ttl)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"login_token": token, "expires_in_ms": ttl.Milliseconds()})
	return nil
}
