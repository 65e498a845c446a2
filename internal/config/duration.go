package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationUnits are the suffixes Synapse accepts for time periods. A value
// without a suffix is a number of milliseconds. A year is 365 days.
var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
	"y":  365 * 24 * time.Hour,
}

// ParseDuration parses a time period the way Synapse does: "500" is 500
// milliseconds; "30s", "5m", "12h", "90d", "2w" and "1y" use a unit suffix.
// The number must be a non-negative integer: Synapse rejects "1.5h" too.
func ParseDuration(s string) (time.Duration, error) {
	v := strings.TrimSpace(s)
	unit := time.Millisecond
	switch {
	case strings.HasSuffix(v, "ms"):
		v = v[:len(v)-2]
	case v != "" && durationUnits[v[len(v)-1:]] != 0:
		unit = durationUnits[v[len(v)-1:]]
		v = v[:len(v)-1]
	}
	n, err := parseCount(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %w", s, err)
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, fmt.Errorf("invalid duration %q: too large", s)
	}
	return time.Duration(n) * unit, nil
}

// sizeUnits are the suffixes Synapse accepts for byte sizes (powers of 1024).
var sizeUnits = map[byte]int64{
	'K': 1 << 10,
	'M': 1 << 20,
	'G': 1 << 30,
	'T': 1 << 40,
}

// ParseSize parses a byte size the way Synapse does: "1024" is 1024 bytes;
// "10K", "50M", "1G" and "2T" are multiples of 1024. Lower-case suffixes are
// accepted as well since they cannot mean anything else.
func ParseSize(s string) (int64, error) {
	v := strings.TrimSpace(s)
	mult := int64(1)
	if v != "" {
		if m, ok := sizeUnits[upper(v[len(v)-1])]; ok {
			mult = m
			v = v[:len(v)-1]
		}
	}
	n, err := parseCount(v)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// parseCount parses the numeric part of a duration or size: decimal digits,
// optionally with Python-style "_" separators between them.
func parseCount(v string) (int64, error) {
	if v == "" {
		return 0, errors.New("missing number")
	}
	if v[0] == '_' || v[len(v)-1] == '_' || strings.Contains(v, "__") {
		return 0, errors.New("misplaced _")
	}
	digits := strings.ReplaceAll(v, "_", "")
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("expected a whole number with an optional unit, got %q", v)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, errors.New("number too large")
	}
	return n, nil
}
