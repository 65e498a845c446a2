package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

// RateLimitOverrideService keeps users' rate-limit overrides.
type RateLimitOverrideService interface {
	Get(ctx context.Context, userID string) (accounts.RateLimitOverride, bool, error)
	Set(ctx context.Context, userID string, o accounts.RateLimitOverride) error
	Delete(ctx context.Context, userID string) error
}

// RateLimitOverrides serves Synapse's admin API to override a user's rate
// limits, /_synapse/admin/v1/users/<user_id>/override_ratelimit, to
// server admins.
type RateLimitOverrides struct {
	admins    Admins
	overrides RateLimitOverrideService
}

// NewRateLimitOverrides returns the endpoints.
func NewRateLimitOverrides(admins Admins, overrides RateLimitOverrideService) *RateLimitOverrides {
	return &RateLimitOverrides{admins: admins, overrides: overrides}
}

const overrideRateLimitPath = "/_synapse/admin/v1/users/{userID}/override_ratelimit"

// Register adds the endpoints' routes.
func (a *RateLimitOverrides) Register(rt *httpapi.Router) {
	rt.Handle(http.MethodGet, overrideRateLimitPath, RequireAdmin(a.admins, a.get))
	rt.Handle(http.MethodPost, overrideRateLimitPath, RequireAdmin(a.admins, a.set))
	rt.Handle(http.MethodDelete, overrideRateLimitPath, RequireAdmin(a.admins, a.delete))
}

func overrideJSON(o accounts.RateLimitOverride) map[string]any {
	return map[string]any{"messages_per_second": o.MessagesPerSecond, "burst_count": o.BurstCount}
}

// overrideErr maps the service's errors to Synapse's answers; notLocal is
// the message for a remote user, which Synapse words per method.
func overrideErr(err error, notLocal string) error {
	switch {
	case errors.Is(err, accounts.ErrNotLocalUser):
		return httpapi.Unknown(http.StatusBadRequest, notLocal)
	case errors.Is(err, accounts.ErrUnknownUser):
		return httpapi.NotFound("User not found")
	}
	return err
}

func (a *RateLimitOverrides) get(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	o, ok, err := a.overrides.Get(r.Context(), r.PathValue("userID"))
	if err != nil {
		return overrideErr(err, "Can only look up local users")
	}
	resp := map[string]any{}
	if ok {
		resp = overrideJSON(o)
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// set serves POST: both values default to 0, so an empty body exempts the
// user from rate limits, as in Synapse.
func (a *RateLimitOverrides) set(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	userID := r.PathValue("userID")
	// Synapse checks the user before reading the body.
	if _, _, err := a.overrides.Get(r.Context(), userID); err != nil {
		return overrideErr(err, "Only local users can be ratelimited")
	}
	body, err := optionalJSONObject(r)
	if err != nil {
		return err
	}
	var o accounts.RateLimitOverride
	if o.MessagesPerSecond, err = nonNegativeInt(body, "messages_per_second"); err != nil {
		return err
	}
	if o.BurstCount, err = nonNegativeInt(body, "burst_count"); err != nil {
		return err
	}
	if err := a.overrides.Set(r.Context(), userID, o); err != nil {
		return overrideErr(err, "Only local users can be ratelimited")
	}
	httpapi.WriteJSON(w, http.StatusOK, overrideJSON(o))
	return nil
}

func (a *RateLimitOverrides) delete(w http.ResponseWriter, r *http.Request, _ accounts.Requester) error {
	if err := a.overrides.Delete(r.Context(), r.PathValue("userID")); err != nil {
		return overrideErr(err, "Only local users can be ratelimited")
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// optionalJSONObject reads a JSON object body, where an empty body is an
// empty object.
func optionalJSONObject(r *http.Request) (map[string]json.RawMessage, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, httpapi.MaxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, httpapi.TooLarge(fmt.Sprintf("Request body exceeds %d bytes", httpapi.MaxJSONBody))
		}
		return nil, fmt.Errorf("read request body: %w", err)
	}
	body := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return body, nil
	}
	if err := httpapi.UnmarshalBody(raw, &body); err != nil {
		return nil, err
	}
	return body, nil
}

// nonNegativeInt reads an optional integer field (default 0). As in
// Synapse, it must be a JSON integer: not null, a boolean or 1.0.
func nonNegativeInt(body map[string]json.RawMessage, field string) (int64, error) {
	raw, ok := body[field]
	if !ok {
		return 0, nil
	}
	n, ok := jsonInt(raw)
	if !ok || n < 0 {
		return 0, httpapi.InvalidParam(field + " parameter must be a positive int")
	}
	return n, nil
}
