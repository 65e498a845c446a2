package clientapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/uia"
)

// RegistrationTokens is what registration needs of the registration token
// service (registration_requires_token).
type RegistrationTokens interface {
	Valid(ctx context.Context, token string) (bool, error)
	Reserve(ctx context.Context, token, session string, lifetime time.Duration) error
	Complete(ctx context.Context, session string) (string, error)
	Release(ctx context.Context, token string) error
}

// regTokenState is the API's registration token service and the hook run
// before each validity check.
type regTokenState struct {
	svc RegistrationTokens
	// limit, when set, runs before GET .../validity and may refuse the
	// request (e.g. 429 M_LIMIT_EXCEEDED): the spec asks servers to rate
	// limit it against brute force.
	limit func(r *http.Request) error
}

// WithRegistrationTokens gives the API the registration token service; it
// is required when Settings.RegistrationRequiresToken is set.
func (a *API) WithRegistrationTokens(svc RegistrationTokens) *API {
	a.regToken.svc = svc
	return a
}

// WithRegistrationTokenValidityLimit sets the hook run before each
// registration token validity check (rate limiting).
func (a *API) WithRegistrationTokenValidityLimit(limit func(r *http.Request) error) *API {
	a.regToken.limit = limit
	return a
}

// tokenRegistrationFlows are offered when registration_requires_token is
// set; like Synapse, a dummy stage follows the token so that no flow is a
// prefix of another.
var tokenRegistrationFlows = []uia.Flow{{Stages: []string{uia.StageRegistrationToken, uia.StageDummy}}}

func (a *API) requiresToken() bool {
	return a.settings.RegistrationRequiresToken && a.regToken.svc != nil
}

// authorizeRegistration runs User-Interactive Authentication for /register.
// Its flows and stages are registrationRequest's (terms.go).
func (a *API) authorizeRegistration(ctx context.Context, auth *uia.Auth) (bool, uia.Challenge, error) {
	done, ch, err := a.uia.AuthorizeStage(ctx, auth, a.registrationRequest())
	if err != nil {
		return false, ch, reauthError(err)
	}
	return done, ch, nil
}

func (a *API) reserveRegistrationToken(ctx context.Context, token, session string) error {
	err := a.regToken.svc.Reserve(ctx, token, session, uia.SessionLifetime)
	switch {
	case errors.Is(err, accounts.ErrRegistrationTokenInvalid):
		return uia.ErrInvalidRegistrationToken
	case errors.Is(err, accounts.ErrRegistrationTokenChanged):
		return uia.ErrRegistrationTokenChanged
	}
	return err
}

// useRegistrationToken turns the completed session's pending token use
// into a completed one, just before the account is created; release gives
// it back if the creation fails. Without registration_requires_token both
// do nothing.
func (a *API) useRegistrationToken(ctx context.Context, auth *uia.Auth) (release func(), err error) {
	if !a.requiresToken() {
		return func() {}, nil
	}
	if auth == nil || auth.Session == "" {
		return nil, &httpapi.Error{Status: http.StatusUnauthorized, Code: "M_UNAUTHORIZED", Message: "Invalid registration token"}
	}
	token, err := a.regToken.svc.Complete(ctx, auth.Session)
	if errors.Is(err, accounts.ErrRegistrationTokenInvalid) {
		return nil, &httpapi.Error{Status: http.StatusUnauthorized, Code: "M_UNAUTHORIZED", Message: "Invalid registration token"}
	}
	if err != nil {
		return nil, err
	}
	return func() {
		if err := a.regToken.svc.Release(context.WithoutCancel(ctx), token); err != nil {
			slog.Warn("give back a registration token use after a failed registration", "err", err)
		}
	}, nil
}

// registrationTokenValidity serves GET
// /_matrix/client/v1/register/m.login.registration_token/validity.
func (a *API) registrationTokenValidity(w http.ResponseWriter, r *http.Request) error {
	if a.regToken.limit != nil {
		if err := a.regToken.limit(r); err != nil {
			return err
		}
	}
	if !a.settings.RegistrationOpen {
		return httpapi.Forbidden("Registration is not enabled on this homeserver.")
	}
	token := r.URL.Query().Get("token")
	if !r.URL.Query().Has("token") {
		return httpapi.MissingParam("Missing string query parameter 'token'")
	}
	valid := false
	if a.regToken.svc != nil {
		var err error
		if valid, err = a.regToken.svc.Valid(r.Context(), token); err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]bool{"valid": valid})
	return nil
}

// registerRegistrationTokens mounts the validity endpoint, which exists
// under v1 only (and MSC3231's unstable prefix, which clients still use).
func (a *API) registerRegistrationTokens(rt *httpapi.Router) {
	rt.Handle(http.MethodGet, "/_matrix/client/v1/register/m.login.registration_token/validity", a.registrationTokenValidity)
	rt.Handle(http.MethodGet, "/_matrix/client/unstable/org.matrix.msc3231/register/org.matrix.msc3231.login.registration_token/validity",
		a.registrationTokenValidity)
}
