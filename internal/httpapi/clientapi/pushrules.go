package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi"
	"github.com/axonhs/axon/internal/push"
)

// PushRules is what the client API needs of the push service.
type PushRules interface {
	Rules(ctx context.Context, user string) (*push.Ruleset, error)
	PutRule(ctx context.Context, user string, nr push.NewRule) error
	DeleteRule(ctx context.Context, user string, kind push.Kind, ruleID string) error
	SetEnabled(ctx context.Context, user string, kind push.Kind, ruleID string, enabled bool) error
	SetActions(ctx context.Context, user string, kind push.Kind, ruleID string, actions json.RawMessage) error
}

// WithPushRules enables the /pushrules endpoints, backed by p.
func (a *API) WithPushRules(p PushRules) *API {
	a.push = p
	return a
}

// registerPushRules mounts /pushrules. Like Synapse, a path that stops
// before a trailing slash it needs (/pushrules, /pushrules/global) is
// answered with a hint rather than a plain 404.
func (a *API) registerPushRules(rt *httpapi.Router) {
	if a.push == nil {
		return
	}
	a.handle(rt, http.MethodGet, "/pushrules", a.authed(wantTrailingSlash))
	a.handle(rt, http.MethodGet, "/pushrules/{$}", a.authed(a.getAllPushRules))
	a.handle(rt, http.MethodGet, "/pushrules/{scope}", a.authed(wantTrailingSlash))
	a.handle(rt, http.MethodGet, "/pushrules/{scope}/{$}", a.authed(a.getPushRuleset))
	a.handle(rt, http.MethodGet, "/pushrules/{scope}/{kind}", a.authed(wantTrailingSlash))
	a.handle(rt, http.MethodGet, "/pushrules/{scope}/{kind}/{$}", a.authed(a.getPushRulesOfKind))
	a.handle(rt, http.MethodGet, "/pushrules/{scope}/{kind}/{ruleId}", a.authed(a.getPushRule))
	a.handle(rt, http.MethodPut, "/pushrules/{scope}/{kind}/{ruleId}", a.authed(a.putPushRule))
	a.handle(rt, http.MethodDelete, "/pushrules/{scope}/{kind}/{ruleId}", a.authed(a.deletePushRule))
	a.handle(rt, http.MethodGet, "/pushrules/{scope}/{kind}/{ruleId}/{attr}", a.authed(a.getPushRuleAttr))
	a.handle(rt, http.MethodPut, "/pushrules/{scope}/{kind}/{ruleId}/{attr}", a.authed(a.putPushRuleAttr))
}

func wantTrailingSlash(http.ResponseWriter, *http.Request, accounts.Requester) error {
	return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_UNRECOGNIZED",
		Message: "Unrecognised request: You probably wanted a trailing slash"}
}

func (a *API) getAllPushRules(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	rs, err := a.push.Rules(r.Context(), who.UserID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]*push.Ruleset{"global": rs})
	return nil
}

func (a *API) getPushRuleset(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	if err := pushScope(r); err != nil {
		return err
	}
	rs, err := a.push.Rules(r.Context(), who.UserID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, rs)
	return nil
}

func (a *API) getPushRulesOfKind(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	kind, err := pushKind(r)
	if err != nil {
		return err
	}
	rs, err := a.push.Rules(r.Context(), who.UserID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, rs.Of(kind))
	return nil
}

func (a *API) getPushRule(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	rule, err := a.findPushRule(r, who)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, rule)
	return nil
}

// getPushRuleAttr serves GET .../{ruleId}/{attr}: enabled and actions, as
// the spec defines, and any other property of the rule, as Synapse allows.
func (a *API) getPushRuleAttr(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	rule, err := a.findPushRule(r, who)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(rule)
	if err != nil {
		return err
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil {
		return err
	}
	attr := r.PathValue("attr")
	v, ok := props[attr]
	if !ok {
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_UNRECOGNIZED", Message: "Unrecognized request"}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]json.RawMessage{attr: v})
	return nil
}

func (a *API) findPushRule(r *http.Request, who accounts.Requester) (push.Rule, error) {
	kind, err := pushKind(r)
	if err != nil {
		return push.Rule{}, err
	}
	rs, err := a.push.Rules(r.Context(), who.UserID)
	if err != nil {
		return push.Rule{}, err
	}
	rule, ok := rs.Find(kind, r.PathValue("ruleId"))
	if !ok {
		return push.Rule{}, pushRuleNotFound()
	}
	return rule, nil
}

type putPushRuleBody struct {
	Actions    json.RawMessage `json:"actions"`
	Conditions json.RawMessage `json:"conditions"`
	Pattern    *string         `json:"pattern"`
}

func (a *API) putPushRule(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	kind, err := pushKind(r)
	if err != nil {
		return err
	}
	var body putPushRuleBody
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	q := r.URL.Query()
	err = a.push.PutRule(r.Context(), who.UserID, push.NewRule{
		Kind: kind, RuleID: r.PathValue("ruleId"), Conditions: body.Conditions, Pattern: body.Pattern,
		Actions: body.Actions, Before: q.Get("before"), After: q.Get("after"),
	})
	if err != nil {
		return pushError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) deletePushRule(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	kind, err := pushKind(r)
	if err != nil {
		return err
	}
	if err := a.push.DeleteRule(r.Context(), who.UserID, kind, r.PathValue("ruleId")); err != nil {
		return pushError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// putPushRuleAttr serves PUT .../{ruleId}/enabled and .../actions.
func (a *API) putPushRuleAttr(w http.ResponseWriter, r *http.Request, who accounts.Requester) error {
	kind, err := pushKind(r)
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return err
	}
	ruleID := r.PathValue("ruleId")
	switch r.PathValue("attr") {
	case "enabled":
		var enabled bool
		if err := json.Unmarshal(body["enabled"], &enabled); err != nil {
			return httpapi.Unknown(http.StatusBadRequest, "Value for 'enabled' must be boolean")
		}
		err = a.push.SetEnabled(r.Context(), who.UserID, kind, ruleID, enabled)
	case "actions":
		err = a.push.SetActions(r.Context(), who.UserID, kind, ruleID, body["actions"])
	default:
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_UNRECOGNIZED", Message: "Unrecognized request"}
	}
	if err != nil {
		return pushError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// pushScope checks the {scope} parameter: "global" is the only ruleset.
func pushScope(r *http.Request) error {
	if r.PathValue("scope") != "global" {
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "M_UNRECOGNIZED", Message: "Unrecognized request"}
	}
	return nil
}

// pushKind checks the scope and parses the {kind} parameter.
func pushKind(r *http.Request) (push.Kind, error) {
	if err := pushScope(r); err != nil {
		return "", err
	}
	kind, ok := push.ParseKind(r.PathValue("kind"))
	if !ok {
		return "", httpapi.InvalidParam("Unknown push rule kind: " + r.PathValue("kind"))
	}
	return kind, nil
}

func pushRuleNotFound() error { return httpapi.NotFound("The push rule was not found.") }

// pushError maps the push service's errors to Matrix errors: Synapse
// answers an unusable rule with 400 M_UNKNOWN, as the spec's example does.
func pushError(err error) error {
	var invalid *push.InvalidRuleError
	switch {
	case errors.Is(err, push.ErrNotFound):
		return pushRuleNotFound()
	case errors.Is(err, push.ErrServerDefault):
		return httpapi.Unknown(http.StatusBadRequest, "Cannot delete a server-default push rule")
	case errors.As(err, &invalid):
		return httpapi.Unknown(http.StatusBadRequest, invalid.Msg)
	}
	return err
}
