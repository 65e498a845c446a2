package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"testing"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/server/servertest"
)

// limitedServer starts a server behind a trusted reverse proxy, so tests
// choose each request's client IP with X-Forwarded-For.
func limitedServer(t *testing.T, limits config.RateLimits) *servertest.Server {
	t.Helper()
	cfg := servertest.Config(t, "sqlite3")
	cfg.Listeners[0].XForwarded = true
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.RateLimits = limits
	return servertest.Start(t, cfg)
}

// slow is a limit that does not refill within any test: burst actions, then 429.
func slow(burst int) *config.RateLimit { return &config.RateLimit{PerSecond: 0.001, BurstCount: burst} }

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r reply) errcode() string { s, _ := r.body["errcode"].(string); return s }

// send makes a request from the client IP ip (through the trusted proxy).
func send(t *testing.T, srv *servertest.Server, ip, method, path string, body any) reply {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&r.body); err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return r
}

// mustBeLimited checks a 429 M_LIMIT_EXCEEDED with consistent hints: a
// retry_after_ms within the limit's refill time and Retry-After in seconds,
// rounded up.
func mustBeLimited(t *testing.T, r reply, what string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.errcode() != "M_LIMIT_EXCEEDED" {
		t.Fatalf("%s: %d %v, want 429 M_LIMIT_EXCEEDED", what, r.status, r.body)
	}
	ms, ok := r.body["retry_after_ms"].(float64)
	if !ok || ms <= 0 || ms > 1000*1000 || ms != math.Trunc(ms) {
		t.Errorf("%s: retry_after_ms = %v", what, r.body["retry_after_ms"])
	}
	if got, want := r.header.Get("Retry-After"), strconv.Itoa(int(math.Ceil(ms/1000))); got != want {
		t.Errorf("%s: Retry-After = %q, want %q", what, got, want)
	}
}

func passwordLogin(user, pw string) map[string]any {
	return map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   pw,
	}
}

// registerFrom registers user from ip with the dummy stage and returns the
// final reply (or the first one, when that is refused).
func registerFrom(t *testing.T, srv *servertest.Server, ip, user string) reply {
	t.Helper()
	body := map[string]any{"username": user, "password": "pw-" + user}
	first := send(t, srv, ip, http.MethodPost, "/_matrix/client/v3/register", body)
	if first.status != http.StatusUnauthorized {
		return first
	}
	body["auth"] = map[string]any{"type": "m.login.dummy", "session": first.body["session"]}
	return send(t, srv, ip, http.MethodPost, "/_matrix/client/v3/register", body)
}

const loginPath = "/_matrix/client/v3/login"

func TestLoginRateLimits(t *testing.T) {
	srv := limitedServer(t, config.RateLimits{
		LoginAddress:        slow(5),
		LoginAccount:        slow(2),
		LoginFailedAttempts: slow(3),
	})
	// Each request below comes from its own IP unless the address limit
	// is what is being tested.
	ipN := 0
	freshIP := func() string { ipN++; return fmt.Sprintf("10.0.%d.%d", ipN/250, ipN%250+1) }
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if r := registerFrom(t, srv, freshIP(), u); r.status != http.StatusOK {
			t.Fatalf("register %s: %d %v", u, r.status, r.body)
		}
	}

	t.Run("rc_login.address: per client IP, every attempt counts", func(t *testing.T) {
		ip := "192.0.2.1"
		for i := range 5 {
			r := send(t, srv, ip, http.MethodPost, loginPath, passwordLogin(fmt.Sprint("nobody", i), "x"))
			if r.status != http.StatusForbidden {
				t.Fatalf("attempt %d: %d %v", i+1, r.status, r.body)
			}
		}
		mustBeLimited(t, send(t, srv, ip, http.MethodPost, loginPath, passwordLogin("alice", "pw-alice")), "sixth login from one IP")
		if r := send(t, srv, "192.0.2.2", http.MethodPost, loginPath, passwordLogin("alice", "pw-alice")); r.status != http.StatusOK {
			t.Fatalf("another IP: %d %v", r.status, r.body)
		}
	})

	t.Run("rc_login.account: per account logged in to", func(t *testing.T) {
		// Registering is not logging in: two logins fit the burst.
		for i := range 2 {
			if r := send(t, srv, freshIP(), http.MethodPost, loginPath, passwordLogin("bob", "pw-bob")); r.status != http.StatusOK {
				t.Fatalf("login %d: %d %v", i+1, r.status, r.body)
			}
		}
		// Any spelling of the account is the same account.
		mustBeLimited(t, send(t, srv, freshIP(), http.MethodPost, loginPath, passwordLogin("@BOB:axon.test", "pw-bob")), "third login to bob")
		if r := send(t, srv, freshIP(), http.MethodPost, loginPath, passwordLogin("dave", "pw-dave")); r.status != http.StatusOK {
			t.Fatalf("another account: %d %v", r.status, r.body)
		}
	})

	t.Run("rc_login.failed_attempts: wrong passwords lock the account's logins", func(t *testing.T) {
		for i := range 3 {
			r := send(t, srv, freshIP(), http.MethodPost, loginPath, passwordLogin("carol", "wrong"))
			if r.status != http.StatusForbidden || r.errcode() != "M_FORBIDDEN" {
				t.Fatalf("wrong password %d: %d %v", i+1, r.status, r.body)
			}
		}
		// Even the right password waits now, from any IP.
		mustBeLimited(t, send(t, srv, freshIP(), http.MethodPost, loginPath, passwordLogin("Carol", "pw-carol")), "login after 3 failures")
		// Failures of one account do not lock another.
		if r := send(t, srv, freshIP(), http.MethodPost, loginPath, passwordLogin("dave", "pw-dave")); r.status != http.StatusOK {
			t.Fatalf("another account: %d %v", r.status, r.body)
		}
	})

	t.Run("rc_login.failed_attempts: wrong passwords at re-authentication count too", func(t *testing.T) {
		reg := registerFrom(t, srv, freshIP(), "erin")
		token, _ := reg.body["access_token"].(string)
		path := "/_matrix/client/v3/account/password?access_token=" + token
		first := send(t, srv, freshIP(), http.MethodPost, path, map[string]any{"new_password": "new-pass-1"})
		session, _ := first.body["session"].(string)
		if first.status != http.StatusUnauthorized || session == "" {
			t.Fatalf("no UIA challenge: %d %v", first.status, first.body)
		}
		stage := func(pw string) map[string]any {
			return map[string]any{"new_password": "new-pass-1", "auth": map[string]any{
				"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "erin"},
				"password": pw, "session": session}}
		}
		for i := range 3 {
			if r := send(t, srv, freshIP(), http.MethodPost, path, stage("wrong")); r.status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d %v", i+1, r.status, r.body)
			}
		}
		mustBeLimited(t, send(t, srv, freshIP(), http.MethodPost, path, stage("pw-erin")), "re-authentication after 3 failures")
		mustBeLimited(t, send(t, srv, freshIP(), http.MethodPost, loginPath, passwordLogin("erin", "pw-erin")), "login after 3 re-authentication failures")
	})
}

