package config

import (
	"maps"
	"math"
	"slices"

	"go.yaml.in/yaml/v3"
)

// RateLimit is one of Synapse's rate limits: each client (an IP address
// or an account, depending on the limit) may do BurstCount actions at once,
// and regains PerSecond actions a second.
type RateLimit struct {
	PerSecond float64
	// BurstCount is a whole number, as Synapse truncates burst_count to int.
	BurstCount int
}

// RateLimits are the rc_* settings. A nil limit means no limiting, which is
// what a Config built in code (tests) gets; Parse fills every one with
// Synapse's default, except AdminRedaction.
type RateLimits struct {
	Registration              *RateLimit // rc_registration: per IP on /register
	RegistrationTokenValidity *RateLimit // rc_registration_token_validity: per IP
	LoginAddress              *RateLimit // rc_login.address: per IP on /login
	LoginAccount              *RateLimit // rc_login.account: per account logged in to
	LoginFailedAttempts       *RateLimit // rc_login.failed_attempts: per account, failed logins

	// Read and validated; enforced when rooms land.
	Message *RateLimit // rc_message: per sender; admins are exempt, as in Synapse
	// AdminRedaction is rc_admin_redaction; nil means Message applies, as
	// Synapse does when the key is absent.
	AdminRedaction   *RateLimit
	JoinsLocal       *RateLimit // rc_joins.local
	JoinsRemote      *RateLimit // rc_joins.remote
	InvitesPerRoom   *RateLimit // rc_invites.per_room
	InvitesPerUser   *RateLimit // rc_invites.per_user (the invitee)
	InvitesPerIssuer *RateLimit // rc_invites.per_issuer (the inviter)
}

// DefaultRateLimits are Synapse's defaults (its configuration manual and
// schema), each a fresh value.
func DefaultRateLimits() RateLimits {
	rl := func(perSecond float64, burst int) *RateLimit {
		return &RateLimit{PerSecond: perSecond, BurstCount: burst}
	}
	return RateLimits{
		Registration:              rl(0.17, 3),
		RegistrationTokenValidity: rl(0.1, 5),
		LoginAddress:              rl(0.003, 5),
		LoginAccount:              rl(0.003, 5),
		LoginFailedAttempts:       rl(0.17, 3),
		Message:                   rl(0.2, 10),
		JoinsLocal:                rl(0.1, 10),
		JoinsRemote:               rl(0.01, 10),
		InvitesPerRoom:            rl(0.3, 10),
		InvitesPerUser:            rl(0.003, 5),
		InvitesPerIssuer:          rl(0.3, 10),
	}
}

// rateLimitKeys maps each rc_* key Axon reads to its limits: a single
// limit under "", or the limits under each sub-key.
var rateLimitKeys = map[string]map[string]func(*RateLimits) **RateLimit{
	"rc_message":                     {"": func(r *RateLimits) **RateLimit { return &r.Message }},
	"rc_registration":                {"": func(r *RateLimits) **RateLimit { return &r.Registration }},
	"rc_registration_token_validity": {"": func(r *RateLimits) **RateLimit { return &r.RegistrationTokenValidity }},
	"rc_admin_redaction":             {"": func(r *RateLimits) **RateLimit { return &r.AdminRedaction }},
	"rc_login": {
		"address":         func(r *RateLimits) **RateLimit { return &r.LoginAddress },
		"account":         func(r *RateLimits) **RateLimit { return &r.LoginAccount },
		"failed_attempts": func(r *RateLimits) **RateLimit { return &r.LoginFailedAttempts },
	},
	"rc_joins": {
		"local":  func(r *RateLimits) **RateLimit { return &r.JoinsLocal },
		"remote": func(r *RateLimits) **RateLimit { return &r.JoinsRemote },
	},
	"rc_invites": {
		"per_room":   func(r *RateLimits) **RateLimit { return &r.InvitesPerRoom },
		"per_user":   func(r *RateLimits) **RateLimit { return &r.InvitesPerUser },
		"per_issuer": func(r *RateLimits) **RateLimit { return &r.InvitesPerIssuer },
	},
}

// rateLimits reads one of the rc_* keys of rateLimitKeys. As in Synapse,
// a setting left out keeps its default, null included.
func (l *loader) rateLimits(e entry, path string) {
	fields := rateLimitKeys[e.key]
	if single, ok := fields[""]; ok {
		l.rateLimit(e.val, path, single(&l.c.RateLimits))
		return
	}
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	names := slices.Sorted(maps.Keys(fields))
	for _, se := range entries {
		p := child(path, se.key)
		field, ok := fields[se.key]
		if !ok {
			l.w.unknown(se, p, names)
			continue
		}
		l.rateLimit(se.val, p, field(&l.c.RateLimits))
	}
}

// rateLimit reads a {per_second, burst_count} mapping over *dst, starting
// from the default it holds (or Synapse's generic 0.17/3 when it has none).
func (l *loader) rateLimit(n *yaml.Node, path string, dst **RateLimit) {
	entries, ok := l.w.mapping(n, path)
	if !ok || len(entries) == 0 {
		return
	}
	rl := RateLimit{PerSecond: 0.17, BurstCount: 3}
	if *dst != nil {
		rl = **dst
	}
	for _, e := range entries {
		p := child(path, e.key)
		switch e.key {
		case "per_second":
			if v, ok := l.number(e.val, p); ok {
				rl.PerSecond = v
				if v == 0 {
					l.w.warnf(e.val, p, "0 never refills: after burst_count requests, every further one is refused until Axon restarts")
				}
			}
		case "burst_count":
			if v, ok := l.number(e.val, p); ok {
				if v > math.MaxInt32 {
					v = math.MaxInt32
				}
				rl.BurstCount = int(v) // Synapse truncates with int()
				if rl.BurstCount == 0 {
					l.w.warnf(e.val, p, "below 1: every request is refused")
				}
			}
		default:
			l.w.unknown(e, p, []string{"per_second", "burst_count"})
		}
	}
	*dst = &rl
}

// number reads a non-negative number; null is an error here because
// Synapse would fail on it at the first request.
func (l *loader) number(n *yaml.Node, path string) (float64, bool) {
	rn := resolve(n)
	var v float64
	ok := rn != nil && rn.Kind == yaml.ScalarNode && (rn.Tag == "!!int" || rn.Tag == "!!float") &&
		rn.Decode(&v) == nil && !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0
	if !ok {
		l.w.errorf(n, path, "expected a number >= 0, got %s", kindName(n))
		return 0, false
	}
	return v, true
}
