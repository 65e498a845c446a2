package server

import (
	"github.com/axonhs/axon/internal/config"
	"github.com/axonhs/axon/internal/consent"
	"github.com/axonhs/axon/internal/httpapi/clientapi"
	"github.com/axonhs/axon/internal/storage"
)

// newConsent returns the consent service for user_consent, or nil when
// the section is absent.
func newConsent(cfg *config.Config, db *storage.DB) *consent.Service {
	uc := cfg.UserConsent
	if uc == nil {
		return nil
	}
	return consent.New(db, consent.Settings{
		TemplateDir: uc.TemplateDir,
		Version:     uc.Version,
		FormSecret:  cfg.FormSecret,
		ServerName:  cfg.ServerName,
	})
}

// termsSettings are the m.login.terms settings of registration.
func termsSettings(cfg *config.Config) clientapi.TermsSettings {
	uc := cfg.UserConsent
	if uc == nil || !uc.RequireAtRegistration {
		return clientapi.TermsSettings{}
	}
	base := cfg.PublicBaseURL
	if base == "" {
		base = "https://" + cfg.ServerName + "/" // Synapse's default, as config.Parse fills it
	}
	return clientapi.TermsSettings{Required: true, Version: uc.Version, PolicyName: uc.PolicyName, BaseURL: base}
}
