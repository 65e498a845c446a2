package config

// synapse_keys.go is generated from Synapse's config schema; regenerate it
// when updating to a newer Synapse (pass -schema to point at the file).
//go:generate go run ./internal/genkeys -o synapse_keys.go

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// Defaults that match Synapse's.
const (
	DefaultBcryptRounds       = 12
	DefaultMaxUploadSize      = 50 << 20 // "50M"
	DefaultRoomVersion        = roomversion.Default
	DefaultSQLiteDatabase     = "homeserver.db"
	DefaultMediaStorePath     = "media_store"
	DefaultPostgresPort       = 5432
	DefaultPostgresPoolMin    = 3 // Twisted's ConnectionPool defaults, which
	DefaultPostgresPoolMax    = 5 // Synapse uses when cp_min/cp_max are unset.
	defaultListenerAddressV6  = "::"
	defaultListenerAddressAll = "0.0.0.0"
)

// Load reads and checks the homeserver.yaml at path. The error is non-nil
// only when the file cannot be read or is not YAML at all; every problem with
// the configuration itself is reported in the Diagnostics, and the caller
// should refuse to start when Diagnostics.HasErrors.
func Load(path string) (*Config, Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// Parse checks a homeserver.yaml held in memory; path is where it came from,
// used for messages and for defaults that live next to the config file.
//
// Relative paths inside the file (database, media store, signing key, secret
// files, ...) are resolved against the current working directory, as Synapse
// does, not against the config file's directory.
func Parse(data []byte, path string) (*Config, Diagnostics, error) {
	w := &walker{}
	root, err := decodeYAML(data, w)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", displayPath(path), err)
	}
	c := defaults(path)
	l := &loader{w: w, c: c}
	l.top(root)
	sortDiagnostics(w.diags)
	return c, w.diags, nil
}

// sortDiagnostics orders messages by line so they read like the file;
// whole-file messages (line 0) go last.
func sortDiagnostics(ds Diagnostics) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = math.MaxInt
		}
		if lb == 0 {
			lb = math.MaxInt
		}
		return cmp.Compare(la, lb)
	})
}

func displayPath(path string) string {
	if path == "" {
		return "config"
	}
	return path
}

func defaults(path string) *Config {
	return &Config{
		Path:                 path,
		BcryptRounds:         DefaultBcryptRounds,
		MaxUploadSize:        DefaultMaxUploadSize,
		DefaultRoomVers:      DefaultRoomVersion,
		EnableSetDisplayName: true,
		EnableSetAvatarURL:   true,
		MediaStorePath:       absPath(DefaultMediaStorePath),
		Database:             Database{Engine: "sqlite3", SQLitePath: absPath(DefaultSQLiteDatabase)},
		Password:             PasswordConfig{Enabled: true, LocalDBEnabled: true},
		RateLimits:           DefaultRateLimits(),
		TokenLifetimes: TokenLifetimes{
			RefreshableAccessTokenLifetime: new(DefaultRefreshableAccessTokenLifetime),
		},
		LoginViaExistingSession: defaultLoginViaExistingSession(),
		AutoJoin:                defaultAutoJoin(),
	}
}

// absPath resolves p against the working directory, like Synapse's
// Config.abspath. ":memory:" and "" are left alone.
func absPath(p string) string {
	if p == "" || p == ":memory:" {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

var leadingTabs = regexp.MustCompile(`(?m)^[ ]*\t[ \t]*`)

// decodeYAML parses the first document of data. PyYAML, like yaml.v3,
// rejects tabs in indentation, yet tutorials copied from web pages often
// contain them; when the file only parses with tabs expanded, it is accepted
// with a warning per affected line.
func decodeYAML(data []byte, w *walker) (*yaml.Node, error) {
	root, err := decodeFirst(data, w)
	if err == nil || !leadingTabs.Match(data) {
		return root, err
	}
	fixed := leadingTabs.ReplaceAllFunc(data, expandTabs)
	w2 := &walker{}
	root, err2 := decodeFirst(fixed, w2)
	if err2 != nil {
		return nil, err
	}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if leadingTabs.Match(line) {
			w.warnf(&yaml.Node{Line: i + 1}, "(indentation)", "tab used for indentation; treated as spaces (YAML forbids tabs here, so Synapse would reject this file)")
		}
	}
	w.diags = append(w.diags, w2.diags...)
	return root, nil
}

// expandTabs replaces indentation tabs with spaces up to the next multiple
// of 8 columns, as Python's tokenizer does.
func expandTabs(indent []byte) []byte {
	var out []byte
	for _, c := range indent {
		if c == '\t' {
			out = append(out, bytes.Repeat([]byte(" "), 8-len(out)%8)...)
		} else {
			out = append(out, ' ')
		}
	}
	return out
}

func decodeFirst(data []byte, w *walker) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty file: no keys at all
		}
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		w.errorf(&extra, "(document)", "the file holds more than one YAML document (---); Synapse expects exactly one")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if expandedSize(root, map[*yaml.Node]int{}, 0) > maxExpandedNodes {
		return nil, fmt.Errorf("not a usable config: aliases (*name) expand it to more than %d values", maxExpandedNodes)
	}
	return root, nil
}

