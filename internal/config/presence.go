package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Synapse's presence timers.
const (
	DefaultPresenceLastActiveGranularity = time.Minute
	DefaultPresenceSyncOnlineTimeout     = 30 * time.Second
	DefaultPresenceIdleTimeout           = 5 * time.Minute
)

// Presence is the presence section (and the older top-level use_presence).
// Its zero value is Synapse's default: presence enabled and tracked, with
// the default timers.
type Presence struct {
	// Disabled: enabled: false. Presence endpoints answer "offline" and
	// /sync carries none.
	Disabled bool
	// Untracked: enabled: "untracked". Presence is served, but clients'
	// requests and activity do not change it.
	Untracked                 bool
	IncludeOfflineUsersOnSync bool
	// Timers; zero means the default (see WithDefaults).
	LastActiveGranularity time.Duration
	SyncOnlineTimeout     time.Duration
	IdleTimeout           time.Duration

	enabledSet bool // presence.enabled was given: it wins over use_presence
}

// WithDefaults returns p with the default for every timer left unset.
func (p Presence) WithDefaults() Presence {
	if p.LastActiveGranularity == 0 {
		p.LastActiveGranularity = DefaultPresenceLastActiveGranularity
	}
	if p.SyncOnlineTimeout == 0 {
		p.SyncOnlineTimeout = DefaultPresenceSyncOnlineTimeout
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = DefaultPresenceIdleTimeout
	}
	return p
}

// presenceKeys are the sub-keys Synapse reads.
var presenceKeys = []string{
	"enabled", "include_offline_users_on_sync", "last_active_granularity", "sync_online_timeout",
	"idle_timeout", "presence_router",
}

func (l *loader) presence(e entry, path string) {
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	p := &l.c.Presence
	for _, se := range entries {
		sp := child(path, se.key)
		switch se.key {
		case "enabled":
			l.presenceEnabled(se, sp)
		case "include_offline_users_on_sync":
			l.optBool(se, sp, &p.IncludeOfflineUsersOnSync)
		case "last_active_granularity":
			l.presenceTimer(se, sp, &p.LastActiveGranularity)
		case "sync_online_timeout":
			l.presenceTimer(se, sp, &p.SyncOnlineTimeout)
		case "idle_timeout":
			l.presenceTimer(se, sp, &p.IdleTimeout)
		case "presence_router":
			if !isNull(se.val) {
				l.w.notSupported(se, sp)
			}
		default:
			l.w.unknown(se, sp, presenceKeys)
		}
	}
	// Synapse refuses to start otherwise.
	if d := p.WithDefaults(); d.IdleTimeout <= d.LastActiveGranularity {
		l.w.errorf(e.keyNode, child(path, "idle_timeout"), "must be greater than last_active_granularity (%s), got %s",
			d.LastActiveGranularity, d.IdleTimeout)
	}
}

// presenceEnabled reads presence.enabled: a boolean or "untracked". null
// leaves the default (or use_presence) in place, as in Synapse.
func (l *loader) presenceEnabled(e entry, path string) {
	if isNull(e.val) {
		return
	}
	p := &l.c.Presence
	if n := resolve(e.val); n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Value == "untracked" {
		p.Disabled, p.Untracked, p.enabledSet = false, true, true
		return
	}
	var quiet walker // its message would not mention "untracked"
	v, ok := quiet.boolean(e.val, path)
	if !ok {
		l.w.errorf(e.val, path, `expected true, false or "untracked", got %s`, kindName(e.val))
		return
	}
	p.Disabled, p.Untracked, p.enabledSet = !v, false, true
}

// presenceTimer reads a positive duration.
func (l *loader) presenceTimer(e entry, path string, dst *time.Duration) {
	if isNull(e.val) {
		return
	}
	d, ok := l.w.duration(e.val, path)
	if !ok {
		return
	}
	if d <= 0 {
		l.w.errorf(e.val, path, "must be a positive duration")
		return
	}
	*dst = d
}

// usePresence reads the top-level use_presence, which Synapse still
// honours when presence.enabled is not set.
func (l *loader) usePresence(e entry, path string) {
	if isNull(e.val) {
		return
	}
	v, ok := l.w.boolean(e.val, path)
	if !ok {
		return
	}
	l.w.warnf(e.keyNode, path, "deprecated: use presence.enabled instead")
	if !l.c.Presence.enabledSet {
		l.c.Presence.Disabled = !v
	}
}
