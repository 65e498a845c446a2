package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/axonhs/axon/internal/accountdata"
	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/profile"
)

// UserData are the services behind profiles, account data and filters.
type UserData struct {
	Profiles    Profiles
	AccountData AccountData
	Filters     Filters
}

// Profiles is what the client API needs of the profile service.
type Profiles interface {
	Get(ctx context.Context, userID string) (map[string][]byte, error)
	Set(ctx context.Context, userID, key string, value []byte) error
}

// AccountData is what the client API needs of the account data service.
type AccountData interface {
	Get(ctx context.Context, userID, roomID, typ string) ([]byte, error)
	Put(ctx context.Context, userID, roomID, typ string, content []byte) error
	Tags(ctx context.Context, userID, roomID string) (map[string]json.RawMessage, error)
	SetTag(ctx context.Context, userID, roomID, tag string, info []byte) error
	DeleteTag(ctx context.Context, userID, roomID, tag string) error
}

// Filters is what the client API needs of the filter service.
type Filters interface {
	Create(ctx context.Context, userID string, data []byte) (string, error)
	Get(ctx context.Context, userID, filterID string) ([]byte, error)
}

func (a *API) registerUserData(rt *httpapi.Router) {
	a.handle(rt, http.MethodGet, "/profile/{userId}", a.maybeAuthed(a.getProfile))
	a.handle(rt, http.MethodGet, "/profile/{userId}/{keyName}", a.maybeAuthed(a.getProfileField))
	// Guests may change their display name only.
	a.handle(rt, http.MethodPut, "/profile/{userId}/{keyName}", a.ownedWith(a.setProfileField, access{guests: guestDisplayNameOnly}))
	a.handle(rt, http.MethodDelete, "/profile/{userId}/{keyName}", a.ownedWith(a.deleteProfileField, access{guests: guestDisplayNameOnly}))

	a.handle(rt, http.MethodGet, "/user/{userId}/account_data/{type}", a.owned(a.getAccountData))
	a.handle(rt, http.MethodPut, "/user/{userId}/account_data/{type}", a.owned(a.putAccountData))
	a.handle(rt, http.MethodDelete, "/user/{userId}/account_data/{type}", a.owned(a.deleteAccountData))
	a.handle(rt, http.MethodGet, "/user/{userId}/rooms/{roomId}/account_data/{type}", a.owned(a.getAccountData))
	a.handle(rt, http.MethodPut, "/user/{userId}/rooms/{roomId}/account_data/{type}", a.owned(a.putAccountData))
	a.handle(rt, http.MethodDelete, "/user/{userId}/rooms/{roomId}/account_data/{type}", a.owned(a.deleteAccountData))

	a.handle(rt, http.MethodGet, "/user/{userId}/rooms/{roomId}/tags", a.owned(a.getTags))
	a.handle(rt, http.MethodPut, "/user/{userId}/rooms/{roomId}/tags/{tag}", a.owned(a.putTag))
	a.handle(rt, http.MethodDelete, "/user/{userId}/rooms/{roomId}/tags/{tag}", a.owned(a.deleteTag))

	a.handle(rt, http.MethodPost, "/user/{userId}/filter", a.owned(a.createFilter))
	a.handle(rt, http.MethodGet, "/user/{userId}/filter/{filterId}", a.owned(a.getFilter))
}

// maybeAuthed authenticates when a token is present or when
// require_auth_for_profile_requests demands it, and otherwise serves
// anonymous requests. Guests are refused only where authentication is
// required, as in Synapse, which otherwise ignores the token.
func (a *API) maybeAuthed(h authedHandler) httpapi.HandlerFunc {
	acc := access{}
	if !a.settings.RequireAuthForProfiles {
		acc.guests = guestsAllowed
	}
	authed := a.authedWith(h, acc)
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, ok := httpapi.AccessToken(r); ok || a.settings.RequireAuthForProfiles {
			return authed(w, r)
		}
		return h(w, r, accounts.Requester{})
	}
}

// ownedHandler is an endpoint about the requester's own data, named by
// the {userId} path segment.
type ownedHandler func(w http.ResponseWriter, r *http.Request, userID string) error

// owned authenticates and refuses requests about another user's data.
func (a *API) owned(h ownedHandler) httpapi.HandlerFunc { return a.ownedWith(h, access{}) }

func (a *API) ownedWith(h ownedHandler, acc access) httpapi.HandlerFunc {
	return a.authedWith(func(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
		userID := r.PathValue("userId")
		if userID != who.UserID {
			return httpapi.Forbidden("Cannot access data of other users")
		}
		return h(w, r, userID)
	}, acc)
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	if err := a.checkProfileVisible(r.Context(), who, r.PathValue("userId")); err != nil {
		return err
	}
	fields, err := a.data.Profiles.Get(r.Context(), r.PathValue("userId"))
	if err != nil {
		return profileError(err)
	}
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		out[k] = v
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getProfileField(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	if err := a.checkProfileVisible(r.Context(), who, r.PathValue("userId")); err != nil {
		return err
	}
	fields, err := a.data.Profiles.Get(r.Context(), r.PathValue("userId"))
	if err != nil {
		return profileError(err)
	}
	key := r.PathValue("keyName")
	v, ok := fields[key]
	if !ok {
		return httpapi.NotFound("Profile field not set")
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]json.RawMessage{key: v})
	return nil
}