// maxExpandedNodes bounds the size of the document once aliases are
// expanded. Real configs have a few thousand values; the bound stops a
// "billion laughs" file from keeping the loader busy for hours.
const maxExpandedNodes = 1 << 20

// expandedSize counts the values in n with aliases expanded, stopping once
// the count passes maxExpandedNodes. Sizes are memoised per node so shared
// anchors are measured once.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int, depth int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		return v
	}
	if depth > 1000 {
		return maxExpandedNodes + 1
	}
	memo[n] = maxExpandedNodes + 1 // a cycle counts as too big
	size := 1
	if n.Kind == yaml.AliasNode {
		size += expandedSize(n.Alias, memo, depth+1)
	}
	for _, c := range n.Content {
		if size > maxExpandedNodes {
			break
		}
		size += expandedSize(c, memo, depth+1)
	}
	memo[n] = size
	return size
}

// loader fills a Config from the top-level mapping.
type loader struct {
	w *walker
	c *Config

	// Secrets and their *_path alternatives are collected first, because
	// setting both is an error whatever order they appear in.
	secrets map[string]entry

	serverNameSeen bool
	reportStats    bool
	regChecks      map[string]bool       // settings that make open registration safe
	tokenKeys      map[string]*yaml.Node // token lifetime keys given, for checkSessionLifetime (tokens.go)
}

// topHandlers maps each key Axon implements to its reader.
var topHandlers = map[string]func(l *loader, e entry, path string){
	"server_name":    (*loader).serverName,
	"public_baseurl": (*loader).publicBaseURL,
	"pid_file":       pathSetter(func(c *Config) *string { return &c.PIDFile }),
	"report_stats": func(l *loader, e entry, path string) {
		l.reportStats = true
		l.optBool(e, path, &l.c.ReportStats)
	},
	"listeners":            (*loader).listeners,
	"database":             (*loader).database,
	"log_config":           pathSetter(func(c *Config) *string { return &c.LogConfig }),
	"signing_key_path":     pathSetter(func(c *Config) *string { return &c.SigningKeyPath }),
	"media_store_path":     pathSetter(func(c *Config) *string { return &c.MediaStorePath }),
	"tls_certificate_path": pathSetter(func(c *Config) *string { return &c.TLSCertPath }),
	"tls_private_key_path": pathSetter(func(c *Config) *string { return &c.TLSKeyPath }),
	"default_room_version": (*loader).defaultRoomVersion,

	"registration_shared_secret":      (*loader).secret,
	"registration_shared_secret_path": (*loader).secret,
	"macaroon_secret_key":             (*loader).secret,
	"macaroon_secret_key_path":        (*loader).secret,
	"form_secret":                     (*loader).secret,
	"form_secret_path":                (*loader).secret,

	"enable_set_displayname": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.EnableSetDisplayName)
	},
	"enable_set_avatar_url": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.EnableSetAvatarURL)
	},
	"require_auth_for_profile_requests": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.RequireAuthForProfileRequests)
	},
	"user_directory": (*loader).userDirectory,
	// auto_join_rooms and friends (autojoin.go).
	"auto_join_rooms":                      (*loader).autoJoinRooms,
	"autocreate_auto_join_room_preset":     (*loader).autoJoinPreset,
	"autocreate_auto_join_rooms":           func(l *loader, e entry, path string) { l.optBool(e, path, &l.c.AutoJoin.Autocreate) },
	"autocreate_auto_join_rooms_federated": func(l *loader, e entry, path string) { l.optBool(e, path, &l.c.AutoJoin.Federated) },
	"auto_join_rooms_for_guests":           func(l *loader, e entry, path string) { l.optBool(e, path, &l.c.AutoJoin.ForGuests) },
	"auto_join_mxid_localpart":             func(l *loader, e entry, path string) { l.optString(e, path, &l.c.AutoJoin.MXIDLocal) },
	"presence":                             (*loader).presence, // and use_presence (presence.go)
	"use_presence":                         (*loader).usePresence,
	"limit_profile_requests_to_users_who_share_rooms": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.LimitProfileRequestsToUsersWhoShareRooms)
	},
	"enable_metrics": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.EnableMetrics)
	},
	"enable_registration": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.EnableRegistration)
	},
	"enable_registration_without_verification": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.EnableRegistrationWithoutVerification)
	},
	"registration_requires_token": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.RegistrationRequiresToken)
		l.regChecks[path] = l.c.RegistrationRequiresToken
	},
	"bcrypt_rounds": func(l *loader, e entry, path string) {
		// Go's bcrypt accepts costs 4-31.
		if !isNull(e.val) {
			if v, ok := l.w.intRange(e.val, path, "cost", 4, 31); ok {
				l.c.BcryptRounds = v
			}
		}
	},
	"password_config": (*loader).passwordConfig,
	"allow_guest_access": func(l *loader, e entry, path string) {
		l.optBool(e, path, &l.c.AllowGuestAccess)
	},
	"user_consent": (*loader).userConsent,
	// rc_* rate limits (ratelimits.go).
	"rc_message": (*loader).rateLimits, "rc_registration": (*loader).rateLimits,
	"rc_registration_token_validity": (*loader).rateLimits, "rc_login": (*loader).rateLimits,
	"rc_joins": (*loader).rateLimits, "rc_invites": (*loader).rateLimits, "rc_admin_redaction": (*loader).rateLimits,
	// Token lifetimes and login tokens (tokens.go).
	"refreshable_access_token_lifetime":    tokenLifetime(func(t *TokenLifetimes) **time.Duration { return &t.RefreshableAccessTokenLifetime }),
	"refresh_token_lifetime":               tokenLifetime(func(t *TokenLifetimes) **time.Duration { return &t.RefreshTokenLifetime }),
	"nonrefreshable_access_token_lifetime": tokenLifetime(func(t *TokenLifetimes) **time.Duration { return &t.NonrefreshableAccessTokenLifetime }),
	"session_lifetime":                     tokenLifetime(func(t *TokenLifetimes) **time.Duration { return &t.SessionLifetime }),
	"login_via_existing_session":           (*loader).loginViaExistingSession,
	"experimental_features":                (*loader).experimentalFeatures,
	"max_upload_size": func(l *loader, e entry, path string) {
		if !isNull(e.val) {
			if v, ok := l.w.size(e.val, path); ok {
				l.c.MaxUploadSize = v
			}
		}
	},
}

