package config

// Experimental are the unstable MSCs of experimental_features that Axon
// implements; each is off unless switched on, as in Synapse.
type Experimental struct {
	// MSC3814: dehydrated devices (msc3814_enabled), served under
	// /_matrix/client/unstable/org.matrix.msc3814.v1/.
	MSC3814 bool
}

// experimentalFeatures reads experimental_features. Synapse has many more
// such switches; one Axon lacks is reported when it is switched on.
func (l *loader) experimentalFeatures(e entry, path string) {
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	for _, se := range entries {
		sp := child(path, se.key)
		switch {
		case se.key == "msc3814_enabled":
			l.optBool(se, sp, &l.c.Experimental.MSC3814)
		case !isNull(se.val) && isTruthy(se.val):
			l.w.notSupported(se, sp)
		}
	}
}
