package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

const formSecret = "test-form-secret"

// termsServer requires agreeing to policy version 1.0 at registration and
// serves the policy on the consent resource.
func termsServer(t *testing.T, engine string, adjust func(*config.Config)) *servertest.Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"1.0.html": "policy {{ version }}: {% if public_version %}public{% elif has_consented %}agreed{% else %}" +
			`<form method="post" action="consent"><input name="u" value="{{ user }}"><input name="h" value="{{ userhmac }}"></form>{% endif %}`,
		"success.html": "thank you",
	} {
		if err := os.WriteFile(filepath.Join(dir, "en", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := servertest.Config(t, engine)
	cfg.EnableRegistration = true
	cfg.EnableRegistrationWithoutVerification = true
	cfg.PublicBaseURL = "https://matrix.axon.test/"
	cfg.FormSecret = formSecret
	cfg.UserConsent = &config.UserConsent{TemplateDir: dir, Version: "1.0", RequireAtRegistration: true, PolicyName: "Terms of Use"}
	cfg.Listeners[0].Resources[0].Names = append(cfg.Listeners[0].Resources[0].Names, "consent")
	if adjust != nil {
		adjust(cfg)
	}
	return servertest.Start(t, cfg)
}

func consentMAC(user string) string {
	m := hmac.New(sha256.New, []byte(formSecret))
	m.Write([]byte(user))
	return hex.EncodeToString(m.Sum(nil))
}

// page is a consent page answer: its status and body, HTML or JSON.
type page struct {
	status int
	body   string
	header http.Header
}

func (p page) errcode() string {
	var e struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal([]byte(p.body), &e)
	return e.Errcode
}

func consentPage(t *testing.T, srv *servertest.Server, method string, query url.Values, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, srv.URL+"/_matrix/consent?"+query.Encode(), body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func forUser(user string) url.Values { return url.Values{"u": {user}, "h": {consentMAC(user)}} }

func TestTermsAtRegistration(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := termsServer(t, engine, nil)
			reg := srv.URL + registerPath
			body := map[string]any{"username": "alice", "password": "correct horse"}

			challenge := rawJSON(t, "POST", reg, "", body)
			flows, params := mustJSON(t, challenge.body["flows"]), mustJSON(t, challenge.body["params"])
			if challenge.status != 401 || flows != `[{"stages":["m.login.terms","m.login.dummy"]}]` ||
				params != `{"m.login.terms":{"policies":{"privacy_policy":{"en":{"name":"Terms of Use","url":"https://matrix.axon.test/_matrix/consent?v=1.0"},"version":"1.0"}}}}` {
				t.Fatalf("challenge %d\nflows %s\nparams %s", challenge.status, flows, params)
			}
			session := challenge.session()

			// The dummy stage cannot skip the terms.
			res := rawJSON(t, "POST", reg, "", withAuth(body, map[string]any{"type": "m.login.dummy", "session": session}))
			if res.status != 401 || res.errcode() != "M_FORBIDDEN" || res.body["completed"] != nil {
				t.Fatalf("dummy first: %d %v", res.status, res.body)
			}
			res = rawJSON(t, "POST", reg, "", withAuth(body, map[string]any{"type": "m.login.terms", "session": session}))
			if res.status != 401 || mustJSON(t, res.body["completed"]) != `["m.login.terms"]` {
				t.Fatalf("terms: %d %v", res.status, res.body)
			}
			res = rawJSON(t, "POST", reg, "", withAuth(body, map[string]any{"type": "m.login.dummy", "session": session}))
			if res.status != 200 || str(res, "user_id") != "@alice:axon.test" {
				t.Fatalf("dummy: %d %v", res.status, res.body)
			}

			// The agreement was recorded: alice's consent link shows it.
			if p := consentPage(t, srv, "GET", forUser("alice"), nil); p.status != 200 || p.body != "policy 1.0: agreed" {
				t.Fatalf("alice's policy page: %d %q", p.status, p.body)
			}
		})
	}
}

func TestTermsFollowTheRegistrationToken(t *testing.T) {
	srv := termsServer(t, "sqlite3", func(c *config.Config) { c.RegistrationRequiresToken = true })
	res := rawJSON(t, "POST", srv.URL+registerPath, "", map[string]any{"username": "alice", "password": "pw"})
	if flows := mustJSON(t, res.body["flows"]); res.status != 401 || flows != `[{"stages":["m.login.registration_token","m.login.terms","m.login.dummy"]}]` {
		t.Fatalf("challenge %d %s", res.status, flows)
	}
}

