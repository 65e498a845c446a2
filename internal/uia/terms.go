package uia

import "context"

// StageTerms is the stage in which the user agrees to the server's
// policies (user_consent.require_at_registration). Completing it is the
// agreement: the client shows the documents named in the stage's params
// and sends {"type": "m.login.terms", "session": ...} once the user
// accepts them.
const StageTerms = "m.login.terms"

// Policy is one document offered at the terms stage, in one language.
type Policy struct {
	Version string
	// Lang is the language of Name and URL, e.g. "en".
	Lang string
	Name string
	URL  string
}

// TermsParams returns the params of the terms stage for policies keyed by
// policy ID ("privacy_policy"), in the spec's shape:
// {"policies": {"privacy_policy": {"version": "1.0", "en": {"name": ..., "url": ...}}}}.
func TermsParams(policies map[string]Policy) map[string]any {
	out := make(map[string]any, len(policies))
	for id, p := range policies {
		out[id] = map[string]any{
			"version": p.Version,
			p.Lang:    map[string]string{"name": p.Name, "url": p.URL},
		}
	}
	return map[string]any{"policies": out}
}

// AcceptTerms is the terms stage's Verifier: the stage carries no proof,
// so offering it and the client completing it is all there is (as in
// Synapse). It proves no identity, so it only fits requests made without
// a user (Request.UserID empty), i.e. registration.
func AcceptTerms(context.Context, *Auth) (string, error) { return "", nil }
