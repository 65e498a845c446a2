package clientapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/keys"
	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// CrossSigning is what the client API needs of the keys service for
// cross-signing.
type CrossSigning interface {
	CheckSigningKeys(ctx context.Context, user string, in keys.SigningKeys) (keys.SigningKeysCheck, error)
	UploadSigningKeys(ctx context.Context, user string, in keys.SigningKeys) error
	UploadSignatures(ctx context.Context, uploader string, body map[string]map[string]json.RawMessage) (map[string]map[string]*keys.SignatureFailure, error)
}

func (a *API) registerCrossSigning(rt *httpapi.Router) {
	if a.e2ee.CrossSigning == nil {
		return
	}
	a.handle(rt, http.MethodPost, "/keys/device_signing/upload", a.authed(a.uploadSigningKeys))
	a.handle(rt, http.MethodPost, "/keys/signatures/upload", a.guestAuthed(a.uploadSignatures))
}

// uploadSigningKeys serves POST /keys/device_signing/upload. A retry of
// keys already stored succeeds without authentication, and so does the
// first upload (MSC3967, spec v1.11); replacing keys needs the user to
// authenticate again.
func (a *API) uploadSigningKeys(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		Master      json.RawMessage `json:"master_key"`
		SelfSigning json.RawMessage `json:"self_signing_key"`
		UserSigning json.RawMessage `json:"user_signing_key"`
		Auth        json.RawMessage `json:"auth"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	in := keys.SigningKeys{Master: req.Master, SelfSigning: req.SelfSigning, UserSigning: req.UserSigning}
	cs := a.e2ee.CrossSigning
	check, err := cs.CheckSigningKeys(r.Context(), who.UserID, in)
	if err != nil {
		return err
	}
	if check.Unchanged {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	if check.NeedsAuth {
		fingerprint, err := keysFingerprint(in)
		if err != nil {
			return httpapi.BadJSON(err.Error())
		}
		if done, err := a.reauthenticate(w, r, who, req.Auth, fingerprint); !done {
			return err
		}
	}
	switch err := cs.UploadSigningKeys(r.Context(), who.UserID, in); {
	case errors.Is(err, keys.ErrNoMasterKey):
		return httpapi.MissingParam("No master key available")
	case errors.Is(err, keys.ErrInvalidKey):
		return httpapi.InvalidParam(err.Error())
	case errors.Is(err, keys.ErrInvalidSignature):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_INVALID_SIGNATURE", Message: err.Error()}
	case errors.Is(err, keys.ErrKeyIDInUse):
		return httpapi.Forbidden("Key ID in use")
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// keysFingerprint binds a UIA session to the keys being uploaded, so a
// completed session cannot authorise other keys.
func keysFingerprint(in keys.SigningKeys) (string, error) {
	h := sha256.New()
	for _, raw := range []json.RawMessage{in.Master, in.SelfSigning, in.UserSigning} {
		if len(raw) == 0 {
			h.Write([]byte("-"))
			continue
		}
		c, err := canonicaljson.Canonicalize(raw)
		if err != nil {
			return "", err
		}
		h.Write(c)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// uploadSignatures serves POST /keys/signatures/upload.
func (a *API) uploadSignatures(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var raw json.RawMessage
	if err := httpapi.DecodeJSON(r, &raw); err != nil {
		return err
	}
	body, err := keys.ParseSignaturesUpload(raw)
	if err != nil {
		return httpapi.InvalidParam("Invalid parameter")
	}
	failures, err := a.e2ee.CrossSigning.UploadSignatures(r.Context(), who.UserID, body)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"failures": failures})
	return nil
}
