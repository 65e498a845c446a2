package config

import (
	"strings"
	"testing"
)

func TestExperimentalFeatures(t *testing.T) {
	c, d := parse(t, minimal)
	if len(d) != 0 || c.Experimental.MSC3814 {
		t.Fatalf("default: %+v %v", c.Experimental, d)
	}
	c, d = parse(t, minimal+"experimental_features:\n  msc3814_enabled: true\n  msc3861: false\n")
	if len(d) != 0 || !c.Experimental.MSC3814 {
		t.Fatalf("msc3814_enabled: %+v %v", c.Experimental, d)
	}
	// A switch Axon lacks is reported when it is on, never dropped silently.
	_, d = parse(t, minimal+"experimental_features:\n  msc4108_enabled: true\n")
	if len(d) != 1 || !strings.Contains(d[0].String(), "experimental_features.msc4108_enabled") {
		t.Fatalf("unsupported switch: %v", d)
	}
}
