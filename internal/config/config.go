// Package config reads Synapse's homeserver.yaml into typed settings.
//
// Axon accepts the same keys with the same meanings as Synapse. Keys that
// Axon does not implement yet, unknown keys, wrong types and invalid values
// are reported as Diagnostics rather than silently dropped.
package config

import "github.com/axonhs/axon/internal/password"

// Config is a loaded and validated homeserver.yaml.
type Config struct {
	// Path is the file the configuration was read from.
	Path string

	ServerName    string
	PublicBaseURL string
	PIDFile       string
	ReportStats   bool

	Listeners []Listener
	Database  Database

	// LogConfig is the path of a Python-logging YAML file, or "".
	LogConfig string

	SigningKeyPath  string
	MediaStorePath  string
	TLSCertPath     string // tls_certificate_path
	TLSKeyPath      string // tls_private_key_path
	DefaultRoomVers string // default_room_version

	// Secrets, with their *_path variants already resolved.
	RegistrationSharedSecret string
	// RegistrationSharedSecretPath is set when registration_shared_secret_path
	// names a file that does not exist yet; EnsureRegistrationSecret creates it.
	RegistrationSharedSecretPath string
	MacaroonSecretKey            string
	FormSecret                   string

	EnableRegistration                    bool
	EnableRegistrationWithoutVerification bool
	// RegistrationVerifiers names the verification settings that are
	// switched on (registrations_require_3pid, enable_registration_captcha,
	// registration_requires_token), in that order.
	RegistrationVerifiers []string
	BcryptRounds          int
	Password              PasswordConfig

	// RegistrationRequiresToken: registration_requires_token, the
	// m.login.registration_token stage (the one verifier Axon supports).
	RegistrationRequiresToken bool

	// AllowGuestAccess: allow_guest_access, registration of guest accounts.
	AllowGuestAccess bool
	// UserConsent is the user_consent section, nil when absent (consent.go).
	UserConsent *UserConsent

	// Profile settings.
	EnableSetDisplayName          bool // enable_set_displayname, default true
	EnableSetAvatarURL            bool // enable_set_avatar_url, default true
	RequireAuthForProfileRequests bool // require_auth_for_profile_requests
	// LimitProfileRequestsToUsersWhoShareRooms: limit_profile_requests_to_users_who_share_rooms.
	LimitProfileRequestsToUsersWhoShareRooms bool
	// AutoJoin: auto_join_rooms and the settings around it (autojoin.go).
	AutoJoin AutoJoin
	// UserDirectory: the user_directory section (userdir.go).
	UserDirectory UserDirectory
	// Presence: the presence section and use_presence (presence.go).
	Presence Presence

	// RateLimits are the rc_* settings (ratelimits.go).
	RateLimits RateLimits

	// TokenLifetimes: refreshable_access_token_lifetime,
	// refresh_token_lifetime, nonrefreshable_access_token_lifetime (tokens.go).
	TokenLifetimes TokenLifetimes
	// LoginViaExistingSession: login_via_existing_session (tokens.go).
	LoginViaExistingSession LoginViaExistingSession

	// EnableMetrics turns on /_synapse/metrics on metrics listeners.
	EnableMetrics bool

	// MaxUploadSize bounds media uploads (max_upload_size), in bytes.
	MaxUploadSize int64

	// Experimental is experimental_features: unstable MSCs switched on.
	Experimental Experimental
}

// Listener is one entry of `listeners`.
type Listener struct {
	Port          int
	BindAddresses []string // default ["::", "0.0.0.0"]
	TLS           bool
	Type          string // "http" or "metrics"
	XForwarded    bool
	Resources     []Resource
	Line          int // line in the file, for messages
}

// Resource is one entry of a listener's `resources`.
type Resource struct {
	Names    []string // client, federation, keys, media, health, static, openid, metrics, ...
	Compress bool
}

// Database is the `database` section.
type Database struct {
	// Engine is "sqlite3" or "psycopg2", as Synapse names them.
	Engine string

	// SQLitePath is args.database for sqlite3 (":memory:" allowed).
	SQLitePath string

	// PostgreSQL settings (psycopg2).
	User     string
	Password string // password, or the contents of password_file
	DBName   string // args.dbname or args.database
	Host     string // host name, IP, or a Unix socket directory
	Port     int
	SSLMode  string
	CPMin    int
	CPMax    int

	AllowUnsafeLocale bool
}

// PasswordConfig is the `password_config` section.
type PasswordConfig struct {
	// Enabled allows logging in with a password. With Synapse's
	// `enabled: only_for_reauth` it is false and OnlyForReauth is true:
	// existing passwords may still confirm identity (re-authentication).
	Enabled        bool
	OnlyForReauth  bool
	LocalDBEnabled bool
	Pepper         string
	Policy         password.Policy
}
