package clientapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/password"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/uia"
)

// Accounts is what the client API needs of the accounts service.
type Accounts interface {
	ServerName() string
	UserID(localpart string) (string, error)
	UserIDAvailable(ctx context.Context, userID string) (bool, error)
	Register(ctx context.Context, acct accounts.NewAccount) (accounts.Session, error)
	Login(ctx context.Context, req accounts.LoginRequest) (accounts.Session, error)
	Logout(ctx context.Context, userID, deviceID string) error
	LogoutAll(ctx context.Context, userID string) error
	Authenticate(ctx context.Context, token string) (accounts.Requester, error)
	IsAdmin(ctx context.Context, userID string) (bool, error)
	// Devices, re-authentication, password change and deactivation (devices.go, account.go).
	RecordSeen(who accounts.Requester, ip, userAgent string)
	Devices(ctx context.Context, userID string) ([]accounts.Device, error)
	Device(ctx context.Context, userID, deviceID string) (accounts.Device, error)
	RenameDevice(ctx context.Context, userID, deviceID, name string) error
	DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error
	CheckPassword(ctx context.Context, user, password string) (string, error)
	HasPassword(ctx context.Context, userID string) (bool, error)
	ChangePassword(ctx context.Context, c accounts.PasswordChange) error
	Deactivate(ctx context.Context, userID string, erase bool) error
	// Refresh and login tokens (tokens.go).
	Refresh(ctx context.Context, refreshToken string) (accounts.Session, error)
	CreateLoginToken(ctx context.Context, userID string, ttl time.Duration) (string, error)
	LoginTokenUser(ctx context.Context, token string) (string, error)
	TokenLogin(ctx context.Context, req accounts.TokenLoginRequest) (accounts.Session, error)
	// Guests (guest.go).
	RegisterGuest(ctx context.Context, deviceDisplayName string) (accounts.Session, error)
	UpgradeGuest(ctx context.Context, up accounts.GuestUpgrade) (accounts.Session, error)
}

// Settings are the homeserver.yaml settings the client API obeys.
type Settings struct {
	// RegistrationOpen: enable_registration with nothing to verify
	// (enable_registration_without_verification).
	RegistrationOpen     bool
	PasswordLoginEnabled bool
	PasswordPolicy       password.Policy
	// PasswordReauthEnabled: passwords may confirm a user's identity in
	// User-Interactive Authentication (password_config.enabled true or
	// only_for_reauth, with localdb_enabled).
	PasswordReauthEnabled bool

	SetDisplayNameAllowed  bool // enable_set_displayname
	SetAvatarURLAllowed    bool // enable_set_avatar_url
	RequireAuthForProfiles bool // require_auth_for_profile_requests
	// LimitProfileToSharedRooms: limit_profile_requests_to_users_who_share_rooms.
	LimitProfileToSharedRooms bool
	// UserDirectory: the user_directory section.
	UserDirectory      rooms.DirectorySettings
	DefaultRoomVersion string // default_room_version

	// RegistrationRequiresToken: registration_requires_token (regtokens.go).
	RegistrationRequiresToken bool

	// GetLoginToken: login_via_existing_session (tokens.go).
	GetLoginToken GetLoginTokenSettings

	// GuestAccess: allow_guest_access (guest.go).
	GuestAccess bool
	// Terms: user_consent at registration (terms.go).
	Terms TermsSettings
}

// API serves the client-server endpoints.
type API struct {
	accounts Accounts
	data     UserData
	settings Settings
	uia      *uia.Sessions
	regToken regTokenState
	limits   Limiters // rate limits (ratelimit.go)
	rooms    Rooms    // nil until SetRooms (rooms.go)
	syncer   Syncer
	// ephemeral: typing, receipts, read markers, presence (ephemeral.go).
	ephemeral Ephemeral
	push      PushRules // nil until WithPushRules (pushrules.go)
	e2ee      E2EE      // keys and to-device messages (keys.go)
	keyBackup KeyBackup // nil until WithKeyBackup (keybackup.go)
}

// New returns the client API.
func New(accts Accounts, data UserData, settings Settings) *API {
	return &API{accounts: accts, data: data, settings: settings, uia: uia.NewSessions()}
}

// Register adds every client API route.
func (a *API) Register(rt *httpapi.Router) {
	RegisterVersions(rt)
	a.handle(rt, http.MethodPost, "/register", a.register)
	a.handle(rt, http.MethodGet, "/register/available", a.registerAvailable)
	a.handle(rt, http.MethodGet, "/login", a.loginFlows)
	a.handle(rt, http.MethodPost, "/login", a.login)
	a.handle(rt, http.MethodPost, "/logout", a.authedWith(a.logout, access{allowExpired: true, guests: guestsAllowed}))
	a.handle(rt, http.MethodPost, "/logout/all", a.authedAllowExpired(a.logoutAll))
	a.handle(rt, http.MethodGet, "/account/whoami", a.guestAuthed(a.whoami))
	a.handle(rt, http.MethodGet, "/capabilities", a.guestAuthed(a.capabilities))
	a.registerUserData(rt)
	a.registerDevices(rt)
	a.registerAccount(rt)
	a.registerRegistrationTokens(rt)
	a.registerTokens(rt)
	a.registerRooms(rt)
	a.registerE2EE(rt)
	a.registerKeyBackup(rt)
}

// handle mounts an endpoint under v3 and its older r0 name, which Synapse
// still serves and some clients and bridges still call.
func (a *API) handle(rt *httpapi.Router, method, path string, h httpapi.HandlerFunc) {
	rt.Handle(method, "/_matrix/client/v3"+path, h)
	rt.Handle(method, "/_matrix/client/r0"+path, h)
}

// authedHandler is an endpoint that needs a logged-in user.
type authedHandler func(w http.ResponseWriter, r *http.Request, who accounts.Requester) error

// authed resolves the access token before calling h. Guests are refused
// (guestAuthed lets them in).
func (a *API) authed(h authedHandler) httpapi.HandlerFunc { return a.authedWith(h, access{}) }

// authedAllowExpired is authed that also accepts an expired access token,
// for /logout and /logout/all as in Synapse.
func (a *API) authedAllowExpired(h authedHandler) httpapi.HandlerFunc {
	return a.authedWith(h, access{allowExpired: true})
}

func (a *API) authedWith(h authedHandler, acc access) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		token, ok := httpapi.AccessToken(r)
		if !ok {
			return &httpapi.Error{Status: http.StatusUnauthorized, Code: "M_MISSING_TOKEN", Message: "Missing access token"}
		}
		who, err := a.accounts.Authenticate(r.Context(), token)
		if errors.Is(err, accounts.ErrUnknownToken) {
			return unknownToken(false, "Unrecognised access token")
		}
		if errors.Is(err, accounts.ErrExpiredToken) {
			if !acc.allowExpired {
				// The session lives on: refresh, or log in again on the device.
				return unknownToken(true, "Access token has expired")
			}
			err = nil
		}
		if err != nil {
			return err
		}
		ri := httpapi.Info(r.Context())
		ri.User = who.UserID
		a.accounts.RecordSeen(who, ri.ClientIP, r.UserAgent())
		if who.Guest && (acc.guests == nil || !acc.guests(r)) {
			return guestForbidden()
		}
		return h(w, r, who)
	}
}
