package server

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/consent"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/httpapi/adminapi"
	"github.com/axonhs/axon/internal/httpapi/clientapi"
	"github.com/axonhs/axon/internal/httpapi/consentapi"
	"github.com/axonhs/axon/internal/httpapi/static"
	"github.com/axonhs/axon/internal/keybackup"
	"github.com/axonhs/axon/internal/metrics"
	"github.com/axonhs/axon/internal/push"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/syncer"
)

// services are the behaviours handlers call into.
type services struct {
	accounts *accounts.Service
	userData clientapi.UserData
	metrics  *metrics.Registry
	// regTokens: registration tokens (admin API, m.login.registration_token).
	regTokens *accounts.RegistrationTokens
	limiters  clientapi.Limiters // rc_* rate limits (ratelimit.go)
	// overrides: per-user rate-limit overrides (admin API, rc_message).
	overrides *accounts.RateLimitOverrides
	// consent serves the privacy policy (user_consent); nil without it.
	consent *consent.Service
	rooms   *rooms.Service
	syncer  *syncer.Service
	push    *push.Service // push rules (/pushrules)
	// ephemeral: typing, receipts, presence (rooms.go).
	ephemeral clientapi.Ephemeral
	e2ee      clientapi.E2EE // keys and to-device messages (e2ee.go)
	// keyBackup: server-side key backups (/room_keys).
	keyBackup *keybackup.Service
}

// buildListener mounts the resources a listener names. Resources that Axon
// does not serve yet are reported once each, never silently dropped.
func buildListener(cfg *config.Config, lc config.Listener, svc services, log *slog.Logger) (httpapi.Listener, error) {
	rt := httpapi.NewRouter()
	httpapi.RegisterHealth(rt)

	l := httpapi.Listener{
		Name:          lc.Type + ":" + strconv.Itoa(lc.Port),
		BindAddresses: lc.BindAddresses,
		Port:          lc.Port,
		XForwarded:    lc.XForwarded,
		Handler:       rt,
		Metrics:       svc.metrics,
	}
	if lc.Type == "metrics" {
		mountMetrics(rt, cfg, svc, log, l.Name)
		return l, nil
	}
	if lc.Type != "http" {
		return l, fmt.Errorf("listener on port %d: unknown type %q", lc.Port, lc.Type)
	}

	mounted := map[string]bool{}
	for _, res := range lc.Resources {
		if res.Compress {
			// Compression is per listener: one resource asking for it
			// compresses every response the listener sends.
			l.Compress = true
		}
		for _, name := range res.Names {
			if mounted[name] {
				continue
			}
			mounted[name] = true
			switch name {
			case "client":
				clientapi.New(svc.accounts, svc.userData, clientSettings(cfg)).WithRegistrationTokens(svc.regTokens).WithLimiters(svc.limiters).WithRooms(svc.rooms, svc.syncer).WithPushRules(svc.push).WithEphemeral(svc.ephemeral).WithE2EE(svc.e2ee).WithKeyBackup(svc.keyBackup).Register(rt)
				adminapi.NewRegistrationTokens(svc.accounts, svc.regTokens).Register(rt)
				adminapi.NewSharedSecretRegistration(cfg.RegistrationSharedSecret, svc.accounts).Register(rt)
				adminapi.RegisterServerVersion(rt)
				adminapi.NewRateLimitOverrides(svc.accounts, svc.overrides).Register(rt)
				if !mounted["static"] {
					static.Register(rt, cfg.ServerName)
				}
			case "consent":
				if svc.consent == nil || cfg.FormSecret == "" {
					return l, fmt.Errorf("listener on port %d: the consent resource needs a user_consent section and form_secret", lc.Port)
				}
				consentapi.Register(rt, svc.consent)
			case "static":
				if !mounted["client"] {
					static.Register(rt, cfg.ServerName)
				}
			case "health":
				// Every listener serves /health.
			case "metrics":
				mountMetrics(rt, cfg, svc, log, l.Name)
			default:
				log.Warn("not supported yet: listener resource "+name, "listener", l.Name)
			}
		}
	}
	for _, addr := range l.BindAddresses {
		if net.ParseIP(addr) == nil {
			return l, fmt.Errorf("listener on port %d: bind address %q is not an IP address", lc.Port, addr)
		}
	}
	return l, nil
}

func clientSettings(cfg *config.Config) clientapi.Settings {
	return clientapi.Settings{
		// Open only when Synapse would also skip verification; the start-up
		// check refuses configs that ask for verification Axon lacks.
		RegistrationOpen:     cfg.EnableRegistration && (cfg.EnableRegistrationWithoutVerification || cfg.RegistrationRequiresToken) && len(unsupportedVerifiers(cfg)) == 0,
		PasswordLoginEnabled: cfg.Password.Enabled && cfg.Password.LocalDBEnabled,
		PasswordPolicy:       cfg.Password.Policy,

		PasswordReauthEnabled: (cfg.Password.Enabled || cfg.Password.OnlyForReauth) && cfg.Password.LocalDBEnabled,

		SetDisplayNameAllowed:     cfg.EnableSetDisplayName,
		SetAvatarURLAllowed:       cfg.EnableSetAvatarURL,
		RequireAuthForProfiles:    cfg.RequireAuthForProfileRequests,
		LimitProfileToSharedRooms: cfg.LimitProfileRequestsToUsersWhoShareRooms,
		UserDirectory:             rooms.DirectorySettings{Enabled: !cfg.UserDirectory.Disabled, SearchAllUsers: cfg.UserDirectory.SearchAllUsers},
		DefaultRoomVersion:        cfg.DefaultRoomVers,

		RegistrationRequiresToken: cfg.RegistrationRequiresToken,

		GetLoginToken: clientapi.GetLoginTokenSettings{
			Enabled:       cfg.LoginViaExistingSession.Enabled,
			RequireUIAuth: cfg.LoginViaExistingSession.RequireUIAuth,
			TokenTimeout:  cfg.LoginViaExistingSession.TokenTimeout,
		},

		GuestAccess: cfg.AllowGuestAccess,
		Terms:       termsSettings(cfg),
	}
}

// mountMetrics serves Prometheus metrics where Synapse does, but only when
// enable_metrics is set: metrics reveal usage, so they are opt-in.
func mountMetrics(rt *httpapi.Router, cfg *config.Config, svc services, log *slog.Logger, listener string) {
	if !cfg.EnableMetrics {
		log.Warn("a metrics listener or resource is configured but enable_metrics is false: not serving metrics", "listener", listener)
		return
	}
	rt.HandleHTTP("GET /_synapse/metrics", svc.metrics.Handler())
}

// unsupportedVerifiers are the registration verification settings that are
// on and that Axon cannot enforce yet (all but registration_requires_token).
func unsupportedVerifiers(cfg *config.Config) []string {
	var out []string
	for _, v := range cfg.RegistrationVerifiers {
		if v != "registration_requires_token" {
			out = append(out, v)
		}
	}
	return out
}
