package config

// UserDirectory is the user_directory section.
type UserDirectory struct {
	// Disabled is enabled: false; the zero value is Synapse's default.
	Disabled       bool
	SearchAllUsers bool
}

// userDirectoryKeys are the sub-keys Synapse reads; those Axon does not
// act on yet are warned about when set.
var userDirectoryKeys = []string{"enabled", "search_all_users", "prefer_local_users", "exclude_remote_users", "show_locked_users"}

func (l *loader) userDirectory(e entry, path string) {
	if isNull(e.val) {
		return
	}
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	for _, se := range entries {
		p := child(path, se.key)
		switch se.key {
		case "enabled":
			enabled := true
			l.optBool(se, p, &enabled)
			l.c.UserDirectory.Disabled = !enabled
		case "search_all_users":
			l.optBool(se, p, &l.c.UserDirectory.SearchAllUsers)
		case "prefer_local_users", "exclude_remote_users", "show_locked_users":
			// Only local users exist until federation; locked users do not
			// exist yet. The values are checked, not yet used.
			var b bool
			l.optBool(se, p, &b)
		default:
			l.w.unknown(se, p, userDirectoryKeys)
		}
	}
}