func TestConsentPage(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := termsServer(t, engine, nil)
			registerAdmin(t, srv.URL, "bob", "correct horse", false) // registered without the terms

			p := consentPage(t, srv, "GET", url.Values{}, nil)
			if p.status != 200 || p.body != "policy 1.0: public" || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") ||
				p.header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("public page: %d %q %v", p.status, p.body, p.header)
			}
			p = consentPage(t, srv, "GET", forUser("bob"), nil)
			want := `policy 1.0: <form method="post" action="consent"><input name="u" value="bob"><input name="h" value="` + consentMAC("bob") + `"></form>`
			if p.status != 200 || p.body != want {
				t.Fatalf("bob's page: %d %q", p.status, p.body)
			}

			// Bob agrees through the form.
			form := forUser("@bob:axon.test")
			form.Set("v", "1.0")
			if p := consentPage(t, srv, "POST", url.Values{}, form); p.status != 200 || p.body != "thank you" {
				t.Fatalf("agree: %d %q", p.status, p.body)
			}
			if p := consentPage(t, srv, "GET", forUser("bob"), nil); p.body != "policy 1.0: agreed" {
				t.Fatalf("bob's page after agreeing: %d %q", p.status, p.body)
			}

			for _, c := range []struct {
				name   string
				method string
				query  url.Values
				form   url.Values
				status int
				code   string
			}{
				{"unknown version", "GET", url.Values{"v": {"2.0"}}, nil, 404, "M_NOT_FOUND"},
				{"path traversal", "GET", url.Values{"v": {"../en/1.0"}}, nil, 404, "M_NOT_FOUND"},
				{"absolute path", "GET", url.Values{"v": {"/etc/passwd"}}, nil, 404, "M_NOT_FOUND"},
				{"user without hmac", "GET", url.Values{"u": {"bob"}}, nil, 400, "M_MISSING_PARAM"},
				{"wrong hmac", "GET", url.Values{"u": {"bob"}, "h": {consentMAC("alice")}}, nil, 403, "M_FORBIDDEN"},
				{"unknown user", "GET", forUser("nobody"), nil, 404, "M_NOT_FOUND"},
				{"form without version", "POST", url.Values{}, forUser("bob"), 400, "M_MISSING_PARAM"},
				{"form with a forged hmac", "POST", url.Values{}, url.Values{"v": {"1.0"}, "u": {"bob"}, "h": {"00"}}, 403, "M_FORBIDDEN"},
				{"form for an unknown version", "POST", url.Values{}, url.Values{"v": {"../x"}, "u": {"bob"}, "h": {consentMAC("bob")}}, 404, "M_NOT_FOUND"},
			} {
				if p := consentPage(t, srv, c.method, c.query, c.form); p.status != c.status || p.errcode() != c.code {
					t.Errorf("%s: %d %q, want %d %s", c.name, p.status, p.body, c.status, c.code)
				}
			}
		})
	}
}

func TestGuestUpgradeAgreesToTheTerms(t *testing.T) {
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := termsServer(t, engine, func(c *config.Config) { c.AllowGuestAccess = true })
			// Guests register without any stage, terms included, as in Synapse.
			_, guest := registerGuest(t, srv.URL, &mautrix.ReqRegister{})
			if p := consentPage(t, srv, "GET", forUser("1"), nil); !strings.Contains(p.body, "<form") {
				t.Fatalf("guest's page: %d %q", p.status, p.body)
			}
			body := map[string]any{"username": "1", "password": "pw", "guest_access_token": guest.AccessToken}
			first := rawJSON(t, "POST", srv.URL+registerPath, "", body)
			for _, stage := range []string{"m.login.terms", "m.login.dummy"} {
				first = rawJSON(t, "POST", srv.URL+registerPath, "", withAuth(body, map[string]any{"type": stage, "session": first.session()}))
			}
			if first.status != 200 || str(first, "user_id") != "@1:axon.test" {
				t.Fatalf("upgrade: %d %v", first.status, first.body)
			}
			if p := consentPage(t, srv, "GET", forUser("1"), nil); p.body != "policy 1.0: agreed" {
				t.Fatalf("page after the upgrade: %d %q", p.status, p.body)
			}
		})
	}
}

func TestConsentResourceNeedsUserConsent(t *testing.T) {
	cfg := servertest.Config(t, "sqlite3")
	cfg.Listeners[0].Resources[0].Names = append(cfg.Listeners[0].Resources[0].Names, "consent")
	if err := servertest.StartErr(t, cfg); err == nil || !strings.Contains(err.Error(), "user_consent") {
		t.Fatalf("start without user_consent: %v", err)
	}
}
