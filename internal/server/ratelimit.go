package server

import (
	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/httpapi/clientapi"
	"github.com/axonhs/axon/internal/ratelimit"
)

// newLimiters builds the client API's rate limiters once per server, so
// that every listener serving the client API shares the same buckets. A
// limit the configuration leaves nil is not enforced. overrides are the
// per-user overrides of the admin API, which the limits Synapse applies
// them to consult.
func newLimiters(rl config.RateLimits, overrides *accounts.RateLimitOverrides) clientapi.Limiters {
	return clientapi.Limiters{
		Registration:              limiter(rl.Registration),
		RegistrationAvailability:  limiter(rl.Registration),
		RegistrationTokenValidity: limiter(rl.RegistrationTokenValidity),
		LoginAddress:              limiter(rl.LoginAddress),
		LoginAccount:              limiter(rl.LoginAccount),
		LoginFailedAttempts:       limiter(rl.LoginFailedAttempts),
		// Synapse's fixed limit on POST /login/get_token: one a minute.
		GetLoginToken: ratelimit.New(1.0/60, 1),
		Message:       limiter(rl.Message, ratelimit.WithOverrides(overrideLookup(overrides))),
		JoinsLocal:    limiter(rl.JoinsLocal, ratelimit.WithExemptions(overrideLookup(overrides))),
		// Invites are counted per room, invitee and inviter; only the
		// inviter's override can exempt.
		InvitesPerRoom:   limiter(rl.InvitesPerRoom),
		InvitesPerUser:   limiter(rl.InvitesPerUser),
		InvitesPerIssuer: limiter(rl.InvitesPerIssuer, ratelimit.WithExemptions(overrideLookup(overrides))),
	}
}

func limiter(c *config.RateLimit, opts ...ratelimit.Option) *ratelimit.Limiter {
	if c == nil {
		return nil
	}
	return ratelimit.New(c.PerSecond, float64(c.BurstCount), opts...)
}

// overrideLookup adapts the overrides to the limiters' hook.
func overrideLookup(overrides *accounts.RateLimitOverrides) func(string) (ratelimit.Override, bool) {
	return func(userID string) (ratelimit.Override, bool) {
		o, ok := overrides.Lookup(userID)
		return ratelimit.Override{PerSecond: float64(o.MessagesPerSecond), Burst: float64(o.BurstCount)}, ok
	}
}
