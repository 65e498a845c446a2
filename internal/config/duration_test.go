package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"500", 500 * time.Millisecond},
		{"250ms", 250 * time.Millisecond},
		{"30s", 30 * time.Second},
		{"5m", 5 * time.Minute},
		{"12h", 12 * time.Hour},
		{"90d", 90 * day},
		{"2w", 14 * day},
		{"1y", 365 * day},
		{" 7d ", 7 * day},
		{"1_000", time.Second},
		{"86400000", day},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "m", "1.5h", "-5m", "5x", "5 m", "abc", "1M", "_1", "99999999999y"} {
		if got, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1024", 1024},
		{"10K", 10 << 10},
		{"50M", 50 << 20},
		{"1G", 1 << 30},
		{"2T", 2 << 40},
		{"10k", 10 << 10},
		{" 5M", 5 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "M", "1.5M", "-1", "10MB", "ten", "9999999999999T"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %v, want an error", bad, got)
		}
	}
}

// Durations and sizes in YAML may be plain integers (milliseconds / bytes)
// or suffixed strings.
func TestDurationAndSizeNodes(t *testing.T) {
	w := &walker{}
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{{"1500", 1500 * time.Millisecond}, {"5m", 5 * time.Minute}, {`"1h"`, time.Hour}} {
		n := scalarNode(t, tc.yaml)
		if got, ok := w.duration(n, "x"); !ok || got != tc.want {
			t.Errorf("duration(%s) = %v, %v", tc.yaml, got, ok)
		}
	}
	if _, ok := w.duration(scalarNode(t, "true"), "x"); ok {
		t.Error("a boolean is not a duration")
	}
	if got, ok := w.size(scalarNode(t, "4096"), "x"); !ok || got != 4096 {
		t.Errorf("size(4096) = %v, %v", got, ok)
	}
	if got, ok := w.size(scalarNode(t, "10K"), "x"); !ok || got != 10240 {
		t.Errorf("size(10K) = %v, %v", got, ok)
	}
	if len(w.diags) != 1 || w.diags[0].Severity != Error {
		t.Errorf("diags = %v", w.diags)
	}
}
