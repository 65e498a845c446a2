package config

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestAllowGuestAccess(t *testing.T) {
	c, d := parse(t, minimal)
	if len(d) != 0 || c.AllowGuestAccess {
		t.Fatalf("default: %v %v", c.AllowGuestAccess, d)
	}
	c, d = parse(t, minimal+"allow_guest_access: true\n")
	if len(d) != 0 || !c.AllowGuestAccess {
		t.Fatalf("true: %v %v", c.AllowGuestAccess, d)
	}
	_, d = parse(t, minimal+"allow_guest_access: sometimes\n")
	mustOne(t, d, "allow_guest_access", Error, 3, "true or false")
}

// consentListener serves client and consent.
const consentListener = `listeners:
  - port: 8008
    type: http
    resources:
      - names: [client, consent]
`

func TestUserConsent(t *testing.T) {
	dir := t.TempDir()
	c, d := parse(t, minimal+consentListener+fmt.Sprintf(`public_baseurl: https://matrix.example.org
form_secret: s3cret
user_consent:
  template_dir: %q
  version: 1.0
  require_at_registration: true
  policy_name: Terms of Service
`, dir))
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	want := UserConsent{TemplateDir: dir, Version: "1.0", RequireAtRegistration: true, PolicyName: "Terms of Service", line: 10}
	if c.UserConsent == nil || *c.UserConsent != want {
		t.Fatalf("user_consent %+v, want %+v", c.UserConsent, want)
	}

	c, d = parse(t, minimal+fmt.Sprintf("user_consent:\n  template_dir: %q\n  version: 2\n", dir))
	if len(d) != 0 || c.UserConsent.PolicyName != DefaultPolicyName || c.UserConsent.RequireAtRegistration || c.UserConsent.Version != "2" {
		t.Fatalf("defaults: %+v %v", c.UserConsent, d)
	}
	c, d = parse(t, minimal+"user_consent: null\n")
	if len(d) != 0 || c.UserConsent != nil {
		t.Fatalf("null: %+v %v", c.UserConsent, d)
	}
}

func TestUserConsentErrors(t *testing.T) {
	dir := t.TempDir()
	_, d := parse(t, minimal+"user_consent:\n  require_at_registration: false\n")
	mustOne(t, d, "user_consent.version", Error, 3, "required")
	mustOne(t, d, "user_consent.template_dir", Error, 3, "required")

	_, d = parse(t, minimal+fmt.Sprintf("user_consent:\n  template_dir: %q\n  version: 1.0\n", filepath.Join(dir, "missing")))
	mustOne(t, d, "user_consent.template_dir", Error, 4, "could not find template directory")

	for _, v := range []string{`"../1.0"`, `"a/b"`, `".hidden"`, `"1 0"`, "[1]"} {
		_, d = parse(t, minimal+fmt.Sprintf("user_consent:\n  template_dir: %q\n  version: %s\n", dir, v))
		mustOne(t, d, "user_consent.version", Error, 5, "")
	}

	_, d = parse(t, minimal+fmt.Sprintf("user_consent:\n  template_dir: %q\n  version: 1\n  polcy_name: x\n", dir))
	mustOne(t, d, "user_consent.polcy_name", Warning, 6, `did you mean "policy_name"`)
}

func TestUserConsentNeedsRoomsForNotices(t *testing.T) {
	dir := t.TempDir()
	_, d := parse(t, minimal+fmt.Sprintf(`user_consent:
  template_dir: %q
  version: 1.0
  server_notice_content:
    msgtype: m.text
    body: Please agree at %%(consent_uri)s
  send_server_notice_to_guests: true
  block_events_error: Agree first
`, dir))
	mustOne(t, d, "user_consent.server_notice_content", Warning, 6, "not supported yet")
	mustOne(t, d, "user_consent.send_server_notice_to_guests", Warning, 9, "not supported yet")
	mustOne(t, d, "user_consent.block_events_error", Warning, 10, "not supported yet")

	// Switched off, they are nothing to warn about.
	_, d = parse(t, minimal+fmt.Sprintf("user_consent:\n  template_dir: %q\n  version: 1.0\n  send_server_notice_to_guests: false\n  block_events_error: null\n", dir))
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	_, d = parse(t, minimal+fmt.Sprintf("user_consent:\n  template_dir: %q\n  version: 1.0\n  server_notice_content: [x]\n", dir))
	mustOne(t, d, "user_consent.server_notice_content", Error, 6, "mapping")
}

func TestConsentResourceNeedsSettings(t *testing.T) {
	_, d := parse(t, minimal+consentListener)
	got := find(d, "listeners")
	if len(got) != 2 || got[0].Severity != Error || got[1].Severity != Error {
		t.Fatalf("want errors for the missing user_consent and form_secret, got %v", d)
	}
}

func TestRequireAtRegistrationWarnings(t *testing.T) {
	dir := t.TempDir()
	_, d := parse(t, minimal+fmt.Sprintf("user_consent:\n  template_dir: %q\n  version: 1.0\n  require_at_registration: true\n", dir))
	got := find(d, "user_consent.require_at_registration")
	if len(got) != 2 || d.HasErrors() {
		t.Fatalf("want warnings about the consent resource and public_baseurl, got %v", d)
	}
}

func TestPythonStr(t *testing.T) {
	for in, want := range map[string]string{
		"1.0": "1.0", "1.10": "1.1", "2.50": "2.5", "1_0.5": "10.5", "0.00001": "1e-05",
		"1.0e+20": "1e+20", "3": "3", "1e3": "1e3", `"1.10"`: "1.10", "abc": "abc",
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(in), &n); err != nil {
			t.Fatal(err)
		}
		if got := pythonStr(n.Content[0]); got != want {
			t.Errorf("pythonStr(%s) = %q, want %q", in, got, want)
		}
	}
}
