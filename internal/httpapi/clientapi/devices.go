package clientapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

func (a *API) registerDevices(rt *httpapi.Router) {
	a.handle(rt, http.MethodGet, "/devices", a.guestAuthed(a.listDevices))
	a.handle(rt, http.MethodGet, "/devices/{deviceId}", a.guestAuthed(a.getDevice))
	a.handle(rt, http.MethodPut, "/devices/{deviceId}", a.guestAuthed(a.updateDevice))
	a.handle(rt, http.MethodDelete, "/devices/{deviceId}", a.authed(a.deleteDevice))
	a.handle(rt, http.MethodPost, "/delete_devices", a.authed(a.deleteDevices))
}

// deviceJSON is a device as the client API shows it. The user agent is
// kept for administrators only, as in Synapse.
func deviceJSON(d accounts.Device) map[string]any {
	out := map[string]any{"device_id": d.DeviceID}
	if d.DisplayName != "" {
		out["display_name"] = d.DisplayName
	}
	if !d.LastSeen.IsZero() {
		out["last_seen_ts"] = d.LastSeen.UnixMilli()
		if d.LastSeenIP != "" {
			out["last_seen_ip"] = d.LastSeenIP
		}
	}
	return out
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	devices, err := a.accounts.Devices(r.Context(), who.UserID)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(devices))
	for i, d := range devices {
		out[i] = deviceJSON(d)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	d, err := a.accounts.Device(r.Context(), who.UserID, r.PathValue("deviceId"))
	if err != nil {
		return deviceError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, deviceJSON(d))
	return nil
}

func (a *API) updateDevice(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		DisplayName *string `json:"display_name"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	deviceID := r.PathValue("deviceId")
	var err error
	if req.DisplayName == nil {
		_, err = a.accounts.Device(r.Context(), who.UserID, deviceID)
	} else {
		err = a.accounts.RenameDevice(r.Context(), who.UserID, deviceID, *req.DisplayName)
	}
	if err != nil {
		return deviceError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// deleteDevice serves DELETE /devices/{deviceId}, behind User-Interactive
// Authentication. Deleting a device the user does not have succeeds, as in
// Synapse.
func (a *API) deleteDevice(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		Auth json.RawMessage `json:"auth"`
	}
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	// The session is bound to the path, which names the device.
	if done, err := a.reauthenticate(w, r, who, req.Auth, ""); !done {
		return err
	}
	if err := a.accounts.DeleteDevices(r.Context(), who.UserID, []string{r.PathValue("deviceId")}); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// deleteDevices serves POST /delete_devices, behind User-Interactive
// Authentication bound to the list of devices.
func (a *API) deleteDevices(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		Devices *[]string       `json:"devices"`
		Auth    json.RawMessage `json:"auth"`
	}
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	if req.Devices == nil {
		return httpapi.BadJSON("devices: field required")
	}
	list, _ := json.Marshal(*req.Devices)
	sum := sha256.Sum256(list)
	if done, err := a.reauthenticate(w, r, who, req.Auth, hex.EncodeToString(sum[:])); !done {
		return err
	}
	if err := a.accounts.DeleteDevices(r.Context(), who.UserID, *req.Devices); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// decodeOptionalJSON is DecodeJSON for endpoints whose body older clients
// leave out: a body that is not JSON reads as {}, as in Synapse.
func decodeOptionalJSON(r *http.Request, v any) error {
	err := httpapi.DecodeJSON(r, v)
	var mxErr *httpapi.Error
	if errors.As(err, &mxErr) && mxErr.Code == "M_NOT_JSON" {
		return nil
	}
	return err
}

func deviceError(err error) error {
	switch {
	case errors.Is(err, accounts.ErrUnknownDevice):
		return httpapi.NotFound("Unknown device")
	case errors.Is(err, accounts.ErrDeviceNameTooLong):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_TOO_LARGE", Message: err.Error()}
	}
	return err
}
