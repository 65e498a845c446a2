package clientapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/ratelimit"
)

// Limiters are the rate limits the client API enforces, as Synapse does.
// A nil limiter never refuses, so the zero Limiters means no limiting.
type Limiters struct {
	// Registration (rc_registration) is keyed by client IP: every POST
	// /register is checked and each account created counts.
	Registration *ratelimit.Limiter
	// RegistrationAvailability has rc_registration's settings in buckets of
	// its own (keyed by client IP, every GET /register/available counts),
	// so checking names does not use up the registrations.
	RegistrationAvailability *ratelimit.Limiter
	// RegistrationTokenValidity (rc_registration_token_validity) is keyed
	// by client IP; every validity check counts.
	RegistrationTokenValidity *ratelimit.Limiter
	// LoginAddress (rc_login.address) is keyed by client IP; every POST
	// /login counts.
	LoginAddress *ratelimit.Limiter
	// LoginAccount (rc_login.account) is keyed by the account logged in to;
	// successful logins count.
	LoginAccount *ratelimit.Limiter
	// LoginFailedAttempts (rc_login.failed_attempts) is keyed by the account
	// named; wrong passwords count.
	LoginFailedAttempts *ratelimit.Limiter
	// GetLoginToken is keyed by user; every login token minted by POST
	// /login/get_token counts (Synapse: one a minute, not configurable).
	GetLoginToken *ratelimit.Limiter
	// Message (rc_message) is keyed by sender, with the sender's override
	// from the admin API applied: count with AllowFor(sender, sender).
	// Synapse's other per-user limits (rc_joins, rc_invites, ...) honour
	// only an override's exemption (ratelimit.WithExemptions).
	Message *ratelimit.Limiter
	// JoinsLocal (rc_joins.local) is keyed by the joining user.
	JoinsLocal *ratelimit.Limiter
	// InvitesPerRoom, InvitesPerUser and InvitesPerIssuer (rc_invites) are
	// keyed by room, invitee and inviter.
	InvitesPerRoom   *ratelimit.Limiter
	InvitesPerUser   *ratelimit.Limiter
	InvitesPerIssuer *ratelimit.Limiter
}

// WithLimiters sets the rate limits the API enforces, including the one on
// registration token validity checks.
func (a *API) WithLimiters(l Limiters) *API {
	a.limits = l
	if l.RegistrationTokenValidity != nil {
		a.WithRegistrationTokenValidityLimit(IPLimit(l.RegistrationTokenValidity))
	}
	return a
}

// IPLimit returns a check that counts one action against lim for the
// request's client IP (X-Forwarded-For when the listener trusts it) and
// refuses with 429 M_LIMIT_EXCEEDED over the limit.
func IPLimit(lim *ratelimit.Limiter) func(r *http.Request) error {
	return func(r *http.Request) error {
		return limitErr(lim.Allow(httpapi.Info(r.Context()).ClientIP))
	}
}

func limitErr(ok bool, wait time.Duration) error {
	if ok {
		return nil
	}
	return httpapi.LimitExceeded(wait)
}

func clientIP(r *http.Request) string { return httpapi.Info(r.Context()).ClientIP }

// limitLoginAddress counts a login attempt from the client's IP.
func (a *API) limitLoginAddress(r *http.Request) error {
	return limitErr(a.limits.LoginAddress.Allow(clientIP(r)))
}

// limitLoginAccount refuses, before the password is checked, a login to an
// account that has seen too many failed attempts or logins lately. It
// counts nothing: loginDone does once the outcome is known.
func (a *API) limitLoginAccount(user string) error {
	key := a.loginKey(user)
	if err := limitErr(a.limits.LoginFailedAttempts.Check(key)); err != nil {
		return err
	}
	return limitErr(a.limits.LoginAccount.Check(key))
}

// loginDone counts a wrong password against rc_login.failed_attempts and
// a successful login against rc_login.account, as Synapse does.
func (a *API) loginDone(user string, err error) {
	switch {
	case errors.Is(err, accounts.ErrInvalidCredentials):
		a.limits.LoginFailedAttempts.Allow(a.loginKey(user))
	case err == nil:
		a.limits.LoginAccount.Allow(a.loginKey(user))
	}
}

// loginKey is the account a login names, as Synapse keys its login
// limits: the full user ID in lower case, whatever case the user typed.
func (a *API) loginKey(user string) string {
	if !strings.HasPrefix(user, "@") {
		user = "@" + user + ":" + a.accounts.ServerName()
	}
	return strings.ToLower(user)
}

// limitRegistration refuses POST /register from an IP that has registered
// too often lately, without counting the request (a User-Interactive
// Authentication dance takes several).
func (a *API) limitRegistration(r *http.Request) error {
	return limitErr(a.limits.Registration.Check(clientIP(r)))
}

// countRegistration counts an account about to be created.
func (a *API) countRegistration(r *http.Request) error {
	return limitErr(a.limits.Registration.Allow(clientIP(r)))
}

// limitRegisterAvailable counts a GET /register/available.
func (a *API) limitRegisterAvailable(r *http.Request) error {
	return limitErr(a.limits.RegistrationAvailability.Allow(clientIP(r)))
}
