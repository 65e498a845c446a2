package adminapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
)

// Admins authenticates the admin API's callers.
type Admins interface {
	// Authenticate resolves an access token (served from memory after its
	// first use).
	Authenticate(ctx context.Context, token string) (accounts.Requester, error)
	// IsAdmin reads users.is_admin.
	IsAdmin(ctx context.Context, userID string) (bool, error)
}

// AdminHandler is an admin endpoint, called with the authenticated admin.
type AdminHandler func(w http.ResponseWriter, r *http.Request, admin accounts.Requester) error

// RequireAdmin wraps h so that only server admins reach it: a missing
// token is 401 M_MISSING_TOKEN, an unknown one 401 M_UNKNOWN_TOKEN, and a
// user who is not an admin 403 M_FORBIDDEN, as in Synapse.
func RequireAdmin(admins Admins, h AdminHandler) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		token, ok := httpapi.AccessToken(r)
		if !ok {
			return &httpapi.Error{Status: http.StatusUnauthorized, Code: "M_MISSING_TOKEN", Message: "Missing access token"}
		}
		who, err := admins.Authenticate(r.Context(), token)
		if errors.Is(err, accounts.ErrUnknownToken) {
			return &httpapi.Error{Status: http.StatusUnauthorized, Code: "M_UNKNOWN_TOKEN", Message: "Unrecognised access token",
				Extra: map[string]any{"soft_logout": false}}
		}
		if errors.Is(err, accounts.ErrExpiredToken) {
			return &httpapi.Error{Status: http.StatusUnauthorized, Code: "M_UNKNOWN_TOKEN", Message: "Access token has expired",
				Extra: map[string]any{"soft_logout": true}}
		}
		if err != nil {
			return err
		}
		if ri := httpapi.Info(r.Context()); ri != nil {
			ri.User = who.UserID
		}
		admin, err := admins.IsAdmin(r.Context(), who.UserID)
		if err != nil {
			return err
		}
		if !admin || who.Guest {
			return httpapi.Forbidden("You are not a server admin")
		}
		return h(w, r, who)
	}
}
