package clientapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/streams"
	"github.com/axonhs/axon/internal/syncer"
)

// Syncer is what the client API needs of the sync service.
type Syncer interface {
	Sync(ctx context.Context, req syncer.Request) (*syncer.Response, error)
}

// sync serves GET /sync.
func (a *API) sync(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	q := r.URL.Query()
	req := syncer.Request{User: who.UserID, DeviceID: who.DeviceID}
	if since := q.Get("since"); since != "" {
		t, err := streams.ParseToken(since)
		if err != nil {
			return httpapi.InvalidParam("Invalid since token")
		}
		req.Since = &t
	}
	if t := q.Get("timeout"); t != "" {
		ms, err := strconv.ParseInt(t, 10, 64)
		if err != nil || ms < 0 {
			return httpapi.InvalidParam("timeout must be a non-negative integer")
		}
		req.Timeout = time.Duration(min(ms, int64(time.Hour/time.Millisecond))) * time.Millisecond
	}
	var err error
	if req.FullState, err = boolParam(q.Get("full_state"), "full_state"); err != nil {
		return err
	}
	if req.UseStateAfter, err = boolParam(q.Get("use_state_after"), "use_state_after"); err != nil {
		return err
	}
	switch p := q.Get("set_presence"); p {
	case "", "online", "offline", "unavailable":
		req.SetPresence = p
	default:
		return httpapi.InvalidParam("set_presence must be online, offline or unavailable")
	}
	f, err := a.syncFilter(r.Context(), who.UserID, q.Get("filter"))
	if err != nil {
		return err
	}
	req.Filter = f
	resp, err := a.syncer.Sync(r.Context(), req)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// boolParam reads a boolean query parameter, false when absent.
func boolParam(v, name string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, httpapi.InvalidParam(name + " must be true or false")
}

// syncFilter reads the filter parameter: an inline JSON filter or the ID
// of one the user uploaded.
func (a *API) syncFilter(ctx context.Context, user, param string) (*filter.Filter, error) {
	if param == "" {
		return nil, nil
	}
	def := []byte(param)
	if !strings.HasPrefix(param, "{") {
		stored, err := a.data.Filters.Get(ctx, user, param)
		if errors.Is(err, filter.ErrNotFound) {
			return nil, httpapi.NotFound("No such filter")
		}
		if err != nil {
			return nil, err
		}
		def = stored
	}
	f, err := filter.Parse(def)
	if err != nil {
		return nil, httpapi.BadJSON("Invalid filter: " + err.Error())
	}
	return f, nil
}
