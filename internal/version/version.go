// Package version reports which Axon is running.
package version

import (
	"runtime/debug"
	"sync"
)

// Version is the release; builds from a checkout add the commit.
const Version = "0.1.0-dev"

var describe = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return Version
	}
	return Version + " (" + rev + dirty + ")"
})

// String is the version with the source revision when known.
func String() string { return describe() }