func (a *API) setProfileField(w http.ResponseWriter, r *http.Request, userID string) error {
	key := r.PathValue("keyName")
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	value, ok := body[key]
	if !ok {
		return httpapi.MissingParam("Missing key '" + key + "'")
	}
	if err := a.data.Profiles.Set(r.Context(), userID, key, value); err != nil {
		return profileError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) deleteProfileField(w http.ResponseWriter, r *http.Request, userID string) error {
	if err := a.data.Profiles.Set(r.Context(), userID, r.PathValue("keyName"), nil); err != nil {
		return profileError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func profileError(err error) error {
	switch {
	case errors.Is(err, profile.ErrNoSuchUser):
		return httpapi.NotFound("Profile was not found")
	case errors.Is(err, profile.ErrNotAllowed):
		return httpapi.Forbidden("Profile modification is not permitted")
	case errors.Is(err, profile.ErrKeyTooLarge):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_KEY_TOO_LARGE", Message: err.Error()}
	case errors.Is(err, profile.ErrProfileTooLarge):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_PROFILE_TOO_LARGE", Message: err.Error()}
	case errors.Is(err, profile.ErrInvalidKey):
		return httpapi.InvalidParam("Invalid profile key")
	case errors.Is(err, profile.ErrInvalidValue):
		return httpapi.BadJSON(err.Error())
	}
	return err
}

func (a *API) getAccountData(w http.ResponseWriter, r *http.Request, userID string) error {
	content, err := a.data.AccountData.Get(r.Context(), userID, r.PathValue("roomId"), r.PathValue("type"))
	if errors.Is(err, accountdata.ErrNotFound) {
		return httpapi.NotFound("Account data not found")
	}
	if err != nil {
		return err
	}
	writeRaw(w, content)
	return nil
}

func (a *API) putAccountData(w http.ResponseWriter, r *http.Request, userID string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return a.storeAccountData(w, r, userID, body)
}

func (a *API) deleteAccountData(w http.ResponseWriter, r *http.Request, userID string) error {
	return a.storeAccountData(w, r, userID, nil)
}

func (a *API) storeAccountData(w http.ResponseWriter, r *http.Request, userID string, content []byte) error {
	err := a.data.AccountData.Put(r.Context(), userID, r.PathValue("roomId"), r.PathValue("type"), content)
	switch {
	case errors.Is(err, accountdata.ErrServerManaged):
		return &httpapi.Error{Status: http.StatusMethodNotAllowed, Code: "M_BAD_JSON", Message: "Cannot set " + r.PathValue("type") + " through this API"}
	case errors.Is(err, accountdata.ErrNotObject):
		return httpapi.BadJSON("Content must be a JSON object")
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) getTags(w http.ResponseWriter, r *http.Request, userID string) error {
	tags, err := a.data.AccountData.Tags(r.Context(), userID, r.PathValue("roomId"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"tags": tags})
	return nil
}

func (a *API) putTag(w http.ResponseWriter, r *http.Request, userID string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	err = a.data.AccountData.SetTag(r.Context(), userID, r.PathValue("roomId"), r.PathValue("tag"), body)
	switch {
	case errors.Is(err, accountdata.ErrBadTag), errors.Is(err, accountdata.ErrNotObject):
		return httpapi.BadJSON(err.Error())
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request, userID string) error {
	if err := a.data.AccountData.DeleteTag(r.Context(), userID, r.PathValue("roomId"), r.PathValue("tag")); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) createFilter(w http.ResponseWriter, r *http.Request, userID string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	id, err := a.data.Filters.Create(r.Context(), userID, body)
	if errors.Is(err, filter.ErrInvalid) {
		return httpapi.BadJSON(err.Error())
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"filter_id": id})
	return nil
}

func (a *API) getFilter(w http.ResponseWriter, r *http.Request, userID string) error {
	data, err := a.data.Filters.Get(r.Context(), userID, r.PathValue("filterId"))
	if errors.Is(err, filter.ErrNotFound) {
		return httpapi.NotFound("No such filter")
	}
	if err != nil {
		return err
	}
	writeRaw(w, data)
	return nil
}

// readBody reads a JSON object body with DecodeJSON's limits and errors,
// keeping the raw bytes.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, httpapi.MaxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, httpapi.TooLarge("Request body too large")
		}
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := httpapi.UnmarshalBody(body, &probe); err != nil {
		return nil, err
	}
	return body, nil
}

// writeRaw sends stored JSON as it is.
func writeRaw(w http.ResponseWriter, body []byte) {
	httpapi.WriteJSON(w, http.StatusOK, json.RawMessage(body))
}

// checkProfileVisible applies limit_profile_requests_to_users_who_share_rooms.
// As in Synapse, it applies where requests are authenticated
// (require_auth_for_profile_requests): users see their own profile and
// those of users they share a joined room with.
func (a *API) checkProfileVisible(ctx context.Context, who accounts.Requester, target string) error {
	if !a.settings.LimitProfileToSharedRooms || !a.settings.RequireAuthForProfiles || who.UserID == target || a.rooms == nil {
		return nil
	}
	shared, err := a.rooms.ShareRoom(ctx, who.UserID, target)
	if err != nil {
		return err
	}
	if !shared {
		return httpapi.Forbidden("Profile isn't available")
	}
	return nil
}
