package authrules

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// Power levels are int64. Room creators in room version 12 have an
// infinitely high level (MSC4289), represented by infiniteLevel; parsed
// values are clamped below it so that no number written in an event
// reaches it.
const (
	infiniteLevel = math.MaxInt64
	maxLevel      = math.MaxInt64 - 1
	minLevel      = math.MinInt64 + 1
)

// Defaults from the m.room.power_levels schema and the server-server API
// definitions ("Invite Level, Kick Level, Ban Level, Redact Level").
const (
	defaultUsers        = 0
	defaultEvents       = 0
	defaultState        = 50
	defaultBan          = 50
	defaultKick         = 50
	defaultRedact       = 50
	defaultInvite       = 0
	defaultCreatorLevel = 100 // no m.room.power_levels, room versions 1–11
)

// The integer-valued top-level properties of m.room.power_levels, in the
// order the auth rules list them.
var scalarKeys = [...]string{
	"users_default", "events_default", "state_default", "ban", "redact", "kick", "invite",
}

func clamp(f float64) int64 {
	switch {
	case f >= float64(maxLevel):
		return maxLevel
	case f <= float64(minLevel):
		return minLevel
	}
	return int64(f)
}

// ParseLevel decodes one power level value as room version v accepts it:
//
//   - v10 onwards (MSC3667): a JSON integer only.
//   - v1–v9: also a string holding an integer (fragment
//     v1-stringy-power-levels): optional surrounding whitespace, an
//     optional single sign, base-10 digits with any leading zeroes.
//   - v1–v5, whose events need not be canonical JSON: also a float, with
//     the exponent applied and the fraction truncated; values outside the
//     binary64 range are invalid (fragment v1-floaty-power-levels).
//
// JSON null, booleans, objects and arrays are never valid.
func ParseLevel(v roomversion.Version, raw []byte) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	switch c := raw[0]; {
	case c == '"':
		if v.IntegerOnlyPowerLevels() {
			return 0, false
		}
		s, ok := rawjson.StringValue(raw)
		if !ok {
			return 0, false
		}
		return parseStringyInt(s)
	case c == '-' || c >= '0' && c <= '9':
		floaty := bytes.ContainsAny(raw, ".eE")
		if !floaty {
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err == nil {
				if n > maxLevel {
					n = maxLevel
				} else if n < minLevel {
					n = minLevel
				}
				return n, true
			}
			// Out of int64 range: only versions without canonical JSON
			// can carry such numbers, and there the float rule applies.
		}
		if v.StrictCanonicalJSON() {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		return clamp(math.Trunc(f)), true
	}
	return 0, false
}

// parseStringyInt parses the string form of a power level of room versions
// 1–9 (fragment v1-stringy-power-levels).
func parseStringyInt(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxUint64-9)/10 {
			n = math.MaxUint64 // saturate; clamped below
			continue
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > -minLevel {
			return minLevel, true
		}
		return -int64(n), true
	}
	if n > maxLevel {
		return maxLevel, true
	}
	return int64(n), true
}

// levelIn reads obj[key] as a power level, leniently: a missing or invalid
// value reports ok == false and the caller uses the default. This is how
// power levels already in the room state are read.
func levelIn(v roomversion.Version, obj []byte, key string) (int64, bool) {
	raw, ok := rawjson.Lookup(obj, key)
	if !ok {
		return 0, false
	}
	return ParseLevel(v, raw)
}
