// Package adminapi serves Synapse's admin API (/_synapse/admin/...).
package adminapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

// Registrar creates accounts.
type Registrar interface {
	Register(ctx context.Context, acct accounts.NewAccount) (accounts.Session, error)
	ServerName() string
}

// SharedSecretRegistration serves /_synapse/admin/v1/register: account
// creation authorised by an HMAC over a single-use nonce with the server's
// registration_shared_secret. The scheme is Synapse's, byte for byte, so
// Synapse's register_new_matrix_user works against Axon unchanged.
type SharedSecretRegistration struct {
	secret    []byte
	registrar Registrar
	nonces    *nonceStore
}

// NewSharedSecretRegistration returns the endpoint; an empty secret disables it.
func NewSharedSecretRegistration(secret string, registrar Registrar) *SharedSecretRegistration {
	return &SharedSecretRegistration{secret: []byte(secret), registrar: registrar, nonces: newNonceStore()}
}

// Register adds the endpoint's routes.
func (s *SharedSecretRegistration) Register(rt *httpapi.Router) {
	rt.Handle(http.MethodGet, "/_synapse/admin/v1/register", s.getNonce)
	rt.Handle(http.MethodPost, "/_synapse/admin/v1/register", s.register)
}

func (s *SharedSecretRegistration) disabled() error {
	return httpapi.NotFound("Shared secret registration is not enabled")
}

func (s *SharedSecretRegistration) getNonce(w http.ResponseWriter, r *http.Request) error {
	if len(s.secret) == 0 {
		return s.disabled()
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"nonce": s.nonces.issue()})
	return nil
}

type registerRequest struct {
	Nonce       *string `json:"nonce"`
	Username    *string `json:"username"`
	Password    *string `json:"password"`
	Admin       bool    `json:"admin"`
	UserType    *string `json:"user_type"`
	DisplayName *string `json:"displayname"`
	MAC         *string `json:"mac"`
}

// maxFieldLength bounds username and password as Synapse does.
const maxFieldLength = 512

func (s *SharedSecretRegistration) register(w http.ResponseWriter, r *http.Request) error {
	if len(s.secret) == 0 {
		return s.disabled()
	}
	var req registerRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if !s.nonces.consume(*req.Nonce) {
		return httpapi.Unknown(http.StatusBadRequest, "unrecognised nonce")
	}
	want := MAC(s.secret, *req.Nonce, *req.Username, *req.Password, req.Admin, deref(req.UserType))
	got, err := hex.DecodeString(*req.MAC)
	if err != nil || !hmac.Equal(want, got) {
		return httpapi.Forbidden("HMAC incorrect")
	}

	localpart := strings.ToLower(*req.Username)
	session, err := s.registrar.Register(r.Context(), accounts.NewAccount{
		Localpart:   localpart,
		DisplayName: deref(req.DisplayName),
		Password:    *req.Password,
		Admin:       req.Admin,
		UserType:    deref(req.UserType),
	})
	switch {
	case errors.Is(err, accounts.ErrUserInUse):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_USER_IN_USE", Message: "User ID already taken."}
	case errors.Is(err, accounts.ErrInvalidUsername):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_INVALID_USERNAME", Message: err.Error()}
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{
		"access_token": session.AccessToken,
		"user_id":      session.UserID,
		"home_server":  s.registrar.ServerName(),
		"device_id":    session.DeviceID,
	})
	return nil
}

func (req *registerRequest) validate() error {
	switch {
	case req.Nonce == nil:
		return httpapi.MissingParam("nonce must be specified")
	case req.MAC == nil:
		return httpapi.MissingParam("mac must be specified")
	case req.Username == nil:
		return httpapi.MissingParam("username must be specified")
	case req.Password == nil:
		return httpapi.MissingParam("password must be specified")
	}
	if !validField(*req.Username) {
		return httpapi.InvalidParam("Invalid username")
	}
	if !validField(*req.Password) {
		return httpapi.InvalidParam("Invalid password")
	}
	if req.UserType != nil && !accounts.ValidUserType(*req.UserType) {
		return httpapi.InvalidParam("Invalid user type")
	}
	return nil
}

func validField(s string) bool {
	return s != "" && len(s) <= maxFieldLength && !strings.ContainsRune(s, 0)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MAC computes Synapse's registration HMAC-SHA1: the key is the shared
// secret, the message nonce, user, password and "admin" or "notadmin",
// NUL-separated, followed by NUL and the user type when there is one.
func MAC(secret []byte, nonce, user, password string, admin bool, userType string) []byte {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	m.Write([]byte{0})
	if admin {
		m.Write([]byte("admin"))
	} else {
		m.Write([]byte("notadmin"))
	}
	if userType != "" {
		m.Write([]byte{0})
		m.Write([]byte(userType))
	}
	return m.Sum(nil)
}
