package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

// RegistrationTokenService manages registration tokens.
type RegistrationTokenService interface {
	List(ctx context.Context, valid *bool) ([]accounts.RegistrationToken, error)
	Get(ctx context.Context, token string) (accounts.RegistrationToken, error)
	Create(ctx context.Context, n accounts.NewRegistrationToken) (accounts.RegistrationToken, error)
	Update(ctx context.Context, token string, u accounts.RegistrationTokenUpdate) (accounts.RegistrationToken, error)
	Delete(ctx context.Context, token string) error
}

// RegistrationTokens serves Synapse's registration tokens admin API,
// /_synapse/admin/v1/registration_tokens, to server admins.
type RegistrationTokens struct {
	admins Admins
	tokens RegistrationTokenService
	now    func() time.Time
}

// NewRegistrationTokens returns the endpoints.
func NewRegistrationTokens(admins Admins, tokens RegistrationTokenService) *RegistrationTokens {
	return &RegistrationTokens{admins: admins, tokens: tokens, now: time.Now}
}

const regTokensPath = "/_synapse/admin/v1/registration_tokens"

// Register adds the endpoints' routes.
func (a *RegistrationTokens) Register(rt *httpapi.Router) {
	rt.Handle(http.MethodGet, regTokensPath, RequireAdmin(a.admins, a.list))
	rt.Handle(http.MethodPost, regTokensPath+"/new", RequireAdmin(a.admins, a.create))
	for _, p := range []string{regTokensPath + "/{token}", regTokensPath + "/new"} {
		// A token may itself be called "new": it is read, updated and
		// deleted like any other.
		rt.Handle(http.MethodGet, p, RequireAdmin(a.admins, a.get))
		rt.Handle(http.MethodPut, p, RequireAdmin(a.admins, a.update))
		rt.Handle(http.MethodDelete, p, RequireAdmin(a.admins, a.delete))
	}
}

// tokenJSON is Synapse's registration token object.
type tokenJSON struct {
	Token       string `json:"token"`
	UsesAllowed *int64 `json:"uses_allowed"`
	Pending     int64  `json:"pending"`
	Completed   int64  `json:"completed"`
	ExpiryTime  *int64 `json:"expiry_time"`
}

func toJSON(t accounts.RegistrationToken) tokenJSON {
	return tokenJSON{Token: t.Token, UsesAllowed: t.UsesAllowed, Pending: t.Pending, Completed: t.Completed, ExpiryTime: t.ExpiryTime}
}

func pathToken(r *http.Request) string {
	if t := r.PathValue("token"); t != "" {
		return t
	}
	return "new"
}

func notFound(token string) error {
	return httpapi.NotFound("No such registration token: " + token)
}

func (a *RegistrationTokens) list(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	var valid *bool
	if q := r.URL.Query(); q.Has("valid") {
		switch q.Get("valid") {
		case "true":
			valid = new(true)
		case "false":
			valid = new(false)
		default:
			return httpapi.InvalidParam("Boolean query parameter 'valid' must be one of ['true', 'false']")
		}
	}
	tokens, err := a.tokens.List(r.Context(), valid)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(tokens))
	for i, t := range tokens {
		out[i] = toJSON(t)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"registration_tokens": out})
	return nil
}

func (a *RegistrationTokens) get(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	token := pathToken(r)
	t, err := a.tokens.Get(r.Context(), token)
	if errors.Is(err, accounts.ErrRegistrationTokenNotFound) {
		return notFound(token)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toJSON(t))
	return nil
}

func (a *RegistrationTokens) create(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body == nil {
		return httpapi.NotJSON("Content not JSON.")
	}
	var n accounts.NewRegistrationToken
	if raw, ok := body["token"]; ok {
		if json.Unmarshal(raw, &n.Token) != nil || isNull(raw) {
			return httpapi.InvalidParam("token must be a string")
		}
		if len(n.Token) == 0 || len(n.Token) > accounts.MaxRegistrationTokenLength {
			return httpapi.InvalidParam("token must not be empty and must not be longer than 64 characters")
		}
		if !accounts.ValidRegistrationToken(n.Token) {
			return httpapi.InvalidParam("token must consist only of characters matched by the regex [A-Za-z0-9._~-]")
		}
	} else {
		n.Length = 16
		if raw, ok := body["length"]; ok {
			length, ok := jsonInt(raw)
			if !ok {
				return httpapi.InvalidParam("length must be an integer")
			}
			if length <= 0 || length > accounts.MaxRegistrationTokenLength {
				return httpapi.InvalidParam("length must be greater than zero and not greater than 64")
			}
			n.Length = int(length)
		}
	}
	var err error
	if n.UsesAllowed, _, err = usesAllowed(body); err != nil {
		return err
	}
	if n.ExpiryTime, _, err = a.expiryTime(body); err != nil {
		return err
	}
	t, err := a.tokens.Create(r.Context(), n)
	if errors.Is(err, accounts.ErrRegistrationTokenExists) {
		return httpapi.InvalidParam("Token already exists: " + n.Token)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toJSON(t))
	return nil
}

func (a *RegistrationTokens) update(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	token := pathToken(r)
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body == nil {
		return httpapi.NotJSON("Content not JSON.")
	}
	var (
		u   accounts.RegistrationTokenUpdate
		err error
	)
	if u.UsesAllowed, u.SetUsesAllowed, err = usesAllowed(body); err != nil {
		return err
	}
	if u.ExpiryTime, u.SetExpiryTime, err = a.expiryTime(body); err != nil {
		return err
	}
	var t accounts.RegistrationToken
	if !u.SetUsesAllowed && !u.SetExpiryTime {
		t, err = a.tokens.Get(r.Context(), token)
	} else {
		t, err = a.tokens.Update(r.Context(), token, u)
	}
	if errors.Is(err, accounts.ErrRegistrationTokenNotFound) {
		return notFound(token)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toJSON(t))
	return nil
}

func (a *RegistrationTokens) delete(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	token := pathToken(r)
	err := a.tokens.Delete(r.Context(), token)
	if errors.Is(err, accounts.ErrRegistrationTokenNotFound) {
		return notFound(token)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// usesAllowed reads uses_allowed: a non-negative integer or null.
func usesAllowed(body map[string]json.RawMessage) (v *int64, present bool, err error) {
	raw, ok := body["uses_allowed"]
	if !ok || isNull(raw) {
		return nil, ok, nil
	}
	n, ok := jsonInt(raw)
	if !ok || n < 0 {
		return nil, true, httpapi.InvalidParam("uses_allowed must be a non-negative integer or null")
	}
	return &n, true, nil
}

// expiryTime reads expiry_time: an integer not in the past, or null.
func (a *RegistrationTokens) expiryTime(body map[string]json.RawMessage) (v *int64, present bool, err error) {
	raw, ok := body["expiry_time"]
	if !ok || isNull(raw) {
		return nil, ok, nil
	}
	n, ok := jsonInt(raw)
	if !ok {
		return nil, true, httpapi.InvalidParam("expiry_time must be an integer or null")
	}
	if n < a.now().UnixMilli() {
		return nil, true, httpapi.InvalidParam("expiry_time must not be in the past")
	}
	return &n, true, nil
}

// jsonInt reads a JSON integer literal (not 1.0 or 1e3, which Synapse
// sees as floats, nor true).
func jsonInt(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, err == nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
