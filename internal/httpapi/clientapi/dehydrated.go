package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/keys"
)

// Dehydration is what the client API needs for dehydrated devices
// (MSC3814).
type Dehydration interface {
	PutDehydratedDevice(ctx context.Context, user string, d keys.Dehydration) error
	DehydratedDevice(ctx context.Context, user string) (string, json.RawMessage, error)
	DeleteDehydratedDevice(ctx context.Context, user string) (string, error)
}

// Inbox reads a device's to-device messages without acknowledging them.
type Inbox interface {
	Inbox(ctx context.Context, user, device string, after int64, limit int) ([]json.RawMessage, int64, error)
}

// msc3814Prefix is where Synapse serves dehydrated devices: unstable
// endpoints only, not in /versions.
const msc3814Prefix = "/_matrix/client/unstable/org.matrix.msc3814.v1"

// dehydratedEventsLimit bounds the messages of one events request.
const dehydratedEventsLimit = 100

func (a *API) registerDehydration(rt *httpapi.Router) {
	if a.e2ee.Dehydration == nil {
		return
	}
	rt.Handle(http.MethodPut, msc3814Prefix+"/dehydrated_device", a.authed(a.putDehydratedDevice))
	rt.Handle(http.MethodGet, msc3814Prefix+"/dehydrated_device", a.authed(a.getDehydratedDevice))
	rt.Handle(http.MethodDelete, msc3814Prefix+"/dehydrated_device", a.authed(a.deleteDehydratedDevice))
	rt.Handle(http.MethodPost, msc3814Prefix+"/dehydrated_device/{deviceId}/events", a.authed(a.dehydratedEvents))
}

func (a *API) putDehydratedDevice(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		DeviceID     string                     `json:"device_id"`
		DeviceData   json.RawMessage            `json:"device_data"`
		DisplayName  *string                    `json:"initial_device_display_name"`
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	d := keys.Dehydration{DeviceID: req.DeviceID, DeviceData: req.DeviceData,
		Keys: keys.Upload{DeviceKeys: req.DeviceKeys, OneTimeKeys: req.OneTimeKeys, FallbackKeys: req.FallbackKeys}}
	if req.DisplayName != nil {
		d.DisplayName = *req.DisplayName
	}
	switch err := a.e2ee.Dehydration.PutDehydratedDevice(r.Context(), who.UserID, d); {
	case errors.Is(err, keys.ErrNoDeviceKeys):
		return httpapi.Unknown(http.StatusBadRequest, "Device key(s) not found, these must be provided.")
	case errors.Is(err, keys.ErrDeviceIDTaken):
		return httpapi.InvalidParam("device_id is the ID of another device")
	case err != nil:
		return uploadError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"device_id": req.DeviceID})
	return nil
}

func (a *API) getDehydratedDevice(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	id, data, err := a.e2ee.Dehydration.DehydratedDevice(r.Context(), who.UserID)
	if errors.Is(err, keys.ErrNoDehydratedDevice) {
		return httpapi.NotFound("No dehydrated device available")
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"device_id": id, "device_data": data})
	return nil
}

func (a *API) deleteDehydratedDevice(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	id, err := a.e2ee.Dehydration.DeleteDehydratedDevice(r.Context(), who.UserID)
	if errors.Is(err, keys.ErrNoDehydratedDevice) {
		return httpapi.NotFound("No dehydrated device available")
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"device_id": id})
	return nil
}

// dehydratedEvents serves POST .../dehydrated_device/{deviceId}/events:
// the to-device messages the dehydrated device received, for the client
// rehydrating it. Nothing is deleted; the inbox goes with the device.
func (a *API) dehydratedEvents(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		NextBatch *string `json:"next_batch"`
	}
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	var after int64
	if req.NextBatch != nil {
		pos, err := strconv.ParseInt(strings.TrimPrefix(*req.NextBatch, "d"), 10, 64)
		if err != nil || pos < 0 || !strings.HasPrefix(*req.NextBatch, "d") {
			return httpapi.InvalidParam("next_batch has an invalid format")
		}
		after = pos
	}
	id, _, err := a.e2ee.Dehydration.DehydratedDevice(r.Context(), who.UserID)
	if errors.Is(err, keys.ErrNoDehydratedDevice) {
		return httpapi.Forbidden("No dehydrated device exists")
	}
	if err != nil {
		return err
	}
	if id != r.PathValue("deviceId") {
		return httpapi.Forbidden("You may only fetch messages for your dehydrated device")
	}
	events, next, err := a.e2ee.Inbox.Inbox(r.Context(), who.UserID, id, after, dehydratedEventsLimit)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"events": nonNilRaw(events), "next_batch": "d" + strconv.FormatInt(next, 10)})
	return nil
}

func nonNilRaw(l []json.RawMessage) []json.RawMessage {
	if l == nil {
		return []json.RawMessage{}
	}
	return l
}
