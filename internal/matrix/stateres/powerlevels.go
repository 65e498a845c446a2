package stateres

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// power is a user's power level; inf marks a room creator in room version
// 12, whose level is infinitely high (MSC4289).
type power struct {
	inf   bool
	level int64
}

// greater reports whether p is a higher power level than q.
func (p power) greater(q power) bool {
	if p.inf || q.inf {
		return p.inf && !q.inf
	}
	return p.level > q.level
}

// creatorDefaultLevel is the room creator's power level when the room has
// no m.room.power_levels event (room versions 1–11).
const creatorDefaultLevel = 100

// TODO(lead): fold into authrules — this duplicates the power level
// parsing there (authrules.parseLevel is unexported at the time of writing).

// userLevel returns the power level content (of an m.room.power_levels
// event) gives to user: users[user], else users_default, else 0. Values are
// read as room version v accepts them; an invalid value counts as absent.
func userLevel(v roomversion.Version, content []byte, user string) int64 {
	var c struct {
		Users        map[string]json.RawMessage `json:"users"`
		UsersDefault json.RawMessage            `json:"users_default"`
	}
	if json.Unmarshal(content, &c) != nil {
		return 0
	}
	if raw, ok := c.Users[user]; ok {
		if n, ok := parseLevel(v, raw); ok {
			return n
		}
	}
	if n, ok := parseLevel(v, c.UsersDefault); ok {
		return n
	}
	return 0
}

// parseLevel decodes one power level value: a JSON integer; in room
// versions 1–9 also a string holding an integer (fragment
// v1-stringy-power-levels); in room versions 1–5, which do not require
// canonical JSON, also a float, truncated (fragment
// v1-floaty-power-levels).
func parseLevel(v roomversion.Version, raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	if raw[0] == '"' {
		if v.IntegerOnlyPowerLevels() {
			return 0, false
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		return parseStringLevel(s)
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, true
	}
	if v.StrictCanonicalJSON() {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	f = math.Trunc(f)
	if f >= math.MaxInt64 {
		return math.MaxInt64, true
	}
	if f <= math.MinInt64 {
		return math.MinInt64, true
	}
	return int64(f), true
}

// parseStringLevel parses a stringy power level: optional surrounding
// whitespace, an optional single sign, then base-10 digits.
func parseStringLevel(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return 0, true
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true // -(1<<63) wraps to MinInt64 as intended
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// senderPower returns the power level of ev's sender "when looking at
// [its] auth_events" (rooms/v2, reverse topological power ordering): the
// level the m.room.power_levels event among ev's auth events gives; with no
// such event, 100 for the room creator and 0 for anyone else. Room
// creators of room version 12 have infinite power (MSC4289).
func (r *resolver) senderPower(ev Event) power {
	sender := ev.Sender()
	if r.creators[sender] {
		return power{inf: true}
	}
	var pl, create Event
	for _, id := range r.auth(ev) {
		a := r.get(id)
		if a == nil {
			continue
		}
		k, ok := keyOf(a)
		if !ok {
			continue
		}
		switch k {
		case powerLevelsKey:
			if pl == nil {
				pl = a
			}
		case createKey:
			if create == nil {
				create = a
			}
		}
	}
	if pl != nil {
		return power{level: userLevel(r.v, pl.Content(), sender)}
	}
	if create != nil && !r.v.PrivilegedCreators() && creatorOf(r.v, create) == sender {
		return power{level: creatorDefaultLevel}
	}
	return power{}
}

// creatorOf returns the room creator named by a create event: its sender
// from room version 11 (MSC2175), content.creator before.
func creatorOf(v roomversion.Version, create Event) string {
	if v.CreatorInSender() {
		return create.Sender()
	}
	var c struct {
		Creator json.RawMessage `json:"creator"`
	}
	if json.Unmarshal(create.Content(), &c) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(c.Creator, &s) != nil {
		return ""
	}
	return s
}