func TestRegistrationRateLimits(t *testing.T) {
	srv := limitedServer(t, config.RateLimits{
		Registration:              slow(2),
		RegistrationTokenValidity: slow(3),
	})

	t.Run("rc_registration: accounts created per client IP", func(t *testing.T) {
		ip := "198.51.100.1"
		for i := range 2 {
			if r := registerFrom(t, srv, ip, fmt.Sprint("user", i)); r.status != http.StatusOK {
				t.Fatalf("registration %d: %d %v", i+1, r.status, r.body)
			}
		}
		mustBeLimited(t, registerFrom(t, srv, ip, "user2"), "third registration from one IP")
		if r := registerFrom(t, srv, "198.51.100.2", "user2"); r.status != http.StatusOK {
			t.Fatalf("another IP: %d %v", r.status, r.body)
		}
	})

	t.Run("rc_registration: /register/available has buckets of its own", func(t *testing.T) {
		ip := "198.51.100.3"
		for i := range 2 {
			if r := send(t, srv, ip, http.MethodGet, "/_matrix/client/v3/register/available?username=free", nil); r.status != http.StatusOK {
				t.Fatalf("check %d: %d %v", i+1, r.status, r.body)
			}
		}
		mustBeLimited(t, send(t, srv, ip, http.MethodGet, "/_matrix/client/v3/register/available?username=free", nil), "third availability check")
		// Checking names did not use up this IP's registrations.
		if r := registerFrom(t, srv, ip, "free"); r.status != http.StatusOK {
			t.Fatalf("registration after the checks: %d %v", r.status, r.body)
		}
	})

	t.Run("rc_registration_token_validity: per client IP", func(t *testing.T) {
		const path = "/_matrix/client/v1/register/m.login.registration_token/validity?token=abc"
		ip := "198.51.100.4"
		for i := range 3 {
			if r := send(t, srv, ip, http.MethodGet, path, nil); r.status == http.StatusTooManyRequests {
				t.Fatalf("check %d refused: %v", i+1, r.body)
			}
		}
		mustBeLimited(t, send(t, srv, ip, http.MethodGet, path, nil), "fourth validity check")
		if r := send(t, srv, "198.51.100.5", http.MethodGet, path, nil); r.status == http.StatusTooManyRequests {
			t.Fatalf("another IP refused: %v", r.body)
		}
	})
}

// A server built from a loaded homeserver.yaml gets Synapse's limits
// (rc_registration: 0.17/s, burst 3): a bounded burst of registrations
// from one address is soon refused, however slow the machine.
func TestSynapseDefaultLimitsApplyAfterLoading(t *testing.T) {
	loaded, diags, err := config.Parse([]byte("server_name: axon.test\nreport_stats: false\n"), "homeserver.yaml")
	if err != nil || diags.HasErrors() {
		t.Fatalf("parse: %v %v", err, diags)
	}
	srv := limitedServer(t, loaded.RateLimits)
	for i := range 10 {
		r := registerFrom(t, srv, "203.0.113.1", fmt.Sprint("d", i))
		if r.status == http.StatusOK {
			continue
		}
		if i < 3 {
			t.Fatalf("registration %d refused within the burst: %d %v", i+1, r.status, r.body)
		}
		mustBeLimited(t, r, fmt.Sprintf("registration %d", i+1))
		return
	}
	t.Fatal("10 registrations from one IP were all allowed")
}
