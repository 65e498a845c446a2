package clientapi

import (
	"net/url"
	"slices"

	"github.com/axonhs/axon/internal/uia"
)

// TermsSettings are user_consent's registration settings.
type TermsSettings struct {
	// Required (require_at_registration) puts an m.login.terms stage into
	// every registration flow.
	Required bool
	Version  string
	// PolicyName (policy_name) is what clients call the document.
	PolicyName string
	// BaseURL is public_baseurl, ending in "/": the policy is at
	// <BaseURL>_matrix/consent?v=<Version>.
	BaseURL string
}

// policyURL is where the consent resource serves the policy, as Synapse
// builds it.
func (t TermsSettings) policyURL() string {
	return t.BaseURL + "_matrix/consent?v=" + url.QueryEscape(t.Version)
}

// registrationRequest is what registration's User-Interactive
// Authentication asks for. Stages are put in front of the flows in
// Synapse's order: m.login.terms first, then the registration token
// before it, so a token flow is [token, terms, dummy].
func (a *API) registrationRequest() uia.Request {
	flows := registrationFlows
	if a.requiresToken() {
		flows = tokenRegistrationFlows
	}
	req := uia.Request{Verifiers: map[string]uia.Verifier{}}
	for _, f := range flows {
		stages := slices.Clone(f.Stages)
		if a.settings.Terms.Required {
			at := 0
			if len(stages) > 0 && stages[0] == uia.StageRegistrationToken {
				at = 1
			}
			stages = slices.Insert(stages, at, uia.StageTerms)
		}
		req.Flows = append(req.Flows, uia.Flow{Stages: stages})
	}
	if a.requiresToken() {
		req.Verifiers[uia.StageRegistrationToken] = uia.RegistrationTokenVerifier(a.reserveRegistrationToken)
	}
	if a.settings.Terms.Required {
		req.Verifiers[uia.StageTerms] = uia.AcceptTerms
		req.Params = map[string]any{uia.StageTerms: uia.TermsParams(map[string]uia.Policy{
			"privacy_policy": {Version: a.settings.Terms.Version, Lang: "en", Name: a.settings.Terms.PolicyName, URL: a.settings.Terms.policyURL()},
		})}
	}
	return req
}

// consentVersion is the policy version a completed registration agreed
// to: with terms required every flow holds the terms stage, so finishing
// any flow is agreeing.
func (a *API) consentVersion() string {
	if !a.settings.Terms.Required {
		return ""
	}
	return a.settings.Terms.Version
}
