package server

import (
	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/httpapi/clientapi"
	"github.com/axonhs/axon/internal/ratelimit"
)

// newLimiters builds the client API's rate limiters once per server, so
// that every listener serving the client API shares the same buckets. A
// limit the configuration leaves nil is not enforced.
func newLimiters(rl config.RateLimits) clientapi.Limiters {
	return clientapi.Limiters{
		Registration:              limiter(rl.Registration),
		RegistrationAvailability:  limiter(rl.Registration),
		RegistrationTokenValidity: limiter(rl.RegistrationTokenValidity),
		LoginAddress:              limiter(rl.LoginAddress),
		LoginAccount:              limiter(rl.LoginAccount),
		LoginFailedAttempts:       limiter(rl.LoginFailedAttempts),
		// Synapse's fixed limit on POST /login/get_token: one a minute.
		GetLoginToken: ratelimit.New(1.0/60, 1),
	}
}

func limiter(c *config.RateLimit) *ratelimit.Limiter {
	if c == nil {
		return nil
	}
	return ratelimit.New(c.PerSecond, float64(c.BurstCount))
}
