package config

import (
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/axonhs/axon/internal/consent"
)

// DefaultPolicyName is user_consent.policy_name's default, as Synapse's.
const DefaultPolicyName = "Privacy Policy"

// UserConsent is the user_consent section: a privacy policy that users
// agree to, served by the consent listener resource at /_matrix/consent
// and, with RequireAtRegistration, agreed to in an m.login.terms stage.
type UserConsent struct {
	// TemplateDir holds one directory per language ("en") with the policy
	// of each version as <version>.html and success.html.
	TemplateDir string
	// Version is the current version of the policy.
	Version               string
	RequireAtRegistration bool
	PolicyName            string

	line int // of the section, for messages that span several keys
}

// userConsentKeys are the sub-keys Synapse reads.
var userConsentKeys = []string{
	"template_dir", "version", "server_notice_content", "send_server_notice_to_guests",
	"block_events_error", "require_at_registration", "policy_name",
}

func (l *loader) userConsent(e entry, path string) {
	if isNull(e.val) {
		return // Synapse: no section, no consent
	}
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	uc := &UserConsent{PolicyName: DefaultPolicyName, line: e.keyNode.Line}
	var seenVersion, seenDir bool
	for _, se := range entries {
		p := child(path, se.key)
		switch se.key {
		case "template_dir":
			seenDir = true
			l.consentTemplateDir(se, p, uc)
		case "version":
			seenVersion = true
			l.consentVersion(se, p, uc)
		case "require_at_registration":
			l.optBool(se, p, &uc.RequireAtRegistration)
		case "policy_name":
			l.optString(se, p, &uc.PolicyName)
		case "server_notice_content", "send_server_notice_to_guests", "block_events_error":
			l.consentNeedsRooms(se, p)
		default:
			l.w.unknown(se, p, userConsentKeys)
		}
	}
	// Synapse fails to start without these two.
	if !seenVersion {
		l.w.errorf(e.keyNode, child(path, "version"), "required setting is missing: the version of the policy to serve, e.g. version: 1.0")
	}
	if !seenDir {
		l.w.errorf(e.keyNode, child(path, "template_dir"), "required setting is missing: the directory holding en/<version>.html")
	}
	l.c.UserConsent = uc
}

func (l *loader) consentTemplateDir(e entry, path string, uc *UserConsent) {
	s, ok := l.w.str(e.val, path)
	if !ok {
		return
	}
	dir := absPath(s)
	if st, err := os.Stat(dir); s == "" || err != nil || !st.IsDir() {
		l.w.errorf(e.val, path, "could not find template directory %q", dir)
		return
	}
	uc.TemplateDir = dir
}

func (l *loader) consentVersion(e entry, path string, uc *UserConsent) {
	if isNull(e.val) {
		l.w.errorf(e.val, path, "expected a version such as 1.0, got null")
		return
	}
	if _, ok := l.w.str(e.val, path); !ok {
		return
	}
	v := pythonStr(resolve(e.val))
	if !consent.ValidVersion(v) {
		l.w.errorf(e.val, path, "%q cannot name a policy file: use letters, digits, '.', '-' and '_', not starting with '.'", v)
		return
	}
	uc.Version = v
}

// consentNeedsRooms checks the type of a setting that acts on rooms
// (server notices, blocking events) and reports it as not supported while
// it is switched on.
func (l *loader) consentNeedsRooms(e entry, path string) {
	if isNull(e.val) {
		return
	}
	switch e.key {
	case "server_notice_content":
		if _, ok := l.w.mapping(e.val, path); !ok {
			return
		}
	case "send_server_notice_to_guests":
		if b, ok := l.w.boolean(e.val, path); !ok || !b {
			return
		}
	case "block_events_error":
		if _, ok := l.w.str(e.val, path); !ok {
			return
		}
	}
	if isTruthy(e.val) {
		l.w.notSupported(e, path)
	}
}

// finishConsent checks what user_consent needs of other settings. It runs
// before public_baseurl gets its default, to tell whether it was set.
func (l *loader) finishConsent() {
	c := l.c
	served := slices.ContainsFunc(c.Listeners, func(ln Listener) bool {
		return slices.ContainsFunc(ln.Resources, func(r Resource) bool { return slices.Contains(r.Names, "consent") })
	})
	if served {
		// Synapse refuses to start in both cases.
		if c.UserConsent == nil {
			l.w.errorf(nil, "listeners", "the consent resource needs a user_consent section with template_dir and version")
		}
		if c.FormSecret == "" {
			l.w.errorf(nil, "listeners", "the consent resource needs form_secret: it signs the links users follow to agree to the policy")
		}
	}
	uc := c.UserConsent
	if uc == nil || !uc.RequireAtRegistration {
		return
	}
	at := &yaml.Node{Line: uc.line}
	if !served {
		l.w.warnf(at, "user_consent.require_at_registration", "no listener serves the consent resource, so the policy link offered at registration (/_matrix/consent) answers 404; add consent to a listener's resources")
	}
	if c.PublicBaseURL == "" {
		// Synapse accepts this and uses its default, https://<server_name>/,
		// which is often not where clients reach the server.
		l.w.warnf(at, "user_consent.require_at_registration", "public_baseurl is not set, so the policy link offered at registration is https://%s/_matrix/consent; set public_baseurl to the URL clients use", c.ServerName)
	}
}

// pythonStr is the text Synapse gets from str() of a scalar that PyYAML
// loaded: a float is printed as Python prints it (version: 1.10 is "1.1").
// PyYAML only reads numbers with a '.' as floats; other scalars keep
// their text.
func pythonStr(n *yaml.Node) string {
	if n.Tag != "!!float" || !strings.Contains(n.Value, ".") {
		return n.Value
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return n.Value
	}
	// Python's repr switches to exponent notation outside [1e-4, 1e16).
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