// implementedKeys is the sorted list of topHandlers keys, for suggestions.
var implementedKeys = func() []string {
	keys := make([]string, 0, len(topHandlers))
	for k := range topHandlers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}()

// legacySynapseKeys are keys Synapse still reads but its schema no longer
// lists (deprecated spellings), so configs that use them are not told the
// key is unknown.
var legacySynapseKeys = []string{
	"federation_ip_range_blacklist", // older name of federation_ip_range_blocklist / ip_range_blacklist
}

// registrationVerifiers are Synapse settings that, when enabled, mean open
// registration is not a free-for-all.
var registrationVerifiers = []string{
	"registrations_require_3pid", "enable_registration_captcha", "registration_requires_token",
}

func (l *loader) top(root *yaml.Node) {
	if root != nil && resolve(root).Kind != yaml.MappingNode && !isNull(root) {
		l.w.errorf(root, "(top level)", "expected a mapping of settings, got %s", kindName(root))
		root = nil
	}
	l.secrets = map[string]entry{}
	l.regChecks = map[string]bool{}
	var entries []entry
	if root != nil {
		entries = l.w.entries(root, "")
	}
	for _, e := range entries {
		if h, ok := topHandlers[e.key]; ok {
			h(l, e, e.key)
			continue
		}
		if slices.Contains(registrationVerifiers, e.key) {
			l.regChecks[e.key] = isTruthy(e.val)
		}
		if _, ok := slices.BinarySearch(synapseKeys, e.key); ok || slices.Contains(legacySynapseKeys, e.key) {
			l.w.notSupported(e, e.key)
			continue
		}
		l.w.unknown(e, e.key, slices.Concat(implementedKeys, synapseKeys))
	}
	l.finish(root)
}

