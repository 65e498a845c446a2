package config

import (
	"testing"
	"time"
)

func TestPresenceDefaults(t *testing.T) {
	c, d := parse(t, minimal)
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	p := c.Presence.WithDefaults()
	if p.Disabled || p.Untracked || p.IncludeOfflineUsersOnSync ||
		p.LastActiveGranularity != time.Minute || p.SyncOnlineTimeout != 30*time.Second || p.IdleTimeout != 5*time.Minute {
		t.Errorf("defaults %+v", p)
	}
}

func TestPresenceSection(t *testing.T) {
	c, d := parse(t, minimal+`presence:
  enabled: untracked
  include_offline_users_on_sync: true
  last_active_granularity: 2m
  sync_online_timeout: 45000
  idle_timeout: 10m
`)
	if len(d) != 0 {
		t.Fatalf("diagnostics: %v", d)
	}
	p := c.Presence
	if p.Disabled || !p.Untracked || !p.IncludeOfflineUsersOnSync ||
		p.LastActiveGranularity != 2*time.Minute || p.SyncOnlineTimeout != 45*time.Second || p.IdleTimeout != 10*time.Minute {
		t.Errorf("presence %+v", p)
	}

	c, d = parse(t, minimal+"presence:\n  enabled: false\n")
	if len(d) != 0 || !c.Presence.Disabled {
		t.Errorf("enabled: false gave %+v, %v", c.Presence, d)
	}
}

func TestUsePresence(t *testing.T) {
	c, d := parse(t, minimal+"use_presence: false\n")
	mustOne(t, d, "use_presence", Warning, 3, "presence.enabled")
	if !c.Presence.Disabled {
		t.Error("use_presence: false left presence on")
	}
	// presence.enabled wins, in either order.
	for _, text := range []string{
		"use_presence: false\npresence:\n  enabled: true\n",
		"presence:\n  enabled: true\nuse_presence: false\n",
	} {
		if c, _ := parse(t, minimal+text); c.Presence.Disabled {
			t.Errorf("%q: use_presence overrode presence.enabled", text)
		}
	}
}

func TestPresenceErrors(t *testing.T) {
	_, d := parse(t, minimal+"presence:\n  enabled: sometimes\n")
	mustOne(t, d, "presence.enabled", Error, 4, `"untracked"`)
	_, d = parse(t, minimal+"presence:\n  idle_timeout: 30s\n")
	mustOne(t, d, "presence.idle_timeout", Error, 3, "greater than last_active_granularity")
	_, d = parse(t, minimal+"presence:\n  sync_online_timeout: 0\n")
	mustOne(t, d, "presence.sync_online_timeout", Error, 4, "positive")
	_, d = parse(t, minimal+"presence:\n  presense_router: {}\n")
	mustOne(t, d, "presence.presense_router", Warning, 4, "presence_router")
}
