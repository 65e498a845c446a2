package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/keybackup"
)

// KeyBackup is what the client API needs of the key backup service.
type KeyBackup interface {
	CreateVersion(ctx context.Context, userID string, info keybackup.VersionInfo) (string, error)
	CurrentVersion(ctx context.Context, userID string) (keybackup.Version, error)
	Version(ctx context.Context, userID, version string) (keybackup.Version, error)
	UpdateVersion(ctx context.Context, userID, version string, info keybackup.VersionInfo) error
	DeleteVersion(ctx context.Context, userID, version string) error
	PutKeys(ctx context.Context, userID, version string, keys []keybackup.SessionKey) (keybackup.Counts, error)
	Keys(ctx context.Context, userID, version string) (map[string]keybackup.RoomKeys, error)
	RoomKeys(ctx context.Context, userID, version, roomID string) (keybackup.RoomKeys, error)
	Key(ctx context.Context, userID, version, roomID, sessionID string) (keybackup.Key, error)
	DeleteKeys(ctx context.Context, userID, version, roomID, sessionID string) (keybackup.Counts, error)
}

// WithKeyBackup enables the /room_keys endpoints, backed by kb.
func (a *API) WithKeyBackup(kb KeyBackup) *API {
	a.keyBackup = kb
	return a
}

// registerKeyBackup mounts /room_keys. Guests are refused, as in Synapse.
// Each method of the three /room_keys/keys paths has one handler: the
// path values present say which level it serves.
func (a *API) registerKeyBackup(rt *httpapi.Router) {
	if a.keyBackup == nil {
		return
	}
	a.handle(rt, http.MethodGet, "/room_keys/version", a.authed(a.getCurrentBackupVersion))
	a.handle(rt, http.MethodPost, "/room_keys/version", a.authed(a.createBackupVersion))
	a.handle(rt, http.MethodGet, "/room_keys/version/{version}", a.authed(a.getBackupVersion))
	a.handle(rt, http.MethodPut, "/room_keys/version/{version}", a.authed(a.updateBackupVersion))
	a.handle(rt, http.MethodDelete, "/room_keys/version/{version}", a.authed(a.deleteBackupVersion))
	for _, path := range []string{"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"} {
		a.handle(rt, http.MethodGet, path, a.authed(a.getRoomKeys))
		a.handle(rt, http.MethodPut, path, a.authed(a.putRoomKeys))
		a.handle(rt, http.MethodDelete, path, a.authed(a.deleteRoomKeys))
	}
}

func (a *API) createBackupVersion(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var body json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	info, err := keybackup.ParseNewVersion(body)
	if err != nil {
		return keyBackupError(err, "")
	}
	version, err := a.keyBackup.CreateVersion(r.Context(), who.UserID, info)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"version": version})
	return nil
}

func (a *API) getCurrentBackupVersion(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	v, err := a.keyBackup.CurrentVersion(r.Context(), who.UserID)
	if err != nil {
		return keyBackupError(err, "No backup found")
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) getBackupVersion(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	v, err := a.keyBackup.Version(r.Context(), who.UserID, r.PathValue("version"))
	if err != nil {
		return keyBackupError(err, "No backup found")
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) updateBackupVersion(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var body json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	info, err := keybackup.ParseVersionUpdate(body)
	if err == nil {
		err = a.keyBackup.UpdateVersion(r.Context(), who.UserID, r.PathValue("version"), info)
	}
	if err != nil {
		return keyBackupError(err, "Unknown backup version")
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) deleteBackupVersion(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	if err := a.keyBackup.DeleteVersion(r.Context(), who.UserID, r.PathValue("version")); err != nil {
		return keyBackupError(err, "Unknown backup version")
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) getRoomKeys(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	version, err := backupVersionParam(r)
	if err != nil {
		return err
	}
	ctx, roomID, sessionID := r.Context(), r.PathValue("roomId"), r.PathValue("sessionId")
	var resp any
	switch {
	case sessionID != "":
		resp, err = a.keyBackup.Key(ctx, who.UserID, version, roomID, sessionID)
	case roomID != "":
		resp, err = a.keyBackup.RoomKeys(ctx, who.UserID, version, roomID)
	default:
		var rooms map[string]keybackup.RoomKeys
		rooms, err = a.keyBackup.Keys(ctx, who.UserID, version)
		resp = map[string]any{"rooms": rooms}
	}
	if err != nil {
		return keyBackupError(err, "Unknown backup version")
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) putRoomKeys(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	version, err := backupVersionParam(r)
	if err != nil {
		return err
	}
	var body json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	var keys []keybackup.SessionKey
	switch roomID, sessionID := r.PathValue("roomId"), r.PathValue("sessionId"); {
	case sessionID != "":
		keys, err = keybackup.ParseSession(roomID, sessionID, body)
	case roomID != "":
		keys, err = keybackup.ParseRoom(roomID, body)
	default:
		keys, err = keybackup.ParseRooms(body)
	}
	if err != nil {
		return keyBackupError(err, "")
	}
	counts, err := a.keyBackup.PutKeys(r.Context(), who.UserID, version, keys)
	if err != nil {
		return keyBackupError(err, "Version '"+version+"' not found")
	}
	httpapi.WriteJSON(w, http.StatusOK, counts)
	return nil
}

func (a *API) deleteRoomKeys(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	version, err := backupVersionParam(r)
	if err != nil {
		return err
	}
	counts, err := a.keyBackup.DeleteKeys(r.Context(), who.UserID, version, r.PathValue("roomId"), r.PathValue("sessionId"))
	if err != nil {
		return keyBackupError(err, "Unknown backup version")
	}
	httpapi.WriteJSON(w, http.StatusOK, counts)
	return nil
}

// backupVersionParam is the version query parameter every /room_keys/keys
// request needs.
func backupVersionParam(r *http.Request) (string, error) {
	q := r.URL.Query()
	if !q.Has("version") {
		return "", httpapi.MissingParam("Missing string query parameter 'version'")
	}
	return q.Get("version"), nil
}

// keyBackupError maps the key backup service's errors to Matrix errors;
// notFound is the message for a version that does not exist, which
// Synapse words differently per endpoint.
func keyBackupError(err error, notFound string) error {
	var input *keybackup.InputError
	var wrong *keybackup.WrongVersionError
	switch {
	case errors.As(err, &input):
		switch {
		case errors.Is(input, keybackup.ErrMissing):
			return httpapi.MissingParam(input.Error())
		case errors.Is(input, keybackup.ErrInvalid):
			return httpapi.InvalidParam(input.Error())
		}
		return httpapi.BadJSON(input.Error())
	case errors.As(err, &wrong):
		return &httpapi.Error{Status: http.StatusForbidden, Code: "M_WRONG_ROOM_KEYS_VERSION", Message: "Wrong backup version.",
			Extra: map[string]any{"current_version": wrong.Current}}
	case errors.Is(err, keybackup.ErrNotFound):
		return httpapi.NotFound(notFound)
	case errors.Is(err, keybackup.ErrKeyNotFound):
		return httpapi.NotFound("No room_keys found")
	case errors.Is(err, keybackup.ErrAlgorithmMismatch):
		return httpapi.InvalidParam("Algorithm does not match")
	case errors.Is(err, keybackup.ErrVersionMismatch):
		return httpapi.InvalidParam("Version in body does not match")
	}
	return err
}
