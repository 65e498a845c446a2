package config

import (
	"testing"
)

func TestRateLimitDefaultsAreSynapses(t *testing.T) {
	c, d := parse(t, minimal)
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	rl := c.RateLimits
	for name, tc := range map[string]struct {
		got       *RateLimit
		perSecond float64
		burst     int
	}{
		"rc_message":                     {rl.Message, 0.2, 10},
		"rc_registration":                {rl.Registration, 0.17, 3},
		"rc_registration_token_validity": {rl.RegistrationTokenValidity, 0.1, 5},
		"rc_login.address":               {rl.LoginAddress, 0.003, 5},
		"rc_login.account":               {rl.LoginAccount, 0.003, 5},
		"rc_login.failed_attempts":       {rl.LoginFailedAttempts, 0.17, 3},
		"rc_joins.local":                 {rl.JoinsLocal, 0.1, 10},
		"rc_joins.remote":                {rl.JoinsRemote, 0.01, 10},
		"rc_invites.per_room":            {rl.InvitesPerRoom, 0.3, 10},
		"rc_invites.per_user":            {rl.InvitesPerUser, 0.003, 5},
		"rc_invites.per_issuer":          {rl.InvitesPerIssuer, 0.3, 10},
	} {
		if tc.got == nil || tc.got.PerSecond != tc.perSecond || tc.got.BurstCount != tc.burst {
			t.Errorf("%s = %+v, want %v/%v", name, tc.got, tc.perSecond, tc.burst)
		}
	}
	if rl.AdminRedaction != nil {
		t.Errorf("rc_admin_redaction = %+v; unset it must follow rc_message (nil)", rl.AdminRedaction)
	}
	// Each Config gets its own values.
	c2, _ := parse(t, minimal)
	if c2.RateLimits.Message == c.RateLimits.Message {
		t.Error("configs share rate limit values")
	}
}

func TestRateLimitOverrides(t *testing.T) {
	c, d := parse(t, minimal+`
rc_message:
  per_second: 0.5
  burst_count: 15.0
rc_registration:
  burst_count: 2.9
rc_registration_token_validity:
  per_second: 1
rc_login:
  address:
    per_second: 0.15
    burst_count: 5.0
  failed_attempts:
    burst_count: 7
rc_admin_redaction:
  per_second: 1.0
  burst_count: 50.0
rc_joins:
  remote:
    per_second: 0.03
rc_invites:
  per_issuer: {per_second: 0.5, burst_count: 5}
  per_user: null
`)
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	rl := c.RateLimits
	check := func(name string, got *RateLimit, perSecond float64, burst int) {
		t.Helper()
		if got == nil || got.PerSecond != perSecond || got.BurstCount != burst {
			t.Errorf("%s = %+v, want %v/%v", name, got, perSecond, burst)
		}
	}
	check("rc_message", rl.Message, 0.5, 15)
	check("rc_registration (burst truncated as Synapse's int() does)", rl.Registration, 0.17, 2)
	check("rc_registration_token_validity", rl.RegistrationTokenValidity, 1, 5)
	check("rc_login.address", rl.LoginAddress, 0.15, 5)
	check("rc_login.account (untouched)", rl.LoginAccount, 0.003, 5)
	check("rc_login.failed_attempts", rl.LoginFailedAttempts, 0.17, 7)
	check("rc_admin_redaction", rl.AdminRedaction, 1, 50)
	check("rc_joins.local (untouched)", rl.JoinsLocal, 0.1, 10)
	check("rc_joins.remote", rl.JoinsRemote, 0.03, 10)
	check("rc_invites.per_issuer", rl.InvitesPerIssuer, 0.5, 5)
	check("rc_invites.per_user (null keeps the default)", rl.InvitesPerUser, 0.003, 5)
}

// Complement's image turns every limit off with 9999s.
func TestRateLimitComplementValues(t *testing.T) {
	c, d := parse(t, minimal+`
rc_message: {per_second: 9999, burst_count: 9999}
rc_login:
  address: {per_second: 9999, burst_count: 9999}
  account: {per_second: 9999, burst_count: 9999}
  failed_attempts: {per_second: 9999, burst_count: 9999}
rc_invites:
  per_room: {per_second: 9999, burst_count: 9999}
  per_user: {per_second: 9999, burst_count: 9999}
  per_issuer: {per_second: 9999, burst_count: 9999}
`)
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	if a := c.RateLimits.LoginAccount; a.PerSecond != 9999 || a.BurstCount != 9999 {
		t.Errorf("rc_login.account = %+v", a)
	}
}

func TestRateLimitBadValues(t *testing.T) {
	c, d := parse(t, minimal+`rc_message:
  per_second: fast
  burst_count: -1
rc_login:
  address: 5
  acount:
    per_second: 1
rc_joins: [1]
rc_registration:
  per_second: 0
  burst_count: 0.5
  burst_cout: 3
rc_invites:
  per_room:
    per_second: .nan
rc_admin_redaction:
  per_second: null
`)
	mustOne(t, d, "rc_message.per_second", Error, 4, "expected a number >= 0, got \"fast\"")
	mustOne(t, d, "rc_message.burst_count", Error, 5, "expected a number >= 0, got -1")
	mustOne(t, d, "rc_login.address", Error, 7, "expected a mapping")
	mustOne(t, d, "rc_login.acount", Warning, 8, `unknown key (did you mean "account"?)`)
	mustOne(t, d, "rc_joins", Error, 10, "expected a mapping")
	mustOne(t, d, "rc_registration.per_second", Warning, 12, "never refills")
	mustOne(t, d, "rc_registration.burst_count", Warning, 13, "every request is refused")
	mustOne(t, d, "rc_registration.burst_cout", Warning, 14, `unknown key (did you mean "burst_count"?)`)
	mustOne(t, d, "rc_invites.per_room.per_second", Error, 17, "expected a number >= 0")
	mustOne(t, d, "rc_admin_redaction.per_second", Error, 19, "expected a number >= 0, got null")
	if !d.HasErrors() {
		t.Error("no errors")
	}
	// Bad values leave the default in place.
	if m := c.RateLimits.Message; m.PerSecond != 0.2 || m.BurstCount != 10 {
		t.Errorf("rc_message = %+v", m)
	}
	for _, x := range d {
		if x.Key == "rc_message" || x.Key == "rc_login" {
			t.Errorf("unexpected %v", x)
		}
	}
}

func TestRateLimitKeysAreSupported(t *testing.T) {
	_, d := parse(t, minimal+"rc_joins_per_room: {per_second: 1}\nrc_login: {}\nrc_message: null\n")
	mustOne(t, d, "rc_joins_per_room", Warning, 3, "not supported yet")
	if len(d) != 1 {
		t.Errorf("diagnostics: %v", d)
	}
}