// finish applies the checks and defaults that depend on several keys.
func (l *loader) finish(root *yaml.Node) {
	c := l.c
	if !l.serverNameSeen {
		l.w.errorf(root, "server_name", "required setting is missing: the domain in your users' IDs, e.g. server_name: example.org")
	}
	if !l.reportStats {
		l.w.warnf(nil, "report_stats", "not set; defaulting to false (Synapse refuses to start without it, so set it to true or false)")
	}
	l.resolveSecrets()
	l.checkSessionLifetime()
	l.checkAutoJoin()
	l.finishConsent()
	if c.PublicBaseURL == "" && c.ServerName != "" {
		c.PublicBaseURL = "https://" + c.ServerName + "/"
	}
	if c.SigningKeyPath == "" && c.ServerName != "" {
		// Synapse keeps the key next to the config file by default.
		dir := filepath.Dir(c.Path)
		if c.Path == "" {
			dir = "."
		}
		c.SigningKeyPath = absPath(filepath.Join(dir, c.ServerName+".signing.key"))
	}
	if c.Listeners == nil {
		c.Listeners = []Listener{}
	}
	for _, ln := range c.Listeners {
		if ln.TLS && (c.TLSCertPath == "" || c.TLSKeyPath == "") {
			l.w.warnf(&yaml.Node{Line: ln.Line}, "listeners", "a listener on port %d has tls: true but tls_certificate_path and tls_private_key_path are not both set", ln.Port)
			break
		}
	}
	for _, key := range registrationVerifiers {
		if l.regChecks[key] {
			c.RegistrationVerifiers = append(c.RegistrationVerifiers, key)
		}
	}
	if c.EnableRegistration && !c.EnableRegistrationWithoutVerification {
		if len(c.RegistrationVerifiers) == 0 {
			l.w.warnf(nil, "enable_registration", "open registration without email, captcha or token verification lets anyone create accounts; Synapse refuses this unless enable_registration_without_verification: true")
		}
	}
}

// isTruthy reports whether a value Axon does not otherwise read is set to
// something enabled: true, or a non-empty list/mapping/string.
func isTruthy(n *yaml.Node) bool {
	n = resolve(n)
	switch {
	case isNull(n):
		return false
	case n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode:
		return len(n.Content) > 0
	case n.Tag == "!!bool":
		var b bool
		_ = n.Decode(&b)
		return b
	default:
		return n.Value != ""
	}
}

func (l *loader) optBool(e entry, path string, dst *bool) {
	if isNull(e.val) {
		return
	}
	if v, ok := l.w.boolean(e.val, path); ok {
		*dst = v
	}
}

// pathSetter returns a handler for a file-path setting; null leaves the
// default in place.
func pathSetter(field func(*Config) *string) func(l *loader, e entry, path string) {
	return func(l *loader, e entry, path string) {
		if isNull(e.val) {
			return
		}
		if s, ok := l.w.str(e.val, path); ok {
			if s == "" {
				l.w.errorf(e.val, path, "expected a file path, got an empty string")
				return
			}
			*field(l.c) = absPath(s)
		}
	}
}

// serverNameRE is deliberately loose: a host name, IPv4 or [IPv6] literal,
// with an optional port.
var serverNameRE = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

func (l *loader) serverName(e entry, path string) {
	l.serverNameSeen = true
	if isNull(e.val) {
		l.w.errorf(e.val, path, "required setting is empty: the domain in your users' IDs, e.g. server_name: example.org")
		return
	}
	s, ok := l.w.str(e.val, path)
	if !ok {
		return
	}
	if s == "" {
		l.w.errorf(e.val, path, "must not be empty")
		return
	}
	if !serverNameRE.MatchString(s) {
		// Synapse rejects this outright; it is only a warning here because
		// tutorials are full of placeholder names and the value is still
		// usable for local testing.
		l.w.warnf(e.val, path, "%q is not a valid server name (a domain name or IP address with an optional :port); other servers will not be able to federate with it", s)
	}
	l.c.ServerName = s
}

func (l *loader) publicBaseURL(e entry, path string) {
	if isNull(e.val) {
		return
	}
	s, ok := l.w.str(e.val, path)
	if !ok {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.w.warnf(e.val, path, "%q does not look like an http(s) URL such as https://matrix.example.org/", s)
	}
	// Synapse always appends the trailing slash.
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	l.c.PublicBaseURL = s
}

func (l *loader) defaultRoomVersion(e entry, path string) {
	if isNull(e.val) {
		return
	}
	s, ok := l.w.str(e.val, path)
	if !ok {
		return
	}
	if !roomversion.Known(s) {
		var known []string
		for _, v := range roomversion.All() {
			known = append(known, v.ID())
		}
		l.w.errorf(e.val, path, "unknown room version %q; expected one of %s", s, strings.Join(known, ", "))
		return
	}
	l.c.DefaultRoomVers = s
}
