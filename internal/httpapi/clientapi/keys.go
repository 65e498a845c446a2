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
	"github.com/axonhs/axon/internal/matrix/id"
	"github.com/axonhs/axon/internal/streams"
	"github.com/axonhs/axon/internal/syncer"
	"github.com/axonhs/axon/internal/todevice"
)

// Keys is what the client API needs of the keys service.
type Keys interface {
	Upload(ctx context.Context, user, device string, in keys.Upload) (map[string]int, error)
	Query(ctx context.Context, requester string, want map[string][]string) (keys.QueryResult, error)
	Claim(ctx context.Context, want map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error)
}

// ToDevice is what the client API needs of the to-device service.
type ToDevice interface {
	Send(ctx context.Context, in todevice.Send) error
}

// DeviceLists answers /keys/changes, from the same computation as the
// device_lists of /sync.
type DeviceLists interface {
	Current() streams.Token
	DeviceLists(ctx context.Context, user string, since, upTo streams.Token) (*syncer.DeviceLists, error)
}

// E2EE are the end-to-end encryption services.
type E2EE struct {
	Keys         Keys
	CrossSigning CrossSigning
	ToDevice     ToDevice
	DeviceLists  DeviceLists
	// Dehydration and Inbox serve dehydrated devices (MSC3814); nil
	// unless experimental_features.msc3814_enabled.
	Dehydration Dehydration
	Inbox       Inbox
}

// WithE2EE adds the end-to-end encryption endpoints.
func (a *API) WithE2EE(e E2EE) *API {
	a.e2ee = e
	return a
}

func (a *API) registerE2EE(rt *httpapi.Router) {
	if a.e2ee.Keys == nil {
		return
	}
	a.handle(rt, http.MethodPost, "/keys/upload", a.guestAuthed(a.uploadKeys))
	// The device ID in the path is deprecated; clients still send it.
	a.handle(rt, http.MethodPost, "/keys/upload/{deviceId}", a.guestAuthed(a.uploadKeys))
	a.handle(rt, http.MethodPost, "/keys/query", a.guestAuthed(a.queryKeys))
	a.handle(rt, http.MethodPost, "/keys/claim", a.guestAuthed(a.claimKeys))
	a.handle(rt, http.MethodGet, "/keys/changes", a.guestAuthed(a.keyChanges))
	a.handle(rt, http.MethodPut, "/sendToDevice/{eventType}/{txnId}", a.guestAuthed(a.sendToDevice))
	a.registerCrossSigning(rt)
	a.registerDehydration(rt)
}

// uploadKeys serves POST /keys/upload.
func (a *API) uploadKeys(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if who.DeviceID == "" {
		return httpapi.Unknown(http.StatusBadRequest, "To upload keys, you must pass device_id when authenticating")
	}
	counts, err := a.e2ee.Keys.Upload(r.Context(), who.UserID, who.DeviceID, keys.Upload{
		DeviceKeys: req.DeviceKeys, OneTimeKeys: req.OneTimeKeys, FallbackKeys: req.FallbackKeys,
	})
	if err != nil {
		return uploadError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"one_time_key_counts": counts})
	return nil
}

// uploadError maps the refusals of a key upload to Matrix errors.
func uploadError(err error) error {
	switch {
	case errors.Is(err, keys.ErrBadKeys):
		return httpapi.BadJSON(err.Error())
	case errors.Is(err, keys.ErrInvalidSignature):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_INVALID_SIGNATURE", Message: err.Error()}
	case errors.Is(err, keys.ErrIdentityChanged):
		return httpapi.InvalidParam("Device keys may not change the device's identity keys")
	case errors.Is(err, keys.ErrKeyExists):
		return httpapi.Unknown(http.StatusBadRequest, err.Error())
	}
	return err
}

// queryKeys serves POST /keys/query. Invalid user IDs are skipped, as in
// Synapse; the timeout is for federation, which is not there yet.
func (a *API) queryKeys(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		DeviceKeys json.RawMessage `json:"device_keys"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	var want map[string][]string
	if len(req.DeviceKeys) == 0 || json.Unmarshal(req.DeviceKeys, &want) != nil || want == nil {
		var asObject map[string]json.RawMessage
		if json.Unmarshal(req.DeviceKeys, &asObject) != nil || asObject == nil {
			return httpapi.BadJSON("'device_keys' must be a JSON object")
		}
		return httpapi.BadJSON("'device_keys' values must be a list of strings")
	}
	valid := make(map[string][]string, len(want))
	for u, devices := range want {
		if _, err := id.ParseUserID(u); err == nil {
			valid[u] = devices
		}
	}
	res, err := a.e2ee.Keys.Query(r.Context(), who.UserID, valid)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}

// claimKeys serves POST /keys/claim.
func (a *API) claimKeys(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	for u := range req.OneTimeKeys {
		if _, err := id.ParseUserID(u); err != nil {
			return httpapi.InvalidParam("Invalid user ID " + u)
		}
	}
	got, err := a.e2ee.Keys.Claim(r.Context(), req.OneTimeKeys)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"one_time_keys": got, "failures": map[string]any{}})
	return nil
}

// keyChanges serves GET /keys/changes: the users whose devices changed
// between two sync tokens. to is capped at now, and read as now when it
// is missing (Synapse ignores it).
func (a *API) keyChanges(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	q := r.URL.Query()
	if q.Get("from") == "" {
		return httpapi.MissingParam("Missing from parameter")
	}
	from, err := streams.ParseToken(q.Get("from"))
	if err != nil {
		return httpapi.InvalidParam("Invalid from token")
	}
	cur := a.e2ee.DeviceLists.Current()
	to := cur
	if s := q.Get("to"); s != "" {
		if to, err = streams.ParseToken(s); err != nil {
			return httpapi.InvalidParam("Invalid to token")
		}
		to = to.Min(cur)
	}
	dl, err := a.e2ee.DeviceLists.DeviceLists(r.Context(), who.UserID, from, to)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string][]string{"changed": nonNilStrings(dl.Changed), "left": nonNilStrings(dl.Left)})
	return nil
}

func nonNilStrings(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// sendToDevice serves PUT /sendToDevice/{eventType}/{txnId}.
func (a *API) sendToDevice(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	var req struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Messages == nil {
		return httpapi.MissingParam("messages: field required")
	}
	senderKey := who.DeviceID
	if senderKey == "" {
		// A session without a device: its token tells its retries apart.
		token, _ := httpapi.AccessToken(r)
		sum := sha256.Sum256([]byte(token))
		senderKey = "token:" + hex.EncodeToString(sum[:8])
	}
	err := a.e2ee.ToDevice.Send(r.Context(), todevice.Send{
		Sender: who.UserID, SenderKey: senderKey, Type: r.PathValue("eventType"), TxnID: r.PathValue("txnId"), Messages: req.Messages,
	})
	switch {
	case errors.Is(err, todevice.ErrTooLarge):
		return httpapi.TooLarge(err.Error())
	case errors.Is(err, todevice.ErrBadMessage):
		return httpapi.BadJSON(err.Error())
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}
