package config

import (
	"math"

	"go.yaml.in/yaml/v3"
)

func (l *loader) passwordConfig(e entry, path string) {
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	pc := &l.c.Password
	for _, pe := range entries {
		p := child(path, pe.key)
		switch pe.key {
		case "enabled":
			l.passwordEnabled(pe, p)
		case "localdb_enabled":
			l.optBool(pe, p, &pc.LocalDBEnabled)
		case "pepper":
			l.optString(pe, p, &pc.Pepper)
		case "policy":
			l.passwordPolicy(pe, p)
		default:
			l.w.unknown(pe, p, []string{"enabled", "localdb_enabled", "pepper", "policy"})
		}
	}
}

// passwordEnabled accepts true, false or Synapse's "only_for_reauth", which
// keeps passwords for re-authentication but not for logging in.
func (l *loader) passwordEnabled(e entry, path string) {
	if isNull(e.val) {
		return
	}
	rn := resolve(e.val)
	if rn.Kind == yaml.ScalarNode && rn.Value == "only_for_reauth" {
		l.c.Password.Enabled = false
		l.c.Password.OnlyForReauth = true
		return
	}
	if _, yaml11 := yaml11Bools[rn.Value]; rn.Tag == "!!bool" || (yaml11 && rn.Style == 0) {
		l.optBool(e, path, &l.c.Password.Enabled)
		return
	}
	l.w.errorf(e.val, path, "expected true, false or only_for_reauth, got %s", kindName(e.val))
}

func (l *loader) passwordPolicy(e entry, path string) {
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	pp := &l.c.Password.Policy
	bools := map[string]*bool{
		"enabled":           &pp.Enabled,
		"require_digit":     &pp.RequireDigit,
		"require_symbol":    &pp.RequireSymbol,
		"require_lowercase": &pp.RequireLowercase,
		"require_uppercase": &pp.RequireUppercase,
	}
	for _, pe := range entries {
		p := child(path, pe.key)
		if dst, ok := bools[pe.key]; ok {
			l.optBool(pe, p, dst)
			continue
		}
		if pe.key == "minimum_length" {
			if !isNull(pe.val) {
				if v, ok := l.w.intRange(pe.val, p, "length", 0, math.MaxInt32); ok {
					pp.MinimumLength = v
				}
			}
			continue
		}
		l.w.unknown(pe, p, []string{"enabled", "minimum_length", "require_digit", "require_symbol", "require_lowercase", "require_uppercase"})
	}
}
